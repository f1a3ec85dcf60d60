/**
 * Queues that can't grow without bound: queueTtlSeconds expires a uid's
 * queue after its last push, queueMax drops the oldest messages beyond it,
 * counted; what is in flight outlives its lease, then goes too. On the
 * memory store, on one Redis (for publish and for plain LPUSH producers),
 * and on a real cluster.
 */
import assert from "node:assert/strict";
import { MemoryStore } from "../mod.ts";
import { RedisStore, sideKey } from "../src/store/redis.ts";
import { PushLimitsQueue } from "../src/store/push_limits_queue.ts";
import { connectStore } from "../testing/store_fixtures.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { startRedisCluster, startRedisServer } from "../testing/redis_server.ts";
import { sleep, waitUntil } from "../testing/wait_until.ts";
import { startServe } from "../testing/serve_process.ts";
import { TEST_SECRET } from "../testing/secrets.ts";

function trimCounter() {
  const trimmed: [string, number][] = [];
  const total = () => trimmed.reduce((sum, [, dropped]) => sum + dropped, 0);
  return { trimmed, total, onTrimmed: (uid: string, n: number) => void trimmed.push([uid, n]) };
}

Deno.test("limits: memory store: queueMax drops the oldest and counts them", async () => {
  const counter = trimCounter();
  const store = new MemoryStore({ queueMax: 3, onTrimmed: counter.onTrimmed });
  for (const message of ["1", "2", "3", "4", "5"]) await store.publish("u", message);
  assert.deepEqual(counter.trimmed, [["u", 1], ["u", 1]]);
  assert.deepEqual([await store.pop("u"), await store.pop("u"), await store.pop("u")], [
    "3",
    "4",
    "5",
  ]);
  await store.close();
});

Deno.test("limits: memory store: queueTtlSeconds expires queues after their last push", async () => {
  let now = 0;
  const store = new MemoryStore({ queueTtlSeconds: 10, now: () => now });
  await store.publish("idle", "a");
  await store.publish("busy", "b");
  now = 5_000;
  await store.publish("busy", "c"); // renews "busy" only
  now = 9_999;
  assert.deepEqual([store.size("idle"), store.size("busy")], [1, 2]);
  now = 10_000;
  assert.equal(await store.pop("other"), null); // any call sweeps
  assert.deepEqual([store.size("idle"), store.size("busy")], [0, 2]);
  now = 15_000;
  assert.equal(await store.pop("busy"), null);
  await store.close();
});

Deno.test("limits: memory store: a leased message outlives its lease, then goes", async () => {
  let now = 0;
  const store = new MemoryStore({ queueTtlSeconds: 10, now: () => now });
  await store.publish("l", "leased");
  assert.equal((await store.take("l", { leaseMs: 60_000, now, id: "a" }))?.message, "leased");
  now = 69_000; // the queue expired long ago; the lease ran out at 60 s
  const again = await store.take("l", { leaseMs: 60_000, now, id: "b" });
  assert.deepEqual([again?.message, again?.deliveries], ["leased", 2]);
  now = 69_000 + 70_000;
  assert.equal(await store.take("l", { leaseMs: 60_000, now, id: "c" }), null);
  assert.equal(store.inFlight("l"), 0);
  await store.close();
});

Deno.test("limits: out of range limits are refused at construction", () => {
  assert.throws(() => new MemoryStore({ queueMax: 0 }), {
    name: "RangeError",
    message: 'Cannot create MemoryStore: "queueMax" must be a whole number of at least 1, got 0',
  });
  assert.throws(
    () => new RedisStore({ queueTtlSeconds: 1.5 }),
    /Cannot create RedisStore: "queueTtlSeconds" must be a whole number of at least 1, got 1.5/,
  );
});

Deno.test(redisTest("limits: redis: publish and plain LPUSH set the TTL", async () => {
  await using redis = await startRedisServer();
  await using store = await connectStore(redis, { queueTtlSeconds: 1 });
  await store.publish("p", "published");
  const ttl = Number(await redis.cli("PTTL", "Q/MSGp"));
  assert.ok(ttl > 0 && ttl <= 1000, `PTTL ${ttl}`);
  await redis.cli("LPUSH", "Q/MSGplain", "pushed");
  await waitUntil(async () => {
    return Number(await redis.cli("PTTL", "Q/MSGplain")) > 0;
  }, { what: "the TTL of a plain push" });
  await sleep(1200);
  assert.equal(await redis.cli("EXISTS", "Q/MSGp", "Q/MSGplain"), "0");
}));

Deno.test(
  redisTest("limits: redis: queueMax trims publish and plain LPUSH, counted once", async () => {
    await using redis = await startRedisServer();
    const counter = trimCounter();
    await using store = await connectStore(redis, { queueMax: 3, onTrimmed: counter.onTrimmed });
    // A second process hears the same pushes: the first to trim counts.
    const other = trimCounter();
    await using _second = await connectStore(redis, { queueMax: 3, onTrimmed: other.onTrimmed });
    for (const message of ["1", "2", "3", "4", "5"]) await store.publish("m", message);
    assert.deepEqual(await redis.cli("LRANGE", "Q/MSGm", "0", "-1"), "5\n4\n3");
    await redis.cli("LPUSH", "Q/MSGm", "6", "7", "8", "9");
    await waitUntil(async () => (await redis.cli("LLEN", "Q/MSGm")) === "3", { what: "the trim" });
    await sleep(100); // any double count would be in by now
    assert.equal(counter.total() + other.total(), 6);
    assert.deepEqual(await redis.cli("LRANGE", "Q/MSGm", "0", "-1"), "9\n8\n7");
    assert.equal(await store.pop("m"), "7");
  }),
);

Deno.test(
  redisTest(
    "limits: redis: in-flight keys outlive the lease, then expire; nothing leased lost",
    async () => {
      await using redis = await startRedisServer();
      await using store = await connectStore(redis, { queueTtlSeconds: 1 });
      await store.publish("f", "leased");
      const first = await store.take("f", { leaseMs: 2000, now: Date.now(), id: "a" });
      assert.equal(first?.message, "leased");
      for (const kind of ["inflight", "leases"] as const) {
        const ttl = Number(await redis.cli("PTTL", sideKey("Q/MSGf", kind)));
        assert.ok(ttl > 2000 && ttl <= 3000, `${kind}: PTTL ${ttl}`);
      }
      await sleep(1500); // past the queue's TTL, within the lease's
      const again = await store.take("f", { leaseMs: 200, now: Date.now() + 2000, id: "b" });
      assert.deepEqual([again?.message, again?.deliveries], ["leased", 2]);
      // Renewed for the new lease: 1 s + 1 s, then gone.
      await waitUntil(async () =>
        (await redis.cli(
          "EXISTS",
          sideKey("Q/MSGf", "inflight"),
          sideKey("Q/MSGf", "leases"),
        )) ===
          "0", { what: "the in-flight keys to expire", timeoutMs: 5000 });
    },
  ),
);

Deno.test(
  redisTest(
    "limits: redis: a flood of plain LPUSHes to 20,000 uids gives every queue its TTL",
    async () => {
      await using redis = await startRedisServer();
      await using _store = await connectStore(redis, { queueTtlSeconds: 600 });
      // One script, 20,000 pushes: each is a keyspace notification the store hears.
      await redis.cli(
        "EVAL",
        "for i = 1, 20000 do redis.call('LPUSH', 'Q/MSGflood' .. i, 'x') end return 1",
        "0",
      );
      const withoutTtl = () =>
        redis.cli(
          "EVAL",
          `local n, cursor = 0, "0"
          repeat
            local page = redis.call("SCAN", cursor, "MATCH", "Q/MSGflood*", "COUNT", 5000)
            cursor = page[1]
            for _, key in ipairs(page[2]) do
              if redis.call("TTL", key) == -1 then n = n + 1 end
            end
          until cursor == "0"
          return n`,
          "0",
        );
      await waitUntil(async () => (await withoutTtl()) === "0", {
        what: "every flooded queue to get its TTL",
        timeoutMs: 20_000,
      });
      assert.equal(
        await redis.cli("EVAL", "return #redis.call('KEYS', 'Q/MSGflood*')", "0"),
        "20000",
      );
    },
  ),
);

Deno.test(redisTest("limits: redis cluster: TTL and trim on every master", async () => {
  await using cluster = await startRedisCluster();
  const counter = trimCounter();
  await using store = new RedisStore({
    nodes: cluster.urls,
    queueTtlSeconds: 60,
    queueMax: 2,
    onTrimmed: counter.onTrimmed,
  });
  assert.equal(await store.whenReady(10_000), true);
  const uids = Array.from({ length: 12 }, (_, i) => `c${i}`);
  for (const uid of uids) {
    await store.publish(uid, "a");
    await cluster.cli("LPUSH", `Q/MSG${uid}`, "b", "c");
  }
  await waitUntil(() => counter.total() === uids.length, { what: "every trim" });
  for (const uid of uids) {
    assert.equal(await cluster.cli("LRANGE", `Q/MSG${uid}`, "0", "-1"), "c\nb", uid);
    const ttl = Number(await cluster.cli("TTL", `Q/MSG${uid}`));
    assert.ok(ttl > 50 && ttl <= 60, `${uid}: TTL ${ttl}`);
  }
  const leased = await store.take("c0", { leaseMs: 5000, now: Date.now(), id: "x" });
  assert.equal(leased?.message, "b");
  const ttl = Number(await cluster.cli("TTL", sideKey("Q/MSGc0", "leases")));
  assert.ok(ttl > 60 && ttl <= 65, `in flight: TTL ${ttl}`);
}));

Deno.test(
  redisTest(
    "limits: redis: one store-wide truth: the first process sets them, the next adopts and counts, another refuses",
    async () => {
      await using redis = await startRedisServer();
      const env = { REDIS_URL: redis.url, PUBLISH_TOKEN: TEST_SECRET };
      const first = await startServe({ ...env, QUEUE_MAX: "2" });
      assert.match(first.output(), /queue limits: QUEUE_TTL off, QUEUE_MAX 2 \(in force/);
      await using second = await startServe(env);
      assert.match(second.output(), /queue limits: QUEUE_TTL off, QUEUE_MAX 2 \(in force/);
      const ready = await (await fetch(`${second.origin}/readyz`)).json();
      assert.deepEqual(ready.queueLimits, { ttlSeconds: 0, max: 2 });
      // Only the process without limits of its own is left: it applies and counts them.
      assert.equal(await first.stop(), 0);
      for (const message of ["1", "2", "3", "4", "5"]) {
        const published = await fetch(`${second.origin}/publish?uid=shared`, {
          method: "POST",
          headers: { Authorization: `Bearer ${TEST_SECRET}` },
          body: message,
        });
        assert.equal(published.status, 202, await published.text());
      }
      assert.equal(await redis.cli("LRANGE", "Q/MSGshared", "0", "-1"), "5\n4");
      const metrics = await (await fetch(`${second.origin}/metrics`)).text();
      assert.match(metrics, /^longpoll_trimmed_total 3$/m);
      // A process given other limits refuses to start, naming both and the way to change them.
      await assert.rejects(
        startServe({ ...env, QUEUE_MAX: "5" }),
        (error: Error) => {
          assert.match(
            error.message,
            /ERROR: Cannot apply the queue limits: this process was given TTL "0" and max "5", but those in force for prefix "Q\/MSG" are TTL "0" and max "2"/,
          );
          assert.match(error.message, /redis-cli HSET \$'\{Q\/MSG\}\\x1flimits' ttl 0 max 5/);
          assert.doesNotMatch(error.message, /listening on/);
          return true;
        },
      );
    },
  ),
);

Deno.test(
  redisTest(
    "limits: redis: a change made in Redis reaches every store; other limits are a conflict",
    async () => {
      await using redis = await startRedisServer();
      const warnings: string[] = [];
      const options = { queueLimitsCheckMs: 50, onWarning: (w: string) => void warnings.push(w) };
      await using first = await connectStore(redis, { ...options, queueTtlSeconds: 60 });
      await using second = await connectStore(redis, options);
      assert.deepEqual(second.queueLimits, { ttlSeconds: 60, max: 0 });
      assert.equal(first.queueLimitsConflict, undefined);
      await redis.cli("HSET", sideKey("Q/MSG", "limits"), "ttl", "0", "max", "1");
      await waitUntil(() => first.queueLimits.max === 1 && second.queueLimits.max === 1, {
        what: "both stores adopt the limits set in Redis",
      });
      assert.deepEqual(first.queueLimits, { ttlSeconds: 0, max: 1 });
      assert.match(
        first.queueLimitsConflict ?? "",
        /given TTL "60" and max "0", but those in force/,
      );
      assert.equal(second.queueLimitsConflict, undefined);
      assert.equal(warnings.length, 1, warnings.join("\n"));
      for (const message of ["1", "2", "3"]) await second.publish("changed", message);
      assert.equal(await redis.cli("LRANGE", "Q/MSGchanged", "0", "-1"), "3");
      assert.equal(await redis.cli("TTL", "Q/MSGchanged"), "-1");
      // Limits that can't be read are said, as a conflict: a server refuses to start on it.
      await redis.cli("DEL", sideKey("Q/MSG", "limits"));
      await redis.cli("SET", sideKey("Q/MSG", "limits"), "x");
      const unread: string[] = [];
      await using third = new RedisStore({ url: redis.url, onWarning: (w) => unread.push(w) });
      assert.equal(await third.whenReady(5000), true);
      assert.match(
        third.queueLimitsConflict ?? "",
        /^Cannot read the queue limits: ".*" holds a string, not a hash$/,
      );
      assert.equal(unread.length, 1, unread.join("\n"));
    },
  ),
);

Deno.test(
  redisTest(
    "limits: redis: lists pushed while notifications were off get their limits once they are back",
    async () => {
      await using redis = await startRedisServer();
      const counter = trimCounter();
      await using store = await connectStore(redis, {
        queueTtlSeconds: 600,
        queueMax: 2,
        notificationsCheckMs: 300,
        onTrimmed: counter.onTrimmed,
        onWarning: () => {},
      });
      await redis.cli("CONFIG", "SET", "notify-keyspace-events", "");
      // More lists than one SCAN page, a list over queueMax, and keys the sweep must leave alone.
      await redis.cli(
        "EVAL",
        "for i = 1, 450 do redis.call('LPUSH', 'Q/MSGoff' .. i, 'x') end " +
          "redis.call('LPUSH', 'Q/MSGoff1', 'y', 'z', 'w') " +
          "redis.call('LPUSH', 'other', 'x') redis.call('SET', 'Q/MSGstring', 'x')",
        "0",
      );
      assert.equal(store.notificationsRestored, 0, "pushed while the flags were off");
      await waitUntil(() => store.notificationsRestored === 1, { what: "the flags to be back" });
      const ttlsOf = async () => {
        const script =
          "local t = {} for i = 1, 450 do t[i] = redis.call('TTL', 'Q/MSGoff' .. i) end " +
          "return t";
        return (await redis.cli("EVAL", script, "0")).split("\n").map(Number);
      };
      await waitUntil(async () => (await ttlsOf()).every((ttl) => ttl > 0), {
        what: "every list pushed while off to have its TTL",
      });
      assert.ok((await ttlsOf()).every((ttl) => ttl <= 600));
      assert.equal(await redis.cli("LRANGE", "Q/MSGoff1", "0", "-1"), "w\nz");
      assert.equal(counter.total(), 2);
      assert.equal(await redis.cli("TTL", "other"), "-1");
      assert.equal(await redis.cli("TTL", "Q/MSGstring"), "-1");
    },
  ),
);

/** A PushLimitsQueue whose applications finish when the test says. */
function heldApplications(maxInFlight: number) {
  const started: string[] = [];
  const finish = new Map<string, Array<(failed?: boolean) => void>>();
  let inFlight = 0;
  let mostInFlight = 0;
  const queue = new PushLimitsQueue({
    maxInFlight,
    apply: (uid) => {
      started.push(uid);
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      return new Promise<void>((resolve, reject) => {
        const list = finish.get(uid) ?? [];
        list.push((failed) => {
          inFlight--;
          if (failed) reject(new Error(`Cannot apply the limits of "${uid}"`));
          else resolve();
        });
        finish.set(uid, list);
      });
    },
  });
  /** Ends the oldest application of `uid`, then lets the queue move on. */
  const end = async (uid: string, failed = false) => {
    const next = finish.get(uid)?.shift();
    assert.ok(next !== undefined, `no application of "${uid}" in flight`);
    next(failed);
    await sleep(0);
  };
  return { queue, started, end, mostInFlight: () => mostInFlight };
}

Deno.test("limits: pushes heard are applied at most maxInFlight at a time, each waiting uid once", async () => {
  const { queue, started, end, mostInFlight } = heldApplications(2);
  for (const uid of ["a", "b", "c", "d", "c", "d"]) queue.pushed(uid);
  assert.deepEqual(started, ["a", "b"]);
  await end("a");
  await end("b");
  assert.deepEqual(started, ["a", "b", "c", "d"]);
  await end("c", true); // a failure does not stop the others
  await end("d");
  await queue.idle();
  assert.equal(mostInFlight(), 2);
});

Deno.test("limits: a push heard while its uid is in flight is applied again after", async () => {
  const { queue, started, end } = heldApplications(4);
  queue.pushed("a");
  queue.pushed("a"); // during the first: the last push must count
  queue.pushed("a");
  assert.deepEqual(started, ["a"]);
  let idle = false;
  const settled = queue.idle().then(() => (idle = true));
  await end("a");
  assert.deepEqual(started, ["a", "a"]);
  assert.equal(idle, false);
  await end("a");
  await settled;
  assert.deepEqual(started, ["a", "a"]);
});
