/**
 * Presence across processes on one Redis: GET /presence answers from every
 * process's held polls, and a process killed without cleaning up drops out
 * once its heartbeat expires.
 */
import assert from "node:assert/strict";
import { redisTest } from "./_redis_gate.ts";
import { startRedisServer } from "./_support/redis_server.ts";
import { waitUntil } from "./_support/wait_until.ts";
import { startServe } from "./_serve_process.ts";

const TOKEN = "presence-token";

Deno.test(
  redisTest(
    "presence: three processes share it; a SIGKILLed one drops out after PRESENCE_TTL",
    async () => {
      await using redis = await startRedisServer();
      const env = {
        REDIS_URL: redis.url,
        PUBLISH_TOKEN: TOKEN,
        MIN_WAIT: "60",
        MAX_WAIT: "60",
        PRESENCE_TTL: "1",
      };
      await using a = await startServe(env);
      await using b = await startServe(env);
      await using c = await startServe(env);
      const ask = async (origin: string, uid: string) => {
        const response = await fetch(`${origin}/presence?uid=${uid}`, {
          headers: { Authorization: `Bearer ${TOKEN}` },
        });
        assert.equal(response.status, 200);
        return await response.json();
      };
      assert.deepEqual(await ask(a.origin, "u1"), { uid: "u1", present: false });
      const before = Date.now();
      const onB = fetch(`${b.origin}/?uid=u1`);
      const onC = new AbortController();
      const onCAnswer = fetch(`${c.origin}/?uid=u2`, { signal: onC.signal }).catch(() => "gone");
      await waitUntil(async () => (await ask(a.origin, "u1")).present, {
        what: "u1 to be present, as seen from a",
      });
      await waitUntil(async () => (await ask(a.origin, "u2")).present, {
        what: "u2 to be present, as seen from a",
      });
      const seen = await ask(a.origin, "u1");
      const since = Date.parse(seen.since);
      assert.ok(since >= before - 1000 && since <= Date.now(), seen.since);
      // The poll ends with its message: u1 is no longer present.
      await redis.cli("LPUSH", "Q/MSGu1", "m");
      assert.equal(await (await onB).text(), "m");
      await waitUntil(async () => !(await ask(c.origin, "u1")).present, {
        what: "u1 to be absent",
      });
      // c dies without cleaning up: u2 stays present until its heartbeat expires.
      assert.equal(await c.stop("SIGKILL"), 137);
      assert.equal(await onCAnswer, "gone");
      assert.equal((await ask(a.origin, "u2")).present, true, "right after the kill");
      const killed = Date.now();
      await waitUntil(async () => !(await ask(b.origin, "u2")).present, {
        what: "u2 to be absent after PRESENCE_TTL",
      });
      const gone = Date.now() - killed;
      assert.ok(gone < 3000, `dropped out ${gone} ms after the kill`);
      // The dead process's field is cleaned up by the lookup.
      assert.equal(await redis.cli("HLEN", "{Q/MSGu2}\x1fpresence"), "0");
    },
  ),
);
