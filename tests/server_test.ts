/** The routes of `deno task serve`, through `createServer().fetch`. */
import assert from "node:assert/strict";
import { MemoryPresence, MemoryStore } from "../mod.ts";
import { createServer, type ServerOptions } from "../src/server/app.ts";
import { FakeClock, until } from "../testing/fake_clock.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { startRedisServer } from "../testing/redis_server.ts";
import { startProcess, startServe } from "../testing/serve_process.ts";

const TOKEN = "t0ken";

function setUp(options: Partial<ServerOptions> = {}) {
  const clock = new FakeClock();
  const store = new MemoryStore();
  const server = createServer({ store, clock, publishToken: TOKEN, ...options });
  return { clock, store, server };
}

function publish(uid: string, body: string): Request {
  return new Request(`http://x/publish?uid=${uid}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${TOKEN}` },
    body,
  });
}

/** Reads the samples of a Prometheus text exposition into a map. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(match !== null, `not a Prometheus sample: ${JSON.stringify(line)}`);
    samples.set(match[1], Number(match[2]));
  }
  return samples;
}

Deno.test("server: publish, then poll, gets the message", async () => {
  const { store, server } = setUp();
  const published = await server.fetch(publish("42", '{"hi":1}'));
  assert.equal(published.status, 202);
  assert.deepEqual(await published.json(), { published: true });
  assert.equal(store.size("42"), 1);

  const response = await server.fetch(new Request("http://x/?uid=42&sign=x"));
  assert.equal(response.status, 200);
  assert.equal(await response.text(), '{"hi":1}');
  assert.equal(response.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(store.size("42"), 0);
});

Deno.test("server: a held poll is answered by a publish to its uid", async () => {
  const { server } = setUp();
  const poll = server.fetch(new Request("http://x/?uid=7"));
  await until(() => server.handler.held === 1, "the poll being held");
  assert.equal((await server.fetch(publish("7", "woken"))).status, 202);
  assert.equal(await (await poll).text(), "woken");
});

Deno.test("server: publish keeps the body byte for byte, in order", async () => {
  const { server } = setUp();
  const messages = ['{"a":"é 🎉"}', "plain\ntext", "  spaced  "];
  for (const message of messages) await server.fetch(publish("42", message));
  for (const message of messages) {
    assert.equal(await (await server.fetch(new Request("http://x/?uid=42"))).text(), message);
  }
});

Deno.test("server: openPublish lets publish in without a token", async () => {
  const { store, server } = setUp({ publishToken: undefined, openPublish: true });
  const response = await server.fetch(
    new Request("http://x/publish?uid=42", { method: "POST", body: "open" }),
  );
  assert.equal(response.status, 202);
  assert.equal(await store.pop("42"), "open");
});

Deno.test("server: GET /publish is a 405 with Allow: POST", async () => {
  const { server } = setUp();
  const response = await server.fetch(new Request("http://x/publish?uid=42"));
  assert.equal(response.status, 405);
  assert.equal(response.headers.get("allow"), "POST");
  assert.deepEqual(await response.json(), {
    error: 'Cannot publish with method "GET": use POST',
  });
});

Deno.test("server: /healthz answers 200", async () => {
  const { server } = setUp();
  const response = await server.fetch(new Request("http://x/healthz"));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.deepEqual(await response.json(), { status: "ok" });
});

Deno.test("server: /readyz answers 200, then 503 after drain", async () => {
  const { server } = setUp();
  const ready = await server.fetch(new Request("http://x/readyz"));
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), {
    status: "ready",
    store: "memory",
    queueLimits: { ttlSeconds: 0, max: 0 },
  });

  await server.drain();
  const draining = await server.fetch(new Request("http://x/readyz"));
  assert.equal(draining.status, 503);
  assert.deepEqual(await draining.json(), { error: "Not ready: the server is draining" });
  const healthy = await server.fetch(new Request("http://x/healthz"));
  assert.equal(healthy.status, 200, "still alive while draining");
});

Deno.test("server: /readyz answers 503 with Retry-After while the store is unreachable", async () => {
  const { store, server } = setUp();
  await store.close();
  const response = await server.fetch(new Request("http://x/readyz"));
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), "1");
  assert.deepEqual(await response.json(), {
    error: "Not ready: the memory store is unreachable",
  });
});

Deno.test("server: drain answers a held poll with the stop code", async () => {
  const { server } = setUp();
  const poll = server.fetch(new Request("http://x/?uid=42"));
  await until(() => server.handler.held === 1, "the poll being held");
  await server.drain();
  assert.equal(await (await poll).text(), '{"stop":1}');
});

Deno.test("server: /metrics counts held, delivered, timeouts and errors", async () => {
  const { clock, server } = setUp({ minWait: 0.2, maxWait: 0.5 });
  const fetch = (path: string, init?: RequestInit) =>
    server.fetch(new Request(`http://x${path}`, init));

  // Two deliveries.
  await server.fetch(publish("a", "1"));
  await server.fetch(publish("b", "2"));
  assert.equal(await (await fetch("/?uid=a")).text(), "1");
  assert.equal(await (await fetch("/?uid=b")).text(), "2");
  // One timeout, on the fake clock.
  const timedOut = fetch("/?uid=t");
  await until(() => server.handler.held === 1, "the poll being held");
  await clock.advance(600);
  assert.equal(await (await timedOut).text(), '{"stop":1}');
  // Errors: two 400s, one 404, one 405.
  assert.equal((await fetch("/")).status, 400);
  assert.equal((await fetch("/?uid=")).status, 400);
  assert.equal((await fetch("/nope")).status, 404);
  assert.equal((await fetch("/?uid=x", { method: "DELETE" })).status, 405);
  // One poll held while the metrics are read.
  const held = fetch("/?uid=h");
  await until(() => server.handler.held === 1, "the poll being held");

  const response = await fetch("/metrics");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  assert.match(text, /^# TYPE longpoll_held_polls gauge$/m);
  assert.match(text, /^# TYPE longpoll_delivered_total counter$/m);
  assert.match(text, /^# TYPE longpoll_errors_total counter$/m);
  const samples = parseMetrics(text);
  assert.equal(samples.get("longpoll_held_polls"), 1);
  assert.equal(samples.get("longpoll_delivered_total"), 2);
  assert.equal(samples.get("longpoll_timeouts_total"), 1);
  assert.equal(samples.get("longpoll_published_total"), 2);
  assert.equal(samples.get('longpoll_errors_total{code="400"}'), 2);
  assert.equal(samples.get('longpoll_errors_total{code="404"}'), 1);
  assert.equal(samples.get('longpoll_errors_total{code="405"}'), 1);
  assert.equal(samples.get('longpoll_errors_total{code="503"}'), undefined);

  await server.drain();
  await held;
  const after = parseMetrics(await (await fetch("/metrics")).text());
  assert.equal(after.get("longpoll_held_polls"), 0);
  assert.equal(after.get("longpoll_drained_total"), 1);
  assert.equal(after.get("longpoll_timeouts_total"), 1);
});

Deno.test("server: an unknown path is a 404", async () => {
  const { server } = setUp();
  const response = await server.fetch(new Request("http://x/nope?uid=42"));
  assert.equal(response.status, 404);
  assert.equal(response.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.deepEqual(await response.json(), { error: 'Cannot find "/nope"' });
});

Deno.test("server: open publishing admits loopback clients only, judged through trusted proxies", async () => {
  const server = createServer({ store: new MemoryStore(), openPublish: true });
  const publish = (peer: string, realIp?: string) =>
    server.fetch(
      new Request("http://x/publish?uid=7", {
        method: "POST",
        body: "m",
        headers: realIp === undefined ? {} : { "X-Real-IP": realIp },
      }),
      { remoteAddr: { hostname: peer } },
    );
  assert.equal((await publish("127.0.0.1")).status, 202, "a local client");
  assert.equal((await publish("::1")).status, 202, "a local client over IPv6");
  assert.equal((await publish("127.0.0.1", "127.0.0.1")).status, 202, "local, through nginx");
  const outside = await publish("127.0.0.1", "203.0.113.9");
  assert.equal(outside.status, 403, "a remote client through the local nginx");
  assert.deepEqual(await outside.json(), {
    error: "Cannot publish: the route is off; set PUBLISH_TOKEN to turn it on",
  });
  assert.equal((await publish("203.0.113.9", "127.0.0.1")).status, 403, "a spoofed X-Real-IP");
  assert.equal((await publish("198.51.100.4")).status, 403, "a remote client");
});

Deno.test("server: open publishing refuses a proxied request that names no client, a foreign Host and a cross-origin page", async () => {
  const store = new MemoryStore();
  const server = createServer({ store, openPublish: true });
  const publish = (headers: Record<string, string>) =>
    server.fetch(
      new Request("http://127.0.0.1:8888/publish?uid=7", { method: "POST", body: "m", headers }),
      { remoteAddr: { hostname: "127.0.0.1" } },
    );
  const refused: [string, Record<string, string>][] = [
    ["nginx with only X-Forwarded-For", { "X-Forwarded-For": "203.0.113.9" }],
    ["a Forwarded header", { Forwarded: "for=203.0.113.9" }],
    ["a Via header", { Via: "1.1 proxy" }],
    ["an upstream name as Host (plain proxy_pass)", { Host: "backend" }],
    ["a DNS-rebinding Host", { Host: "attacker.example:8888" }],
    ["a cross-origin page", { Host: "127.0.0.1:8888", Origin: "https://evil.example" }],
    ["a null origin", { Origin: "null" }],
  ];
  for (const [what, headers] of refused) {
    const response = await publish(headers);
    assert.equal(response.status, 403, what);
  }
  const accepted: [string, Record<string, string>][] = [
    ["curl on the machine", { Host: "127.0.0.1:8888" }],
    ["localhost by name", { Host: "localhost:8888" }],
    ["the demo page, same origin", { Host: "127.0.0.1:8888", Origin: "http://127.0.0.1:8888" }],
    ["IPv6 loopback", { Host: "[::1]:8888", Origin: "http://[::1]:8888" }],
  ];
  for (const [what, headers] of accepted) {
    assert.equal((await publish(headers)).status, 202, what);
  }
  assert.equal(store.size("7"), accepted.length);
});

Deno.test("server: a publisher that leaves mid-body gets 400, logs nothing, and counts no server error", async () => {
  const errors: unknown[] = [];
  const store = new MemoryStore();
  const server = createServer({ store, publishToken: "t", onError: (error) => errors.push(error) });
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"partial":'));
      controller.error(new Error("connection reset"));
    },
  });
  const response = await server.fetch(
    new Request("http://x/publish?uid=7", {
      method: "POST",
      body,
      headers: { Authorization: "Bearer t" },
    }),
  );
  assert.equal(response.status, 400);
  assert.deepEqual(await response.json(), {
    error: "Cannot publish: the body was cut off before its end",
  });
  assert.deepEqual(errors, []);
  assert.doesNotMatch(server.handler.metrics.render(), /code="5\d\d"/);
  assert.equal(store.size("7"), 0);
});

Deno.test("server: LOG_FORMAT=json writes one JSON object per line, with a level", async () => {
  await using server = await startServe({ LOG_FORMAT: "json" });
  assert.equal((await fetch(`${server.origin}/healthz`)).status, 200);
  assert.equal(await server.stop("SIGTERM"), 0);
  const lines = server.output().trim().split("\n");
  assert.ok(lines.length >= 3, server.output());
  for (const line of lines) {
    const entry = JSON.parse(line);
    assert.ok(["info", "warn", "error"].includes(entry.level), line);
    assert.equal(typeof entry.msg, "string");
    assert.ok(!Number.isNaN(Date.parse(entry.time)));
  }
  assert.match(lines.map((line) => JSON.parse(line).msg).join("\n"), /longpoll listening on/);
});

Deno.test("server: GET /presence says whether a uid holds a poll, and since when, behind the token", async () => {
  const presence = new MemoryPresence();
  const { clock, store, server } = setUp({ presence, minWait: 60, maxWait: 60 });
  const ask = (query: string, token = TOKEN) =>
    server.fetch(
      new Request(`http://x/presence?${query}`, { headers: { Authorization: `Bearer ${token}` } }),
    );
  assert.deepEqual(await (await ask("uid=42")).json(), { uid: "42", present: false });
  const first = server.fetch(new Request("http://x/?uid=42"));
  await until(() => server.handler.held === 1, "the poll to be held");
  await clock.advance(5_000);
  const second = server.fetch(new Request("http://x/?uid=42"));
  await until(() => server.handler.metrics.superseded === 1, "the second poll to take over");
  assert.deepEqual(await (await ask("uid=42")).json(), {
    uid: "42",
    present: true,
    since: new Date(clock.start).toISOString(),
  });
  await store.publish("42", "m");
  await first;
  assert.equal(await (await second).text(), "m");
  // Between two polls the uid stays present, and a poll back within the linger keeps its "since".
  const since = { uid: "42", present: true, since: new Date(clock.start).toISOString() };
  assert.deepEqual(await (await ask("uid=42")).json(), since);
  await clock.advance(4_000);
  const third = server.fetch(new Request("http://x/?uid=42"));
  await until(() => server.handler.held === 1, "the third poll to be held");
  await store.publish("42", "n");
  assert.equal(await (await third).text(), "n");
  await clock.advance(4_900);
  assert.deepEqual(await (await ask("uid=42")).json(), since, "within 5 s of the last poll");
  await clock.advance(200);
  assert.deepEqual(await (await ask("uid=42")).json(), { uid: "42", present: false });
  assert.equal((await ask("uid=42", "wrong")).status, 401);
  assert.equal((await ask("")).status, 400);
  assert.equal((await ask("uid=")).status, 400);
  const without = createServer({ store: new MemoryStore(), publishToken: TOKEN });
  assert.equal((await without.fetch(new Request("http://x/presence?uid=42"))).status, 404);
});

Deno.test("server: deno task serve, with the task's own permissions, reads the file limit and states the caps", async () => {
  // The task's own command line, run directly (a signal to `deno task` would
  // not reach the server it starts).
  const root = new URL("../", import.meta.url).pathname;
  const tasks = JSON.parse(await Deno.readTextFile(`${root}deno.json`)).tasks;
  const [binary, ...args] = (tasks.serve as string).split(" ");
  assert.equal(binary, "deno");
  await using server = await startProcess({
    command: Deno.execPath(),
    args: [...args, "--port", "0"],
    env: { NO_COLOR: "1" },
    ready: /longpoll listening on (http:\/\/\S+:\d+).*/,
    cwd: root,
  });
  const line = server.ready[0];
  assert.match(line, /connections: at most \d+ \(file limit \d+\), MAX_HELD \d+$/, line);
  assert.equal((await fetch(`${server.ready[1]}/healthz`)).status, 200);
});

Deno.test("server: deno task serve off loopback, with no proxy trusted, warns that slow heads can take every connection", async () => {
  const warning =
    /Listening on "0\.0\.0\.0" with no proxy in TRUSTED_PROXIES, but deno \S+ has no header timeout: clients that send their request heads slowly can take every connection/;
  const cases: [Record<string, string>, boolean][] = [
    [{ HOST: "0.0.0.0" }, true],
    [{ HOST: "0.0.0.0", TRUSTED_PROXIES: "127.0.0.1,::1" }, true],
    [{ HOST: "0.0.0.0", TRUSTED_PROXIES: "10.0.0.5" }, false],
    [{ HOST: "127.0.0.1" }, false],
  ];
  for (const [env, warns] of cases) {
    await using server = await startServe({ NO_COLOR: "1", ...env });
    assert.equal(
      warning.test(server.output()),
      warns,
      `${JSON.stringify(env)}:\n${server.output()}`,
    );
  }
});

const PUBLISH_OFF = "Publishing from this form is off";

Deno.test("server: the demo page says whether its form can publish", async () => {
  const cases: [Partial<ServerOptions>, string][] = [
    [{ publishToken: TOKEN }, "needs this server's <code>PUBLISH_TOKEN</code>"],
    [{ publishToken: undefined, openPublish: true }, "open here without a token"],
    [{ publishToken: undefined }, PUBLISH_OFF],
  ];
  for (const [options, note] of cases) {
    const { server } = setUp({ demo: true, ...options });
    const page = await (await server.fetch(new Request("http://x/demo"))).text();
    assert.ok(page.includes(note), `${JSON.stringify(options)}: ${note}`);
    assert.equal(page.match(/id="publish-note"/g)?.length, 1);
  }
});

Deno.test(
  redisTest(
    "server: on Redis without a token, the demo page says publishing is off, as /publish does",
    async () => {
      await using redis = await startRedisServer({ persistent: false });
      await using server = await startServe({ REDIS_URL: redis.url, DEMO: "true" });
      const page = await (await fetch(`${server.origin}/demo`)).text();
      assert.ok(page.includes(PUBLISH_OFF), page);
      const published = await fetch(`${server.origin}/publish?uid=42`, {
        method: "POST",
        body: "hi",
      });
      assert.equal(published.status, 403);
      assert.match((await published.json()).error, /the route is off; set PUBLISH_TOKEN/);
    },
  ),
);
