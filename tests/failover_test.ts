/**
 * Redis Cluster failover, followed: when a master dies and its replica is
 * promoted, the store subscribes to the new master and the held polls of
 * its slots check again, so a push to it wakes them at once; nothing is
 * lost or delivered twice.
 */
import assert from "node:assert/strict";
import { createLongPollHandler } from "../mod.ts";
import { RedisStore } from "../src/store/redis.ts";
import { type RedisServer, startRedisCluster } from "../testing/redis_server.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { waitUntil } from "../testing/wait_until.ts";

/** True when `node` owns `key` (the others answer MOVED). */
async function owns(node: RedisServer, key: string): Promise<boolean> {
  return !(await node.cli("EXISTS", key)).includes("MOVED");
}

Deno.test(
  redisTest("failover: a promoted master is followed; its held polls wake within 2 s", async () => {
    await using cluster = await startRedisCluster(3, { replicas: 1, nodeTimeoutMs: 1000 });
    const roles = await Promise.all(cluster.nodes.map((node) => node.cli("ROLE")));
    const masters = cluster.nodes.filter((_, i) => roles[i].startsWith("master"));
    assert.equal(masters.length, 3);
    const [survivor, victim] = masters;
    await using store = new RedisStore({ nodes: [survivor.url] });
    assert.equal(await store.whenReady(10_000), true);
    const handler = createLongPollHandler({ store, minWait: 60, maxWait: 60, onError: () => {} });

    // Held polls on every master's slots.
    const uids = Array.from({ length: 30 }, (_, i) => `f${i}`);
    const onVictim = new Set<string>();
    for (const uid of uids) if (await owns(victim, `Q/MSG${uid}`)) onVictim.add(uid);
    assert.ok(onVictim.size > 0 && onVictim.size < uids.length, `${onVictim.size} on the victim`);
    const answered = new Map<string, { body: string; at: number }>();
    const polls = uids.map(async (uid) => {
      const response = await handler(new Request(`http://x/?uid=${uid}`));
      answered.set(uid, { body: await response.text(), at: performance.now() });
    });
    await waitUntil(() => handler.held === 30, { what: "30 held polls" });

    const replica = cluster.nodes.find((_, i) =>
      roles[i].startsWith(`slave\n127.0.0.1\n${victim.port}\n`)
    )!;
    assert.ok(replica !== undefined, "the victim has a replica");

    await victim.stop();
    await waitUntil(async () => {
      return (await replica.cli("ROLE")).startsWith("master") &&
        (await survivor.cli("CLUSTER", "INFO")).includes("cluster_state:ok");
    }, { what: "the promotion", timeoutMs: 20_000 });
    const promotedAt = performance.now();
    for (const uid of uids) {
      // A node may still say CLUSTERDOWN for a moment after another says ok;
      // such a push was refused, so it is sent again.
      let reply = "";
      await waitUntil(async () => {
        reply = await survivor.cli("-c", "LPUSH", `Q/MSG${uid}`, `for ${uid}`);
        return !reply.startsWith("CLUSTERDOWN");
      }, { what: `the LPUSH for ${uid} once every node is up`, timeoutMs: 10_000 });
      assert.equal(reply, "1", uid);
    }
    const pushedAt = performance.now();

    // Well before the scheduled re-poll (60 s): only a wake delivers in time.
    await waitUntil(() => answered.size === uids.length, {
      what: "every poll's answer",
      timeoutMs: 10_000,
    });
    await Promise.all(polls);
    for (const uid of uids) {
      const { body, at } = answered.get(uid)!;
      assert.equal(body, `for ${uid}`, `${uid}: its own message, once`);
      if (onVictim.has(uid)) {
        assert.ok(
          at - promotedAt < 2000 + (pushedAt - promotedAt),
          `${uid} woke ${(at - promotedAt).toFixed(0)} ms after the promotion`,
        );
      }
    }
    for (const uid of uids) {
      assert.equal(await survivor.cli("-c", "LLEN", `Q/MSG${uid}`), "0", `${uid}: nothing left`);
    }
  }),
);
