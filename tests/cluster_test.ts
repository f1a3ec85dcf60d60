/**
 * Redis Cluster: plain LPUSH producers wake polls whichever master owns the
 * key, at-least-once works (queue and in-flight data share a slot), and
 * `deno task serve` takes a comma-separated REDIS_URL.
 */
import assert from "node:assert/strict";
import { createLongPollHandler } from "../mod.ts";
import { RedisStore, sideKey } from "../src/store/redis.ts";
import { type RedisCluster, startRedisCluster } from "../testing/redis_server.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { waitUntil } from "../testing/wait_until.ts";
import { startServe } from "../testing/serve_process.ts";
import { waitUntilHeld } from "../testing/held_polls.ts";

/** The port of the master that owns `key`: the others answer MOVED. */
async function ownerOf(cluster: RedisCluster, key: string): Promise<number> {
  for (const node of cluster.nodes) {
    if (!(await node.cli("EXISTS", key)).includes("MOVED")) return node.port;
  }
  throw new Error(`no node owns ${key}`);
}

Deno.test(redisTest("cluster: plain LPUSH wakes held polls on every master", async () => {
  await using cluster = await startRedisCluster();
  await using store = new RedisStore({ nodes: [cluster.urls[1]] });
  assert.equal(await store.whenReady(10_000), true);
  assert.equal(store.notificationsOn, true);
  const handler = createLongPollHandler({ store, minWait: 60, maxWait: 60 });
  const uids = Array.from({ length: 30 }, (_, i) => `u${i}`);
  const owners = new Set(await Promise.all(uids.map((uid) => ownerOf(cluster, `Q/MSG${uid}`))));
  assert.equal(owners.size, 3, "the uids' lists live on all three masters");
  const polls = uids.map((uid) => handler(new Request(`http://x/?uid=${uid}`)));
  await waitUntil(() => handler.held === 30, { what: "30 held polls" });
  for (const uid of uids) await cluster.cli("LPUSH", `Q/MSG${uid}`, `for ${uid}`);
  // Long before the first scheduled re-poll (60 s): only a wake delivers in time.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("not woken within 10 s")), 10_000);
  });
  try {
    const bodies = await Promise.race([
      Promise.all(polls.map(async (poll) => await (await poll).text())),
      late,
    ]);
    assert.deepEqual(bodies, uids.map((uid) => `for ${uid}`));
  } finally {
    clearTimeout(timer);
    await handler.drain();
  }
}));

Deno.test(redisTest("cluster: at-least-once takes and acknowledges in one slot", async () => {
  await using cluster = await startRedisCluster();
  await using store = new RedisStore({ nodes: cluster.urls });
  assert.equal(await store.whenReady(10_000), true);
  const handler = createLongPollHandler({ store, atLeastOnce: true, minWait: 0.05, maxWait: 0.05 });
  await cluster.cli("LPUSH", "Q/MSGacked", "one", "two");
  const first = await handler(new Request("http://x/?uid=acked"));
  assert.equal(await first.text(), "one");
  const ack = first.headers.get("x-ack-id");
  assert.equal(await cluster.cli("HGET", sideKey("Q/MSGacked", "inflight"), ack!), "1|one");
  const second = await handler(new Request(`http://x/?uid=acked&ack=${ack}`));
  assert.equal(await second.text(), "two");
  assert.equal(await cluster.cli("HEXISTS", sideKey("Q/MSGacked", "inflight"), ack!), "0");
}));

Deno.test(redisTest("cluster: deno task serve takes REDIS_URL as a list of nodes", async () => {
  await using cluster = await startRedisCluster();
  await using server = await startServe({
    REDIS_URL: cluster.urls.join(","),
    MIN_WAIT: "60",
    MAX_WAIT: "60",
  });
  assert.match(server.output(), /store: redis cluster /);
  const poll = fetch(`${server.origin}/?uid=srv`);
  await waitUntilHeld(server, 1, { what: "the held poll" });
  await cluster.cli("LPUSH", "Q/MSGsrv", '{"via":"cluster"}');
  assert.equal(await (await poll).text(), '{"via":"cluster"}');
}));
