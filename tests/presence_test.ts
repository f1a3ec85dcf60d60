/**
 * Presence across processes on one Redis: GET /presence answers from every
 * process's held polls, and a process killed without cleaning up drops out
 * once its heartbeat expires.
 */
import assert from "node:assert/strict";
import { redisTest } from "../testing/redis_gate.ts";
import { startRedisCluster, startRedisServer } from "../testing/redis_server.ts";
import { startServe } from "../testing/serve_process.ts";
import { RedisPresence, RedisStore, sideKey } from "../src/store/redis.ts";
import { connectStore } from "../testing/store_fixtures.ts";
import { sleep, waitUntil } from "../testing/wait_until.ts";
import { TEST_SECRET } from "../testing/secrets.ts";

const TOKEN = TEST_SECRET;

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
        PRESENCE_LINGER: "1",
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
      // The poll ends with its message: u1 lingers for PRESENCE_LINGER, then is absent.
      await redis.cli("LPUSH", "Q/MSGu1", "m");
      assert.equal(await (await onB).text(), "m");
      const answered = Date.now();
      assert.equal((await ask(c.origin, "u1")).present, true, "right after the answer");
      await waitUntil(async () => !(await ask(c.origin, "u1")).present, {
        what: "u1 to be absent",
      });
      const lingered = Date.now() - answered;
      assert.ok(lingered >= 900 && lingered < 5000, `absent ${lingered} ms after the answer`);
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

/**
 * A RedisPresence on a client that records the scripts it sends (after its
 * first heartbeat) and answers each at once.
 */
function recordedPresence(options: { batch: boolean; flushMs?: number; aliveMs?: number }) {
  const sent: { keys: string[]; arguments: string[] }[] = [];
  const client = {
    eval(_script: string, options: { keys: string[]; arguments: string[] }) {
      sent.push(options);
      return Promise.resolve(1);
    },
  };
  const presence = new RedisPresence({
    client,
    keyPrefix: "Q/MSG",
    onError: () => {},
    flushMs: 0,
    ...options,
  });
  sent.length = 0; // the first heartbeat
  return { sent, presence };
}

Deno.test("presence: an alive time beyond the longest native timer beats no faster for it", async () => {
  // PRESENCE_TTL of 100 days: a beat every third of it is 33 days, past the
  // 2^31 - 1 ms a runtime timer takes, which would fire every millisecond.
  const { sent, presence } = recordedPresence({ batch: true, aliveMs: 100 * 86_400_000 });
  await sleep(200);
  await presence.close();
  assert.equal(sent.length, 1, `${sent.length - 1} heartbeats in 200 ms, then the close`);
});

Deno.test("presence: the entries and exits gathered over flushMs go out in one command each", async () => {
  const { sent, presence } = recordedPresence({ batch: true, flushMs: 300 });
  presence.enter("a", 1);
  presence.enter("b", 2);
  await sleep(5);
  presence.enter("c", 3);
  presence.leave("c"); // the last of a uid's counts: c only leaves
  presence.leave("d");
  assert.equal(sent.length, 0, "nothing is sent before flushMs");
  await waitUntil(() => sent.length >= 2, { what: "the entries and the exits sent" });
  await sleep(5);
  const [entries, exits] = sent;
  assert.equal(sent.length, 2);
  assert.deepEqual(entries.keys, [sideKey("Q/MSGa", "presence"), sideKey("Q/MSGb", "presence")]);
  assert.deepEqual(entries.arguments, [presence.processId, "1", "2"]);
  assert.deepEqual(exits.keys, [sideKey("Q/MSGc", "presence"), sideKey("Q/MSGd", "presence")]);
  await presence.close();
});

Deno.test("presence: on a cluster, each entry goes alone, since its key has its own slot", async () => {
  const { sent, presence } = recordedPresence({ batch: false });
  presence.enter("a", 1);
  presence.enter("b", 2);
  await sleep(5);
  assert.deepEqual(sent.map((options) => options.keys.length), [1, 1]);
  assert.deepEqual(sent.map((options) => options.arguments[1]), ["1", "2"]);
  await presence.close();
});

Deno.test(
  redisTest("presence: a batch of entries and exits lands on Redis as queued", async () => {
    await using redis = await startRedisServer();
    await using store = await connectStore(redis);
    const presence = store.presence();
    for (let i = 0; i < 100; i++) presence.enter(`u${i}`, 1000 + i);
    for (let i = 0; i < 50; i++) presence.leave(`u${i}`);
    await waitUntil(async () => (await presence.lookup("u99")).present, { what: "u99 present" });
    assert.deepEqual(await presence.lookup("u99"), { present: true, since: 1099 });
    assert.deepEqual(await presence.lookup("u0"), { present: false });
    assert.equal(await redis.cli("EXISTS", sideKey("Q/MSGu49", "presence")), "0");
  }),
);

Deno.test(
  redisTest(
    "presence: on a real cluster, entries of one turn over many slots all land",
    async () => {
      await using cluster = await startRedisCluster();
      await using store = new RedisStore({ nodes: cluster.urls });
      assert.equal(await store.whenReady(10_000), true);
      const presence = store.presence();
      const uids = Array.from({ length: 12 }, (_, i) => `c${i}`);
      for (const uid of uids) presence.enter(uid, 5000);
      await waitUntil(async () => {
        const found = await Promise.all(uids.map((uid) => presence.lookup(uid)));
        return found.every((info) => info.present);
      }, { what: "every uid present on the cluster" });
    },
  ),
);

Deno.test("presence: a turn of 2,500 entries goes in runs of at most 1,000 keys", async () => {
  const { sent, presence } = recordedPresence({ batch: true });
  for (let i = 0; i < 2500; i++) presence.enter(`u${i}`, i);
  await sleep(5);
  assert.deepEqual(sent.map((options) => options.keys.length), [1000, 1000, 500]);
  assert.deepEqual(sent[2].arguments.slice(0, 2), [presence.processId, "2000"]);
  await presence.close();
});
