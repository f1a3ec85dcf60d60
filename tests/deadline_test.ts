/**
 * Every Redis call has a deadline: through a `CLIENT PAUSE` longer than it,
 * pops, takes, releases, publishes and the readiness check all fail in
 * time, and what Redis does late is undone or kept, never lost.
 */
import assert from "node:assert/strict";
import { createLongPollHandler, MemoryStore } from "../mod.ts";
import { RedisStore } from "../src/store/redis.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { startRedisServer } from "../testing/redis_server.ts";
import { waitUntil } from "../testing/wait_until.ts";

/** How long `promise` takes to settle, and how. */
async function timed(promise: Promise<unknown>): Promise<{ ms: number; outcome: string }> {
  const started = performance.now();
  let outcome: string;
  try {
    outcome = `resolved ${JSON.stringify(await promise)}`;
  } catch (error) {
    outcome = (error as Error).message;
  }
  return { ms: performance.now() - started, outcome };
}

Deno.test(
  redisTest("deadlines: through a 4 s CLIENT PAUSE, every call fails within 2 s", async () => {
    await using redis = await startRedisServer();
    // The store's own default deadline (1.5 s), not the test fixture's.
    await using store = new RedisStore({ url: redis.url });
    assert.equal(await store.whenReady(5000), true);
    assert.equal(await store.checkReady(), true);
    await redis.cli("LPUSH", "Q/MSGp", "for the pop");
    await redis.cli("LPUSH", "Q/MSGt", "for the take");
    const leased = await store.take("t", { leaseMs: 60_000, now: Date.now(), id: "first" });
    assert.equal(leased?.message, "for the take");
    const handler = createLongPollHandler({ store, atLeastOnce: true, onError: () => {} });

    // Longer than the deadline of 1.5 s; it can't be lifted early (a paused
    // Redis holds the UNPAUSE too), so it runs its course.
    await redis.cli("CLIENT", "PAUSE", "4000", "ALL");
    const calls = {
      pop: timed(store.pop("p")),
      take: timed(store.take("t", { leaseMs: 60_000, now: Date.now() + 120_000, id: "again" })),
      release: timed(store.release("t", "first")),
      publish: timed(store.publish("q", "published late")),
      checkReady: timed(store.checkReady()),
      poll: timed(handler(new Request("http://x/?uid=t")).then((response) => response.status)),
    };
    const results: Record<string, { ms: number; outcome: string }> = {};
    for (const [name, call] of Object.entries(calls)) results[name] = await call;
    for (const [name, { ms }] of Object.entries(results)) {
      assert.ok(ms < 2000, `${name} settled in ${ms.toFixed(0)} ms`);
    }
    assert.deepEqual(
      Object.fromEntries(Object.entries(results).map(([name, { outcome }]) => [name, outcome])),
      {
        pop: "Cannot pop: Redis did not answer within 1500 ms",
        take: "Cannot take: Redis did not answer within 1500 ms",
        release: "Cannot release: Redis did not answer within 1500 ms",
        publish: "Cannot publish: Redis did not answer within 1500 ms",
        checkReady: "resolved false",
        poll: "resolved 503",
      },
    );
    // Redis runs the paused commands afterwards: the late pop is pushed
    // back, the late leases are released, the late publish stays.
    await waitUntil(
      async () => (await redis.cli("LRANGE", "Q/MSGp", "0", "-1")) === "for the pop",
      { what: "the late pop to be pushed back" },
    );
    assert.equal(await redis.cli("LRANGE", "Q/MSGq", "0", "-1"), "published late");
    await waitUntil(async () => {
      const taken = await store.take("t", { leaseMs: 60_000, now: Date.now(), id: "third" });
      return taken?.message === "for the take";
    }, { what: "the late take to be released" });
    assert.equal(await store.checkReady(), true);
  }),
);

Deno.test("deadlines: the memory store is ready until closed", async () => {
  const store = new MemoryStore();
  assert.equal(await store.checkReady(), true);
  await store.close();
  assert.equal(await store.checkReady(), false);
});
