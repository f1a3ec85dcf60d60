/**
 * Protocol v1, as the README's protocol table states it, through the fetch
 * handler on the in-memory store, with a fake clock so no test waits on real
 * time.
 */
import assert from "node:assert/strict";
import { createLogger, createLongPollHandler, MemoryStore } from "../mod.ts";
import { FakeClock, until } from "../testing/fake_clock.ts";
import { hmac } from "../testing/hmac.ts";
import { spyHandler as setUp } from "../testing/spy_handler.ts";

function get(query: string, init?: RequestInit): Request {
  return new Request(`http://x/?${query}`, init);
}

/** Starts a poll and notes its response once it comes. */
function start(promise: Promise<Response>) {
  const state: { response?: Response } = {};
  promise.then((response) => (state.response = response));
  return state;
}

Deno.test("handler: a waiting message comes back as stored, with the JSON headers", async () => {
  const { store, handler } = setUp();
  const message = '{"text":"héllo \u2028 🎉",  "n": [1, 2] } ';
  await store.publish("42", message);
  const response = await handler(get("uid=42"));
  assert.equal(response.status, 200);
  assert.equal(await response.text(), message);
  assert.equal(response.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.equal(store.size("42"), 0);
  assert.equal(handler.metrics.delivered, 1);
});

Deno.test("handler: a message that is not JSON comes back byte for byte without JSONP", async () => {
  const { store, handler } = setUp();
  await store.publish("42", "{'stop':0} plain");
  assert.equal(await (await handler(get("uid=42"))).text(), "{'stop':0} plain");
});

Deno.test("handler: one message per response, oldest first", async () => {
  const { store, handler } = setUp();
  for (const message of ["1", "2", "3"]) await store.publish("42", message);
  const bodies = [];
  for (let i = 0; i < 3; i++) bodies.push(await (await handler(get("uid=42"))).text());
  assert.deepEqual(bodies, ["1", "2", "3"]);
  assert.equal(store.size("42"), 0);
});

Deno.test("handler: JSONP wraps the message, with the script headers", async () => {
  const { store, handler } = setUp();
  await store.publish("42", '{"hi":1}');
  const response = await handler(get("uid=42&jsonCallback=app.onMessage"));
  assert.equal(response.status, 200);
  assert.equal(await response.text(), '/**/app.onMessage({"hi":1});');
  assert.equal(response.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.equal(response.headers.get("x-content-type-options"), "nosniff");
  assert.equal(response.headers.get("cache-control"), "no-store");
});

Deno.test("handler: JSONP sends a message that is not JSON as a JSON string, U+2028 escaped", async () => {
  const { store, handler } = setUp();
  await store.publish("42", "line\u2028break </script>");
  const body = await (await handler(get("uid=42&jsonCallback=cb"))).text();
  assert.equal(body, '/**/cb("line\\u2028break </script>");');
  const calls: unknown[] = [];
  new Function("cb", body)((value: unknown) => calls.push(value));
  assert.deepEqual(calls, ["line\u2028break </script>"]);
});

Deno.test("handler: the stop code goes through JSONP too", async () => {
  const { clock, handler } = setUp({ minWait: 0.2, maxWait: 0.5 });
  const poll = handler(get("uid=42&jsonCallback=cb"));
  const state = start(poll);
  await clock.runUntil(() => state.response !== undefined, { what: "the stop code" });
  const response = await poll;
  assert.equal(await response.text(), '/**/cb({"stop":1},{"stop":true});');
  assert.equal(response.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.equal(response.headers.get("x-stop"), "true");
  assert.equal(clock.elapsed, 600);
});

Deno.test("handler: a held poll gets a message published later, with the same headers", async () => {
  const { store, handler } = setUp();
  const poll = handler(get("uid=42"));
  await until(() => handler.held === 1, "the poll being held");
  assert.equal(handler.metrics.held, 1);
  await store.publish("42", '{"late":true}');
  const response = await poll;
  assert.equal(response.status, 200);
  assert.equal(await response.text(), '{"late":true}');
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.equal(handler.held, 0);
  assert.equal(handler.metrics.held, 0);
});

Deno.test("handler: HEAD answers 200 and consumes nothing", async () => {
  const { store, handler } = setUp();
  await store.publish("42", "kept");
  const response = await handler(get("uid=42", { method: "HEAD" }));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.equal(await response.text(), "");
  assert.equal(store.size("42"), 1);
  assert.equal(store.pops.length, 0);
  assert.equal(await (await handler(get("uid=42"))).text(), "kept");
});

Deno.test("handler: HEAD still validates the request", async () => {
  const { handler } = setUp();
  const response = await handler(get("sign=x", { method: "HEAD" }));
  assert.equal(response.status, 400);
});

Deno.test("handler: OPTIONS echoes an allowed origin, with Vary", async () => {
  const { handler } = setUp({ corsOrigins: ["https://app.example"] });
  const response = await handler(
    get("uid=42", { method: "OPTIONS", headers: { Origin: "https://app.example" } }),
  );
  assert.equal(response.status, 204);
  assert.equal(response.headers.get("access-control-allow-origin"), "https://app.example");
  assert.equal(response.headers.get("vary"), "Origin");
  assert.match(response.headers.get("access-control-allow-methods") ?? "", /GET/);
  assert.equal(response.headers.get("allow"), "GET, HEAD, OPTIONS");
  assert.equal(response.headers.get("cache-control"), "no-store");
});

Deno.test("handler: OPTIONS and GET from an origin off the allowlist get no CORS headers", async () => {
  const { store, handler } = setUp({ corsOrigins: ["https://app.example"] });
  const headers = { Origin: "https://evil.example" };
  const preflight = await handler(get("uid=42", { method: "OPTIONS", headers }));
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), null);
  assert.equal(preflight.headers.get("access-control-allow-methods"), null);
  await store.publish("42", "m");
  const response = await handler(get("uid=42", { headers }));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("access-control-allow-origin"), null);
});

Deno.test("handler: GET from an allowed origin carries the CORS headers", async () => {
  const { store, handler } = setUp({ corsOrigins: ["https://a.example", "https://b.example"] });
  await store.publish("42", "m");
  const response = await handler(get("uid=42", { headers: { Origin: "https://b.example" } }));
  assert.equal(response.headers.get("access-control-allow-origin"), "https://b.example");
  assert.equal(response.headers.get("vary"), "Origin");
});

Deno.test("handler: CORS is off by default, and '*' allows any origin", async () => {
  const off = setUp();
  const request = () =>
    get("uid=42", { method: "OPTIONS", headers: { Origin: "https://any.example" } });
  assert.equal((await off.handler(request())).headers.get("access-control-allow-origin"), null);
  const any = setUp({ corsOrigins: ["*"] });
  assert.equal((await any.handler(request())).headers.get("access-control-allow-origin"), "*");
});

Deno.test("handler: a valid HMAC signature gets the message", async () => {
  const { store, handler } = setUp({ secret: "s3cret" });
  await store.publish("42", "signed");
  const response = await handler(get(`uid=42&sign=${hmac("s3cret", "42")}`));
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "signed");
});

Deno.test("handler: a valid signature with exp gets the message until exp, on the handler's clock", async () => {
  const { clock, store, handler } = setUp({ secret: "s3cret" });
  const exp = clock.now() / 1000 + 60;
  const query = `uid=42&exp=${exp}&sign=${hmac("s3cret", `42\n${exp}`)}`;
  await store.publish("42", "first");
  await store.publish("42", "second");
  assert.equal(await (await handler(get(query))).text(), "first");
  await clock.advance(60_000);
  const late = await handler(get(query));
  assert.equal(late.status, 403);
  assert.deepEqual(await late.json(), { error: 'Cannot verify signature: "exp" has passed' });
  assert.equal(store.size("42"), 1);
});

Deno.test("handler: a custom verify replaces the HMAC check", async () => {
  const seen: [string, string, string][] = [];
  const { store, handler } = setUp({
    secret: "ignored when verify is given",
    verify: (uid, sign, url) => {
      seen.push([uid, sign, url.pathname]);
      return sign === `legacy-${uid}`;
    },
  });
  await store.publish("42", "m");
  const refused = await handler(get("uid=42&sign=nope"));
  assert.equal(refused.status, 403);
  assert.deepEqual(await refused.json(), { error: 'Cannot verify signature: "sign" was refused' });
  assert.equal(store.size("42"), 1);
  const accepted = await handler(get("uid=42&sign=legacy-42"));
  assert.equal(accepted.status, 200);
  assert.equal(await accepted.text(), "m");
  assert.deepEqual(seen, [["42", "nope", "/"], ["42", "legacy-42", "/"]]);
});

Deno.test("handler: an async verify that throws refuses the poll and reports the error", async () => {
  const { store, handler, errors } = setUp({
    verify: () => Promise.reject(new Error("legacy backend down")),
  });
  await store.publish("42", "m");
  const response = await handler(get("uid=42&sign=x"));
  assert.equal(response.status, 403);
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as Error).message, "legacy backend down");
  assert.equal(store.size("42"), 1);
});

Deno.test("handler: parameter names can be changed", async () => {
  const { store, handler } = setUp({ params: { uid: "user", callback: "cb" } });
  await store.publish("42", "1");
  const response = await handler(get("user=42&cb=f"));
  assert.equal(await response.text(), "/**/f(1);");
  const missing = await handler(get("uid=42"));
  assert.deepEqual(await missing.json(), { error: 'Cannot poll: "user" is missing' });
});

Deno.test("handler: a client that aborts stops polling, and releases its timer and listener", async () => {
  const { clock, store, handler } = setUp();
  const controller = new AbortController();
  const poll = handler(get("uid=42", { signal: controller.signal }));
  await until(() => handler.held === 1, "the poll being held");
  await clock.advance(20_000);
  assert.deepEqual(store.popTimes("42"), [0, 15_000]);
  assert.equal(store.watching, 1);

  controller.abort();
  const response = await poll;
  assert.equal(handler.held, 0);
  assert.equal(handler.metrics.held, 0);
  assert.equal(handler.metrics.abandoned, 1);
  assert.equal(store.watching, 0, "the store no longer wakes it");
  assert.equal(clock.pending, 0, "no timer is left");
  assert.notEqual(response.status, 200);

  await store.publish("42", "for the next poll");
  await clock.advance(1_000_000);
  assert.deepEqual(store.popTimes("42"), [0, 15_000], "no pop after the abort");
  assert.equal(store.size("42"), 1, "the message is not lost");
  assert.equal(await (await handler(get("uid=42"))).text(), "for the next poll");
});

Deno.test("handler: a message popped while the client aborts goes back to the head of its list", async () => {
  const { store, handler } = setUp();
  const controller = new AbortController();
  const poll = handler(get("uid=42", { signal: controller.signal }));
  await until(() => handler.held === 1, "the poll being held");

  const { paused, release } = store.pauseNextPop();
  await store.publish("42", "in flight");
  await store.publish("42", "second");
  assert.equal(await paused, "in flight");
  controller.abort();
  release();
  await poll;
  await until(() => store.pushedBack.length === 1, "the push back");

  assert.equal(store.size("42"), 2);
  assert.equal(handler.metrics.pushedBack, 1);
  assert.equal(handler.metrics.delivered, 0);
  assert.equal(await (await handler(get("uid=42"))).text(), "in flight", "still first in line");
  assert.equal(await (await handler(get("uid=42"))).text(), "second");
});

Deno.test("handler: a request aborted before it starts pops nothing", async () => {
  const { store, handler } = setUp();
  await store.publish("42", "m");
  const response = await handler(get("uid=42", { signal: AbortSignal.abort() }));
  assert.notEqual(response.status, 200);
  assert.equal(store.pops.length, 0);
  assert.equal(store.size("42"), 1);
});

Deno.test("handler: drain answers held polls with the stop code, and later polls at once", async () => {
  const { store, handler } = setUp();
  const polls = ["1", "2", "3"].map((uid) => handler(get(`uid=${uid}`)));
  await until(() => handler.held === 3, "three polls being held");
  await store.publish("9", "kept");

  await handler.drain();
  const bodies = await Promise.all(polls.map(async (poll) => (await poll).text()));
  assert.deepEqual(bodies, ['{"stop":1}', '{"stop":1}', '{"stop":1}']);
  assert.equal(handler.held, 0);
  assert.equal(store.watching, 0);

  const popsBefore = store.pops.length;
  const later = await handler(get("uid=9&jsonCallback=cb"));
  assert.equal(later.status, 200);
  assert.equal(await later.text(), '/**/cb({"stop":1},{"stop":true});');
  assert.equal(later.headers.get("x-stop"), "true", "a drain's stop is marked too");
  assert.equal(store.pops.length, popsBefore, "no pop while draining");
  assert.equal(store.size("9"), 1, "the queued message is not lost");
  assert.equal(handler.metrics.drained, 4);
});

Deno.test("handler: drain spreads the stop answers over windowMs", async () => {
  const { clock, handler } = setUp();
  const answered: number[] = [];
  const polls = ["1", "2", "3", "4"].map((uid) =>
    handler(get(`uid=${uid}`)).then((response) => {
      answered.push(clock.elapsed);
      return response;
    })
  );
  await until(() => handler.held === 4, "four polls being held");
  let drained = false;
  const drain = handler.drain({ windowMs: 1_000 }).then(() => (drained = true));

  await clock.advance(0);
  assert.ok(answered.length >= 1 && answered.length < 4, `${answered.length} answered at once`);
  await clock.advance(500);
  assert.ok(answered.length < 4, `${answered.length} answered by 500 ms`);
  assert.equal(drained, false);
  await clock.advance(500);
  assert.equal(answered.length, 4);
  await drain;
  assert.ok(answered.every((at) => at <= 1_000));
  assert.ok(answered.at(-1)! > 500, "the last answer comes late in the window");
  for (const poll of polls) assert.equal(await (await poll).text(), '{"stop":1}');
});

Deno.test("handler: drain with nothing held resolves at once", async () => {
  const { handler } = setUp();
  await handler.drain({ windowMs: 5_000 });
  assert.equal(handler.held, 0);
});

Deno.test("handler: over maxHeld, a poll that would wait gets 503 with Retry-After", async () => {
  const { store, handler } = setUp({ maxHeld: 1, retryAfter: 3 });
  const first = handler(get("uid=1"));
  await until(() => handler.held === 1, "the first poll being held");

  const refused = await handler(get("uid=2"));
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get("retry-after"), "3");
  assert.equal(refused.headers.get("cache-control"), "no-store");
  assert.deepEqual(await refused.json(), { error: "Cannot poll: the server holds too many polls" });
  assert.equal(handler.held, 1);
  assert.equal(handler.metrics.errors.get(503), 1);

  await store.publish("3", "waiting");
  const immediate = await handler(get("uid=3"));
  assert.equal(await immediate.text(), "waiting", "a waiting message is still delivered");

  await store.publish("1", "done");
  assert.equal(await (await first).text(), "done");
  await store.publish("2", "later");
  assert.equal(await (await handler(get("uid=2"))).text(), "later");
});

Deno.test("handler: a store that fails on the first pop gives 503 with Retry-After", async () => {
  const inner = new MemoryStore();
  await inner.publish("42", "m");
  await inner.close();
  const errors: unknown[] = [];
  const lines: string[] = [];
  const handler = createLongPollHandler({
    store: inner,
    clock: new FakeClock(),
    onError: (error) => errors.push(error),
    logger: createLogger({ write: (_level, line) => lines.push(line) }),
  });
  const plain = await handler(get("uid=42"));
  assert.equal(plain.status, 503);
  assert.equal(plain.headers.get("retry-after"), "1");
  assert.deepEqual(await plain.json(), { error: "Cannot poll: the message store is unavailable" });
  // Through JSONP: 200, so the page's script runs, with what the status said.
  const response = await handler(get("uid=42&jsonCallback=cb"));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("retry-after"), "1");
  assert.equal(
    await response.text(),
    '/**/cb({"error":"Cannot poll: the message store is unavailable","status":503,"retryAfter":1});',
  );
  assert.deepEqual(errors, [], "a store failure is no bug");
  assert.equal(handler.metrics.storeErrors, 2);
  assert.deepEqual(lines, [
    "WARNING: Cannot reach the message store: Cannot pop: the memory store is closed; polls get 503 until it is back",
  ], "one line for the whole outage");
});

async function readAll(response: Response): Promise<string> {
  return await new Response(response.body).text();
}

Deno.test("handler: earlyHeaders returns the headers at once and the message later", async () => {
  const { store, handler } = setUp({ earlyHeaders: true });
  const response = await handler(get("uid=42&jsonCallback=cb"));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.equal(handler.held, 1, "the poll is still held after the headers");
  const body = readAll(response);
  await store.publish("42", '{"hi":1}');
  assert.equal(await body, '/**/cb({"hi":1});');
  assert.equal(handler.held, 0);
  assert.equal(store.size("42"), 0);
});

Deno.test("handler: earlyHeaders with a waiting message answers like a plain poll", async () => {
  const { store, handler } = setUp({ earlyHeaders: true });
  await store.publish("42", "now");
  const response = await handler(get("uid=42"));
  assert.equal(await response.text(), "now");
  assert.equal(handler.held, 0);
});

Deno.test("handler: earlyHeaders sends the stop code as the body when the hold runs out", async () => {
  const { clock, handler } = setUp({ earlyHeaders: true, minWait: 0.2, maxWait: 0.5 });
  const response = await handler(get("uid=42"));
  const state = { text: undefined as string | undefined };
  readAll(response).then((text) => (state.text = text));
  await clock.runUntil(() => state.text !== undefined, { what: "the end of the body" });
  assert.equal(state.text, '{"stop":1}');
  assert.equal(clock.elapsed, 600);
});

Deno.test("handler: cancelling an early body abandons the hold and loses no message", async () => {
  const { clock, store, handler, errors } = setUp({ earlyHeaders: true });
  const response = await handler(get("uid=42"));
  assert.equal(handler.held, 1);
  await response.body!.cancel();
  assert.equal(handler.held, 0);
  assert.equal(store.watching, 0);
  assert.equal(clock.pending, 0);
  assert.equal(handler.metrics.abandoned, 1);

  await store.publish("42", "kept");
  await clock.advance(1_000_000);
  assert.equal(store.size("42"), 1);
  assert.deepEqual(errors, []);
  await handler.drain(); // resolves: the abandoned poll is settled
  assert.equal(store.size("42"), 1);
});

Deno.test("handler: an early body cancelled while its message is popped puts it back", async () => {
  const { store, handler } = setUp({ earlyHeaders: true });
  const response = await handler(get("uid=42"));
  const { paused, release } = store.pauseNextPop();
  await store.publish("42", "in flight");
  assert.equal(await paused, "in flight");
  await response.body!.cancel();
  release();
  await until(() => store.pushedBack.length === 1, "the push back");
  assert.equal(store.size("42"), 1);
  assert.equal(await (await handler(get("uid=42"))).text(), "in flight");
});

Deno.test("handler: a held poll ended by drain with earlyHeaders closes the body with the stop code", async () => {
  const { handler } = setUp({ earlyHeaders: true });
  const response = await handler(get("uid=42"));
  const body = readAll(response);
  await handler.drain();
  assert.equal(await body, '{"stop":1}');
});

Deno.test("handler: options out of range are refused when the handler is created", () => {
  const store = new MemoryStore();
  const bad: [string, Record<string, number>][] = [
    ["minWait", { minWait: 0 }],
    ["minWait", { minWait: Number.NaN }],
    ["maxWait", { maxWait: -1 }],
    ["lease", { lease: 0 }],
    ["maxPollsPerUid", { maxPollsPerUid: 0 }],
    ["maxPollsPerUid", { maxPollsPerUid: 1.5 }],
    ["maxHeld", { maxHeld: 0 }],
    ["presenceLinger", { presenceLinger: -1 }],
    ["presenceLinger", { presenceLinger: Number.POSITIVE_INFINITY }],
  ];
  for (const [name, options] of bad) {
    assert.throws(() => createLongPollHandler({ store, ...options }), {
      name: "RangeError",
      message: `Cannot create handler: "${name}" is out of range, got ${Object.values(options)[0]}`,
    });
  }
});
