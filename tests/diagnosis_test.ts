/**
 * Misleading diagnostics, fixed: a key of the wrong type is named, with its
 * type, and reported once; a Redis that wants a password says so.
 */
import assert from "node:assert/strict";
import { createLongPollHandler } from "../mod.ts";
import { KeyTypeError } from "../src/store/errors.ts";
import { RedisStore, sideKey } from "../src/store/redis.ts";
import { connectStore } from "../testing/store_fixtures.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { startRedisServer } from "../testing/redis_server.ts";
import { startServe } from "../testing/serve_process.ts";
import { freePort } from "../testing/free_port.ts";
import { waitUntil } from "../testing/wait_until.ts";
import { TEST_SECRET } from "../testing/secrets.ts";

Deno.test(
  redisTest("diagnosis: a key of the wrong type is named, and warned about once", async () => {
    await using redis = await startRedisServer();
    const warnings: string[] = [];
    await using store = await connectStore(redis, { onWarning: (w) => warnings.push(w) });
    await redis.cli("SET", "Q/MSGwt", "x");
    for (let i = 0; i < 20; i++) {
      await assert.rejects(store.pop("wt"), {
        name: "KeyTypeError",
        message: 'Cannot pop: "Q/MSGwt" holds a string, not a list',
      });
    }
    await assert.rejects(store.publish("wt", "m"), {
      message: 'Cannot publish: "Q/MSGwt" holds a string, not a list',
    });
    await assert.rejects(store.take("wt", { leaseMs: 1000, now: 0, id: "a" }), {
      message: 'Cannot take: "Q/MSGwt" holds a string, not a list',
    });
    assert.deepEqual(warnings, [
      'Cannot pop: "Q/MSGwt" holds a string, not a list; every call on it fails until it is removed',
    ]);
    // A side key of the wrong type is named too.
    await redis.cli("SET", sideKey("Q/MSGside", "leases"), "x");
    const error = await store.take("side", { leaseMs: 1000, now: 0, id: "a" }).catch((e) => e);
    assert.ok(error instanceof KeyTypeError);
    assert.deepEqual([error.key, error.actual, error.expected, error.status], [
      sideKey("Q/MSGside", "leases"),
      "string",
      "zset",
      502,
    ]);
    // Through the handler: the error names the key, and a retry won't help.
    const handler = createLongPollHandler({ store, onError: () => {} });
    const response = await handler(new Request("http://x/?uid=wt"));
    assert.equal(response.status, 502);
    assert.equal(response.headers.get("retry-after"), null);
    assert.deepEqual(await response.json(), {
      error: 'Cannot pop: "Q/MSGwt" holds a string, not a list',
    });
  }),
);

Deno.test(redisTest("diagnosis: a Redis that needs a password says so", async () => {
  await using redis = await startRedisServer({ extraArgs: ["--requirepass", "s3cret"] });
  const cases = [
    [redis.url, /^Cannot connect to Redis: it needs a password, and none was given \(NOAUTH/],
    [
      `redis://:wrong@127.0.0.1:${redis.port}`,
      /^Cannot connect to Redis: it refused the user name or password \(WRONGPASS/,
    ],
  ] as const;
  for (const [url, reason] of cases) {
    const warnings: string[] = [];
    const store = new RedisStore({ url, onWarning: (w) => warnings.push(w) });
    try {
      assert.equal(await store.whenReady(1000), false);
      assert.match(store.notReadyReason ?? "", reason);
      assert.equal(warnings.length, 1, `warned once: ${warnings.join(" / ")}`);
      assert.match(warnings[0], reason);
    } finally {
      await store.close();
    }
  }
  await using store = new RedisStore({ url: `redis://:s3cret@127.0.0.1:${redis.port}` });
  assert.equal(await store.whenReady(5000), true);
  assert.equal(store.notReadyReason, undefined);
}));

Deno.test(
  redisTest(
    "diagnosis: a publish to a key of the wrong type names it, and is no outage",
    async () => {
      await using redis = await startRedisServer();
      await redis.cli("SET", "Q/MSGwt", "x");
      await using server = await startServe({ REDIS_URL: redis.url, PUBLISH_TOKEN: TEST_SECRET });
      const expected = { error: 'Cannot publish: "Q/MSGwt" holds a string, not a list' };
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`${server.origin}/publish?uid=wt`, {
          method: "POST",
          headers: { Authorization: `Bearer ${TEST_SECRET}` },
          body: "m",
        });
        assert.equal(response.status, 502);
        assert.equal(response.headers.get("retry-after"), null);
        assert.deepEqual(await response.json(), expected);
      }
      // A poll of that uid answers the same kind of error, naming the key.
      const poll = await fetch(`${server.origin}/?uid=wt`);
      assert.equal(poll.status, 502);
      assert.deepEqual(await poll.json(), {
        error: 'Cannot pop: "Q/MSGwt" holds a string, not a list',
      });
      const ready = await fetch(`${server.origin}/readyz`);
      assert.equal(ready.status, 200, await ready.text());
      const log = server.output();
      assert.doesNotMatch(log, /Cannot reach the message store/);
      const warned = log.split("\n").filter((line) => line.includes('"Q/MSGwt" holds a string'));
      assert.equal(warned.length, 1, log);
      assert.match(warned[0], /every call on it fails until it is removed/);
    },
  ),
);

/** A store on `url` that never connects: its warnings and reason, once `whenReady` gives up. */
async function unreachable(url: string): Promise<{ warnings: string[]; reason: string }> {
  const warnings: string[] = [];
  await using store = new RedisStore({ url, onWarning: (w) => warnings.push(w) });
  assert.equal(await store.whenReady(1000), false);
  return { warnings, reason: store.notReadyReason ?? "" };
}

Deno.test("diagnosis: a wrong Redis URL is warned about once, not a silent false", async () => {
  const port = freePort();
  const refused = await unreachable(`redis://127.0.0.1:${port}`);
  const expected = new RegExp(
    `^Cannot connect to Redis: nothing listens there; check the URL, and that Redis runs ` +
      `\\(connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\)`,
  );
  assert.match(refused.reason, expected);
  assert.equal(refused.warnings.length, 1, refused.warnings.join(" / "));
  assert.match(refused.warnings[0], expected);
  assert.match(refused.warnings[0], /; it keeps trying, and polls get 503 meanwhile$/);

  const unknown = await unreachable("redis://no-such-host.invalid:6379");
  assert.match(
    unknown.reason,
    /^Cannot connect to Redis: the host name is unknown; check the URL \(/,
  );
  assert.deepEqual(unknown.warnings.length, 1, unknown.warnings.join(" / "));
});

Deno.test("diagnosis: without --allow-net, the store says Deno denies network access", async () => {
  // A library user's program, run without the network permission.
  const store = new URL("../src/store/redis.ts", import.meta.url).href;
  const program = `
    import { RedisStore } from ${JSON.stringify(store)};
    const store = new RedisStore({ url: "redis://127.0.0.1:${freePort()}", onWarning: console.log });
    console.log("ready:", await store.whenReady(1000));
    await store.close();
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-env", "--allow-read", "--allow-sys", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(program));
  await writer.close();
  const { stdout, stderr } = await child.output();
  const printed = new TextDecoder().decode(stdout);
  assert.match(
    printed,
    /^Cannot connect to Redis: the runtime denies network access; run Deno with --allow-net \(Requires net access to "127\.0\.0\.1:\d+"/,
    new TextDecoder().decode(stderr),
  );
  assert.match(printed, /\nready: false\n$/);
});

Deno.test(redisTest("diagnosis: a Redis that refuses CONFIG is named as such", async () => {
  await using redis = await startRedisServer({ extraArgs: ["--rename-command", "CONFIG", ""] });
  const warnings: string[] = [];
  await using store = new RedisStore({ url: redis.url, onWarning: (w) => warnings.push(w) });
  assert.equal(await store.whenReady(5000), true, "refused CONFIG does not stop the store");
  await waitUntil(() => warnings.length > 0, { what: "the warning" });
  assert.equal(warnings.length, 1, warnings.join(" / "));
  assert.match(
    warnings[0],
    /^Cannot turn on keyspace notifications: CONFIG is refused, as many managed Redis services do \(ERR unknown command 'CONFIG'/,
  );
  assert.match(warnings[0], /add "notify-keyspace-events El" to the Redis config/);
}));
