/**
 * The Redis store under the handler, against a real redis-server: plain
 * LPUSH producers, clients that leave, one connection per process, and
 * Redis being unreachable.
 */
import assert from "node:assert/strict";
import { createLongPollHandler } from "../mod.ts";
import { RedisStore } from "../src/store/redis.ts";
import { spyOn } from "../testing/spy_store.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { connectStore } from "../testing/store_fixtures.ts";
import { freePort } from "../testing/free_port.ts";
import { startRedisServer } from "../testing/redis_server.ts";
import { sleep, waitUntil } from "../testing/wait_until.ts";

Deno.test(redisTest("redis: a plain LPUSH producer reaches a waiting poll", async () => {
  await using redis = await startRedisServer();
  await using store = await connectStore(redis);
  const handler = createLongPollHandler({ store, minWait: 60, maxWait: 60 });
  const poll = handler(new Request("http://x/?uid=42&sign=x"));
  await waitUntil(() => handler.held === 1, { what: "the poll to be held" });
  await redis.cli("LPUSH", "Q/MSG42", '{"hi":1}');
  const response = await poll;
  assert.equal(response.status, 200);
  assert.equal(await response.text(), '{"hi":1}');
  assert.equal(await redis.cli("LLEN", "Q/MSG42"), "0");
}));

Deno.test(redisTest("redis: messages already queued come out oldest first", async () => {
  await using redis = await startRedisServer();
  await using store = await connectStore(redis, { keyPrefix: "app:" });
  await redis.cli("LPUSH", "app:7", "first", "second", "third");
  const handler = createLongPollHandler({ store });
  const bodies = [];
  for (let i = 0; i < 3; i++) {
    bodies.push(await (await handler(new Request("http://x/?uid=7"))).text());
  }
  assert.deepEqual(bodies, ["first", "second", "third"]);
}));

Deno.test(
  redisTest("redis: a message popped after the client left goes back to the head", async () => {
    await using redis = await startRedisServer();
    await using redisStore = await connectStore(redis);
    const store = spyOn(redisStore);
    const handler = createLongPollHandler({ store, minWait: 60, maxWait: 60 });
    const client = new AbortController();
    const poll = handler(new Request("http://x/?uid=9", { signal: client.signal }));
    await waitUntil(() => handler.held === 1, { what: "the poll to be held" });
    const { paused, release } = store.pauseNextPop();
    await redis.cli("LPUSH", "Q/MSG9", "older", "newer");
    assert.equal(await paused, "older", "the wake popped the oldest message");
    client.abort();
    release();
    await poll;
    await waitUntil(() => handler.metrics.pushedBack === 1, { what: "the push back" });
    assert.deepEqual((await redis.cli("LRANGE", "Q/MSG9", "0", "-1")).split("\n"), [
      "newer",
      "older",
    ]);
    assert.equal(await redis.cli("RPOP", "Q/MSG9"), "older", "it is next in line");
    assert.equal(handler.held, 0);
  }),
);

Deno.test(redisTest("redis: a client that leaves stops the polling", async () => {
  await using redis = await startRedisServer();
  await using redisStore = await connectStore(redis);
  const store = spyOn(redisStore);
  const handler = createLongPollHandler({ store, minWait: 0.05, maxWait: 60 });
  const client = new AbortController();
  const poll = handler(new Request("http://x/?uid=5", { signal: client.signal }));
  await waitUntil(() => handler.held === 1, { what: "the poll to be held" });
  client.abort();
  await poll;
  assert.equal(handler.held, 0);
  assert.equal(handler.metrics.abandoned, 1);
  const popsWhenGone = store.pops.length;
  await redis.cli("LPUSH", "Q/MSG5", "kept");
  // Longer than several scheduled waits of 50 ms: nothing may pop any more.
  await sleep(400);
  assert.equal(store.pops.length, popsWhenGone, "no pop after the client left");
  assert.equal(await redis.cli("LRANGE", "Q/MSG5", "0", "-1"), "kept");
}));

Deno.test(
  redisTest("redis: one command and one subscriber connection, whatever the polls", async () => {
    await using redis = await startRedisServer();
    await using store = await connectStore(redis);
    const handler = createLongPollHandler({ store, minWait: 60, maxWait: 60 });
    const clients = Array.from({ length: 200 }, () => new AbortController());
    const polls = clients.map((client, i) =>
      handler(new Request(`http://x/?uid=u${i}`, { signal: client.signal }))
    );
    await waitUntil(() => handler.held === 200, { what: "200 held polls" });
    const names = (await redis.cli("CLIENT", "LIST"))
      .split("\n")
      .map((line) => /name=(\S*)/.exec(line)?.[1])
      .filter((name) => name !== "");
    assert.deepEqual(names.sort(), ["longpoll", "longpoll-subscriber"]);
    for (const client of clients) client.abort();
    await Promise.all(polls);
  }),
);

Deno.test(
  redisTest("redis: an unreachable Redis gets 503 with Retry-After within 2 s", async () => {
    const store = new RedisStore({ url: `redis://127.0.0.1:${freePort()}` });
    try {
      assert.equal(store.ready, false);
      const handler = createLongPollHandler({ store, onError: () => {} });
      const started = performance.now();
      const response = await handler(new Request("http://x/?uid=1"));
      const elapsed = performance.now() - started;
      assert.equal(response.status, 503);
      assert.equal(response.headers.get("retry-after"), "1");
      assert.deepEqual(await response.json(), {
        error: "Cannot poll: the message store is unavailable",
      });
      assert.ok(elapsed < 2000, `answered in ${elapsed} ms`);
    } finally {
      await store.close();
    }
  }),
);

Deno.test(
  redisTest(
    "redis: a Redis that stops answering gets 503 within 2 s, and loses nothing",
    async () => {
      await using redis = await startRedisServer();
      await using store = await connectStore(redis, { commandTimeoutMs: 500 });
      const pid = Number(/process_id:(\d+)/.exec(await redis.cli("INFO", "server"))?.[1]);
      await redis.cli("LPUSH", "Q/MSG3", "survivor");
      const handler = createLongPollHandler({ store, onError: () => {} });
      Deno.kill(pid, "SIGSTOP");
      const started = performance.now();
      let response: Response;
      try {
        response = await handler(new Request("http://x/?uid=3"));
      } finally {
        Deno.kill(pid, "SIGCONT");
      }
      const elapsed = performance.now() - started;
      assert.equal(response.status, 503);
      assert.ok(elapsed < 2000, `answered in ${elapsed} ms`);
      // The RPOP runs once Redis wakes; the late message is pushed back.
      await waitUntil(async () => (await redis.cli("LRANGE", "Q/MSG3", "0", "-1")) === "survivor", {
        what: "the late pop to be pushed back",
      });
      const again = await handler(new Request("http://x/?uid=3"));
      assert.equal(await again.text(), "survivor");
    },
  ),
);

Deno.test("redis: a URL that is not redis:// is refused at construction", () => {
  for (const url of ["bogus", "http://127.0.0.1:6379", "redis://127.0.0.1:notaport"]) {
    assert.throws(() => new RedisStore({ url }), {
      name: "TypeError",
      message: `Cannot create RedisStore: expected a redis:// or rediss:// URL, got "${url}"`,
    });
  }
  assert.throws(() => new RedisStore({ nodes: ["redis://a:1", "nope"] }), /got "nope"/);
});
