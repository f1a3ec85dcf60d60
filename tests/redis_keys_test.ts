/**
 * The keys the Redis store keeps beside a uid's list: in the list's hash
 * slot whatever braces the uid holds, and never another uid's list.
 */
import assert from "node:assert/strict";
import { createLongPollHandler } from "../mod.ts";
import { keySlot, sideKey } from "../src/store/redis_keys.ts";
import { RedisStore } from "../src/store/redis.ts";
import { connectStore } from "../testing/store_fixtures.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { startRedisCluster, startRedisServer } from "../testing/redis_server.ts";

/** Uids whose braces broke the old naming, and some ordinary ones. */
const BRACED = ["}x", "a}{b", "{}x", "{x}", "{x}:inflight", "x}", "{", "}"];
const UIDS = [...BRACED, "42", "user:7", "{tenant}9", "ü{é}", "a{b}c{d}"];
const KINDS = ["inflight", "leases"] as const;

Deno.test("keys: side keys of different lists or kinds never meet, nor equal a list key", () => {
  for (const prefix of ["Q/MSG", "", "{", "}"]) {
    const lists = UIDS.map((uid) => prefix + uid);
    const sides = lists.flatMap((key) => KINDS.map((kind) => sideKey(key, kind)));
    assert.equal(new Set(sides).size, sides.length, `prefix "${prefix}": all distinct`);
    for (const side of sides) {
      // A uid can't hold a control character, so no list key is a side key.
      assert.ok(side.includes("\x1f"), side);
      assert.ok(!lists.includes(side), `"${side}" is no list key`);
    }
  }
});

Deno.test(redisTest("keys: side keys share the list's slot, as Redis computes it", async () => {
  await using server = await startRedisServer({
    extraArgs: [
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      `nodes-${crypto.randomUUID()}.conf`,
    ],
  });
  for (const key of UIDS.map((uid) => `Q/MSG${uid}`).concat(["", "{}", "app:{tenant}:9"])) {
    const slot = await server.cli("CLUSTER", "KEYSLOT", key);
    assert.equal(String(keySlot(key)), slot, `keySlot("${key}")`);
    for (const kind of KINDS) {
      if (key === "") continue;
      const side = sideKey(key, kind);
      assert.equal(await server.cli("CLUSTER", "KEYSLOT", side), slot, `${key} and ${side}`);
    }
  }
}));

Deno.test(
  redisTest(
    "keys: at-least-once on uids with braces, on one Redis, each its own queue",
    async () => {
      await using server = await startRedisServer();
      await using store = await connectStore(server);
      const handler = createLongPollHandler({
        store,
        atLeastOnce: true,
        minWait: 0.05,
        maxWait: 0.05,
      });
      // Each uid holds one message in flight while the next uid is served.
      const acks = new Map<string, string>();
      for (const uid of BRACED) {
        await store.publish(uid, `for ${uid}`);
        const response = await handler(new Request(`http://x/?uid=${encodeURIComponent(uid)}`));
        assert.equal(response.status, 200, uid);
        assert.equal(await response.text(), `for ${uid}`);
        acks.set(uid, response.headers.get("x-ack-id")!);
      }
      for (const uid of BRACED) {
        await store.publish(uid, `again for ${uid}`);
        const query = `uid=${encodeURIComponent(uid)}&ack=${acks.get(uid)}`;
        const response = await handler(new Request(`http://x/?${query}`));
        assert.equal(await response.text(), `again for ${uid}`, uid);
      }
    },
  ),
);

Deno.test(
  redisTest("keys: at-least-once on uids with braces, on a real cluster", async () => {
    await using cluster = await startRedisCluster();
    await using store = new RedisStore({ nodes: cluster.urls });
    assert.equal(await store.whenReady(10_000), true);
    const handler = createLongPollHandler({
      store,
      atLeastOnce: true,
      minWait: 0.05,
      maxWait: 0.05,
    });
    for (const uid of BRACED) {
      await cluster.cli("LPUSH", `Q/MSG${uid}`, `first ${uid}`, `second ${uid}`);
      const first = await handler(new Request(`http://x/?uid=${encodeURIComponent(uid)}`));
      assert.equal(first.status, 200, `${uid}: ${await first.clone().text()}`);
      assert.equal(await first.text(), `first ${uid}`);
      const query = `uid=${encodeURIComponent(uid)}&ack=${first.headers.get("x-ack-id")}`;
      const second = await handler(new Request(`http://x/?${query}`));
      assert.equal(await second.text(), `second ${uid}`);
    }
  }),
);

Deno.test("keys: a key prefix or an at-least-once uid with control characters is refused", async () => {
  assert.throws(() => new RedisStore({ keyPrefix: "Q/\x1f" }), {
    name: "TypeError",
    message: 'Cannot create RedisStore: "keyPrefix" holds control characters',
  });
  const store = new RedisStore({ url: "redis://127.0.0.1:1" });
  try {
    const options = { leaseMs: 1000, now: 0, id: "a" };
    await assert.rejects(store.take("x\x1finflight", options), {
      name: "TypeError",
      message: 'Cannot take: "uid" holds control characters',
    });
    await assert.rejects(store.release("x\n", "a"), {
      name: "TypeError",
      message: 'Cannot release: "uid" holds control characters',
    });
  } finally {
    await store.close();
  }
});
