/**
 * Instant wake against a real redis-server: keyspace notifications for
 * plain LPUSH producers, the wake channel for publish(), the races that
 * could lose a wake, and exactly-once delivery across processes.
 */
import assert from "node:assert/strict";
import { createLongPollHandler, type LongPollHandler } from "../mod.ts";
import { spyOn } from "../testing/spy_store.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { connectStore } from "../testing/store_fixtures.ts";
import { startRedisServer } from "../testing/redis_server.ts";
import { startServe } from "../testing/serve_process.ts";
import { sleep, waitUntil } from "../testing/wait_until.ts";
import { waitUntilHeld } from "../testing/held_polls.ts";

/** The answer, or a failure once `ms` pass: a poll held for its 60 s wait fails the test. */
async function answeredWithin(poll: Promise<Response>, ms: number): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await (await Promise.race([poll, late])).text();
  } finally {
    clearTimeout(timer);
  }
}

async function heldPoll(
  handler: LongPollHandler,
  uid: string,
): Promise<{ poll: Promise<Response> }> {
  const poll = handler(new Request(`http://x/?uid=${encodeURIComponent(uid)}`));
  await waitUntil(() => handler.held >= 1, { what: `the poll of "${uid}" to be held` });
  return { poll };
}

Deno.test(
  redisTest(
    "wake: a plain LPUSH wakes a held poll long before its next scheduled poll",
    async () => {
      await using redis = await startRedisServer();
      await using store = await connectStore(redis);
      assert.equal(store.notificationsOn, true);
      const handler = createLongPollHandler({ store, minWait: 60, maxWait: 60 });
      const { poll } = await heldPoll(handler, "42");
      await redis.cli("LPUSH", "Q/MSG42", "now");
      assert.equal(await answeredWithin(poll, 5000), "now");
    },
  ),
);

Deno.test(
  redisTest("wake: notification flags are added to those already set, never removed", async () => {
    await using redis = await startRedisServer();
    await redis.cli("CONFIG", "SET", "notify-keyspace-events", "Kx");
    await using _store = await connectStore(redis); // it sets the flags when it connects
    const flags = (await redis.cli("CONFIG", "GET", "notify-keyspace-events")).split("\n")[1] ??
      "";
    for (const flag of ["K", "x", "E", "l"]) {
      assert.ok(flags.includes(flag), `"${flags}" has ${flag}`);
    }
  }),
);

Deno.test(
  redisTest(
    "wake: where CONFIG is forbidden, it says so; publish() still wakes at once",
    async () => {
      await using redis = await startRedisServer({ extraArgs: ["--rename-command", "CONFIG", ""] });
      const warnings: string[] = [];
      await using store = await connectStore(redis, {
        onWarning: (message: string) => warnings.push(message),
      });
      await waitUntil(() => warnings.length === 1, { what: "the warning" });
      assert.match(warnings[0], /Cannot turn on keyspace notifications/);
      assert.match(warnings[0], /notify-keyspace-events El/);
      assert.equal(store.notificationsOn, false);
      const handler = createLongPollHandler({ store, minWait: 60, maxWait: 60 });
      const { poll } = await heldPoll(handler, "7");
      await store.publish("7", "through the wake channel");
      assert.equal(await answeredWithin(poll, 5000), "through the wake channel");
    },
  ),
);

Deno.test(
  redisTest(
    "wake: with notifications and the wake channel off, the backoff schedule still delivers",
    async () => {
      await using redis = await startRedisServer();
      await using store = await connectStore(redis, { notifications: "off" });
      const flags = (await redis.cli("CONFIG", "GET", "notify-keyspace-events")).split("\n")[1] ??
        "";
      assert.equal(flags, "", "Redis was left alone");
      const handler = createLongPollHandler({ store, minWait: 0.4, maxWait: 10 });
      const started = performance.now();
      const { poll } = await heldPoll(handler, "safety");
      // A plain LPUSH publishes no wake, and no notification is on.
      await redis.cli("LPUSH", "Q/MSGsafety", "late but delivered");
      assert.equal(await answeredWithin(poll, 5000), "late but delivered");
      const elapsed = performance.now() - started;
      assert.ok(
        elapsed >= 390,
        `delivered by the scheduled poll at 0.4 s, not earlier (${elapsed} ms)`,
      );
    },
  ),
);

Deno.test(redisTest("wake: a push that fails wakes nobody", async () => {
  await using redis = await startRedisServer();
  await using store = await connectStore(redis);
  await redis.cli("SET", "Q/MSGbad", "not a list");
  let wakes = 0;
  store.watch("bad", { wake: () => wakes++ });
  await assert.rejects(store.publish("bad", "lost?"), /"Q\/MSGbad" holds a string, not a list/);
  // A wake would arrive within milliseconds; give it ample time.
  await store.publish("good", "x");
  await sleep(200);
  assert.equal(wakes, 0);
}));

Deno.test(
  redisTest("wake: a push between a poll's RPOP and its wait is delivered at once", async () => {
    await using redis = await startRedisServer();
    await using redisStore = await connectStore(redis);
    const store = spyOn(redisStore);
    const handler = createLongPollHandler({ store, minWait: 60, maxWait: 60 });
    const { paused, release } = store.pauseNextPop();
    const poll = handler(new Request("http://x/?uid=race"));
    assert.equal(await paused, null, "the first RPOP found nothing");
    // The push lands after that RPOP, and its notification arrives while
    // the poll has not yet seen the empty answer.
    let notified = false;
    redisStore.watch("race", { wake: () => (notified = true) });
    await redis.cli("LPUSH", "Q/MSGrace", "in the gap");
    await waitUntil(() => notified, { what: "the notification" });
    release();
    assert.equal(await answeredWithin(poll, 5000), "in the gap");
  }),
);

Deno.test(
  redisTest("wake: after the subscriber is killed, held uids are checked again", async () => {
    await using redis = await startRedisServer();
    await using store = await connectStore(redis);
    const handler = createLongPollHandler({ store, minWait: 60, maxWait: 60 });
    const { poll } = await heldPoll(handler, "gap");
    // Kill the subscriber and push in one round trip, so the push falls in
    // the gap before it reconnects: its notification is lost.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: redis.port });
    await conn.write(new TextEncoder().encode(
      "CLIENT KILL TYPE pubsub\r\nLPUSH Q/MSGgap during-the-gap\r\nQUIT\r\n",
    ));
    const reply = new TextDecoder().decode(
      await new Response(conn.readable).arrayBuffer(),
    );
    assert.match(reply, /^:1\r\n:1\r\n\+OK/, "one subscriber killed, one push");
    assert.equal(await answeredWithin(poll, 5000), "during-the-gap");
  }),
);

Deno.test(
  redisTest(
    "wake: 3 processes, 1,000 uids held on each, one LPUSH per uid: each delivered exactly once",
    async () => {
      await using redis = await startRedisServer();
      const env = { REDIS_URL: redis.url, MIN_WAIT: "60", MAX_WAIT: "60" };
      await using a = await startServe(env);
      await using b = await startServe(env);
      await using c = await startServe(env);
      const servers = [a, b, c];
      const uids = Array.from({ length: 1000 }, (_, i) => `user${i}`);
      const clients = new AbortController();
      const delivered: string[] = [];
      const polls = servers.flatMap((server) =>
        uids.map(async (uid) => {
          try {
            const response = await fetch(`${server.origin}/?uid=${uid}`, {
              signal: clients.signal,
            });
            const body = await response.text();
            if (response.status === 200) delivered.push(`${uid}=${body}`);
          } catch {
            // aborted at the end: it got nothing
          }
        })
      );
      await waitUntilHeld(servers, 3000, { what: "3,000 held polls", timeoutMs: 30_000 });
      // One plain client, one LPUSH per uid, pipelined.
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: redis.port });
      const commands = uids.map((uid) => {
        const key = `Q/MSG${uid}`;
        const value = `m-${uid}`;
        return `*3\r\n$5\r\nLPUSH\r\n$${key.length}\r\n${key}\r\n$${value.length}\r\n${value}\r\n`;
      });
      await conn.write(new TextEncoder().encode(commands.join("") + "*1\r\n$4\r\nQUIT\r\n"));
      await new Response(conn.readable).arrayBuffer();
      await waitUntil(() => delivered.length >= 1000, {
        what: "1,000 deliveries",
        timeoutMs: 30_000,
      });
      await waitUntilHeld(servers, 2000, { what: "the losers to wait again", timeoutMs: 10_000 });
      clients.abort();
      await Promise.all(polls);
      assert.equal(delivered.length, 1000, "no duplicates");
      assert.deepEqual(new Set(delivered), new Set(uids.map((uid) => `${uid}=m-${uid}`)));
      // Only presence's hashes and heartbeats may be left: no list.
      const lists = await redis.cli(
        "EVAL",
        "local n = 0 for _, k in ipairs(redis.call('KEYS', '*')) do " +
          "if redis.call('TYPE', k).ok == 'list' then n = n + 1 end end return n",
        "0",
      );
      assert.equal(lists, "0", "every list is empty");
    },
  ),
);

Deno.test(
  redisTest(
    "wake: notifications turned off by an operator are turned back on, warned and counted",
    async () => {
      await using redis = await startRedisServer();
      const warnings: string[] = [];
      await using store = await connectStore(redis, {
        notificationsCheckMs: 100,
        onWarning: (warning: string) => warnings.push(warning),
      });
      const handler = createLongPollHandler({ store, minWait: 60, maxWait: 60 });
      const { poll } = await heldPoll(handler, "off");
      await redis.cli("CONFIG", "SET", "notify-keyspace-events", "");
      // Pushed while they are off: heard by the check that follows.
      await redis.cli("LPUSH", "Q/MSGoff", "while off");
      await waitUntil(() => store.notificationsRestored === 1, { what: "the flags to be back" });
      const flags = (await redis.cli("CONFIG", "GET", "notify-keyspace-events")).split("\n")[1];
      assert.ok(flags.includes("E") && flags.includes("l"), `flags "${flags}"`);
      assert.deepEqual(warnings, [
        'Keyspace notifications were turned off on Redis ("notify-keyspace-events" was ""); ' +
        "turned them back on. Plain LPUSH producers were heard only on the backoff schedule meanwhile",
      ]);
      assert.equal(await answeredWithin(poll, 5000), "while off");
      // And heard at once again.
      const next = await heldPoll(handler, "off");
      await redis.cli("LPUSH", "Q/MSGoff", "after");
      assert.equal(await answeredWithin(next.poll, 5000), "after");
      assert.equal(store.notificationsRestored, 1);
    },
  ),
);
