/**
 * Browser tests: real headless Chromium (Debian's `/usr/bin/chromium`,
 * driven by npm `playwright-core`) against the server on `Deno.serve`.
 *
 * - JSONP through a `<script>` tag delivers a message to the callback, and
 *   hostile messages arrive as data without running anything.
 * - CORS: `fetch()` from an allowlisted origin reads a poll; from another
 *   origin it fails (while JSONP still works there).
 * - A long-poll loop in the page receives messages in order, then the stop
 *   code when the hold runs out.
 *
 * Where `/usr/bin/chromium` is missing, the tests are skipped with one line
 * saying so; `REQUIRE_BROWSER=1` turns that skip into a failure.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { createServer, type Server } from "../src/server/app.ts";
import { MemoryStore } from "../src/store/memory.ts";
import { checkChromium, chromiumTest, launchChromium, servePage } from "../testing/chromium.ts";
import { startServe } from "../testing/serve_process.ts";
import { waitUntil } from "../testing/wait_until.ts";

const TESTS = 7;
const haveChromium = checkChromium(TESTS);

browserTest("the client module polls, delivers in order, and stops", async (env) => {
  const page = await env.open(env.allowed);
  await _startClient(page, { api: env.api, uid: "c1" });
  await waitUntil(() => env.server.handler.held === 1, { what: "the client's poll to be held" });
  await env.store.publish("c1", '{"n":1}');
  await env.store.publish("c1", "two");
  await env.store.publish("c1", '{"n":3}');
  await waitUntil(() => env.store.size("c1") === 0, { what: "the client to take all three" });
  const received = await page.waitForFunction(
    () => {
      const list = (window as unknown as { clientReceived: string[] }).clientReceived;
      return list.length >= 3 ? list : null;
    },
  ).then((handle) => handle.jsonValue());
  assert.deepEqual(received, ['{"n":1}', "two", '{"n":3}']);
  const ended = await page.evaluate(() => {
    const w = window as unknown as { client: { stop(): void }; clientEnded: string | null };
    w.client.stop();
    return w.clientEnded;
  });
  assert.equal(ended, "stopped");
  assert.deepEqual(
    await page.evaluate(() => (window as unknown as { pageErrors: string[] }).pageErrors),
    [],
  );
});

browserTest(
  "the client takes batches with max: a burst arrives in order, in few polls",
  async (env) => {
    for (let i = 1; i <= 12; i++) {
      await env.store.publish(
        "c2",
        i % 3 === 0 ? `plain ${i}` : `{"n":${i}}`,
      );
    }
    const page = await env.open(env.allowed);
    await _startClient(page, { api: env.api, uid: "c2", max: 5 });
    const received = await page.waitForFunction(
      () => {
        const list = (window as unknown as { clientReceived: string[] }).clientReceived;
        return list.length >= 12 ? list : null;
      },
    ).then((handle) => handle.jsonValue());
    await page.evaluate(() => (window as unknown as { client: { stop(): void } }).client.stop());
    assert.deepEqual(
      received,
      Array.from({ length: 12 }, (_, k) => k + 1).map((i) =>
        i % 3 === 0 ? JSON.stringify(`plain ${i}`) : `{"n":${i}}`
      ),
    );
    assert.equal(env.server.handler.metrics.delivered, 3, "12 messages in 3 answers of up to 5");
  },
);

browserTest("the /demo page listens, publishes and shows the message", async (env) => {
  await using server = await startServe({ DEMO: "true", MIN_WAIT: "0.5", MAX_WAIT: "1" });
  const page = await env.open(env.allowed);
  await page.goto(`${server.origin}/demo`);
  const log = () => page.textContent("#log").then((text) => text ?? "");
  const waitForLog = async (part: string) => {
    let shown = "";
    await waitUntil(async () => (shown = await log()).includes(part), {
      what: () => `the log to show ${part}; it shows ${shown}`,
      intervalMs: 20,
    });
  };
  await page.fill("#uid", "demo-uid");
  await page.click("#listen");
  await waitForLog("listening to uid demo-uid");
  await page.fill("#message", '{"from":"the form"}');
  await page.click("#publish button");
  await waitForLog('{"from":"the form"}');
  // The stop code keeps the loop going: a later message still arrives.
  await waitForLog("the hold ran out");
  await page.fill("#message", "second");
  await page.click("#publish button");
  await waitForLog("second");
  assert.equal(await page.locator("#log .error").count(), 0, await log());
});

/**
 * Starts the browser client in `page` for `uid`: what it receives goes to
 * `window.clientReceived`, how it ended to `window.clientEnded`.
 */
function _startClient(page: Page, options: { api: string; uid: string; max?: number }) {
  return page.evaluate(async ({ api, uid, max }) => {
    const { createLongPollClient } = await import("/client.js");
    const w = window as unknown as Record<string, unknown>;
    const received: string[] = [];
    w.clientReceived = received;
    w.clientEnded = null;
    w.client = createLongPollClient({
      url: `${api}/`,
      uid,
      max,
      onMessage: (message: string) => {
        received.push(message);
      },
      onEnd: (reason: string) => (w.clientEnded = reason),
    });
    (w.client as { start(): void }).start();
  }, options);
}

/** Runs `fn` with a fresh browser, API server and page origins; cleans up always. */
function browserTest(name: string, fn: (env: _Env) => Promise<void>): void {
  chromiumTest(`browser: ${name}`, !haveChromium, async () => {
    await using env = await _start();
    await fn(env);
    assert.deepEqual(env.errors, [], "the server reported errors");
  });
}

browserTest(
  "JSONP through a <script> tag delivers messages; hostile ones stay data",
  async (env) => {
    const page = await env.open(env.allowed);
    const api = env.api;

    // A plain message, to a callback path.
    await env.store.publish("j1", '{"hello":"world","n":1}');
    const plain = await _jsonp(page, `${api}/?uid=j1&jsonCallback=app.onMessage`, "app.onMessage");
    assert.deepEqual(plain, { loaded: true, calls: [[{ hello: "world", n: 1 }]] });

    // Hostile messages: each must reach the callback as data, exactly.
    const hostile: [string, unknown][] = [
      ["</script><script>pwned.push(1)</script>", "</script><script>pwned.push(1)</script>"],
      ['");pwned.push(2);//', '");pwned.push(2);//'],
      ["*/pwned.push(3)/*", "*/pwned.push(3)/*"],
      ["\u2028pwned.push(4)\u2029", "\u2028pwned.push(4)\u2029"],
      ["pwned.push(5)", "pwned.push(5)"],
      [
        '{"a":"</script><script>pwned.push(6)</script>","b":"\u2028\u2029"}',
        { a: "</script><script>pwned.push(6)</script>", b: "\u2028\u2029" },
      ],
      [
        "not json at all: {'stop':1} \\ \" ' `${pwned.push(7)}`",
        "not json at all: {'stop':1} \\ \" ' `${pwned.push(7)}`",
      ],
      ["})(pwned.push(8)", "})(pwned.push(8)"],
    ];
    for (const [i, [message, expected]] of hostile.entries()) {
      await env.store.publish(`h${i}`, message);
      const result = await _jsonp(page, `${api}/?uid=h${i}&jsonCallback=onHostile`, "onHostile");
      assert.deepEqual(result, { loaded: true, calls: [[expected]] }, `hostile message ${i}`);
    }

    // A refused callback name: a JSON 400 with nosniff, which the browser won't run.
    await env.store.publish("j2", '{"never":"delivered"}');
    const refused = await _jsonp(page, `${api}/?uid=j2&jsonCallback=pwned.push(9)//`, "cb");
    assert.deepEqual(refused, { loaded: false, calls: [] });
    assert.equal(env.store.size("j2"), 1, "a refused poll must not pop the message");

    assert.deepEqual(await page.evaluate("pwned"), [], "something hostile ran in the page");
    assert.deepEqual(await page.evaluate("pageErrors"), []);
  },
);

browserTest(
  "JSONP: __proto__ keys arrive as plain properties, and a callback that evaluates is refused",
  async (env) => {
    const page = await env.open(env.allowed);
    const messages = [
      '{"__proto__":{"isAdmin":true}}',
      '{"__proto__":1,"__proto__":{"isAdmin":true}}',
      '{"\\u005f_proto__":{"isAdmin":true},"inner":{"__proto__":{"isAdmin":true}}}',
    ];
    for (const [i, message] of messages.entries()) {
      await env.store.publish(`p${i}`, message);
      const result = await _jsonp(page, `${env.api}/?uid=p${i}&jsonCallback=cb`, "cb");
      assert.equal(result.loaded, true, `message ${i} did not load`);
      const seen = await page.evaluate(() => {
        const [[value]] = (window as unknown as { lastCalls: [Record<string, unknown>][] })
          .lastCalls;
        return {
          json: JSON.stringify(value),
          ownProto: Object.hasOwn(value, "__proto__"),
          plainPrototype: Object.getPrototypeOf(value) === Object.prototype,
          isAdmin: value.isAdmin ?? null,
        };
      });
      assert.deepEqual(
        seen,
        {
          json: JSON.stringify(JSON.parse(message)),
          ownProto: true,
          plainPrototype: true,
          isAdmin: null,
        },
        `message ${i}: ${message}`,
      );
      assert.equal(env.store.size(`p${i}`), 0);
    }
    // A batch holding one goes the same way.
    await env.store.publish("pb", '{"__proto__":{"isAdmin":true},"__proto__":2}');
    const batch = await _jsonp(page, `${env.api}/?uid=pb&max=4&jsonCallback=cb`, "cb");
    assert.equal(batch.loaded, true);
    const array = await page.evaluate(() => {
      const [[[value]]] = (window as unknown as { lastCalls: [[Record<string, unknown>]][] })
        .lastCalls;
      return { json: JSON.stringify(value), isAdmin: value.isAdmin ?? null };
    });
    assert.deepEqual(array, { json: '{"__proto__":2}', isAdmin: null });

    // eval as the callback would run the message: refused, and the message waits.
    await env.store.publish("pe", "pwned.push(10)");
    const refused = await _jsonp(page, `${env.api}/?uid=pe&jsonCallback=eval`, "cb");
    assert.deepEqual(refused, { loaded: false, calls: [] });
    assert.equal(env.store.size("pe"), 1, "a refused poll must not pop the message");
    assert.deepEqual(await page.evaluate("pwned"), []);
    assert.deepEqual(await page.evaluate("pageErrors"), []);
  },
);

browserTest(
  "fetch() reads a poll from an allowed origin only (CORS); JSONP works anywhere",
  async (env) => {
    // Allowed origin: the poll's body is readable.
    const allowedPage = await env.open(env.allowed);
    await env.store.publish("c1", '{"cors":"allowed"}');
    const allowed = await _fetch(allowedPage, `${env.api}/?uid=c1`);
    assert.deepEqual(allowed, {
      ok: true,
      status: 200,
      body: '{"cors":"allowed"}',
      cacheControl: "no-store",
    });
    // (Access-Control-Allow-Origin itself is not readable from page scripts.)
    const granted = env.requests.filter((r) => r.path === "/" && r.origin === env.allowed);
    assert.deepEqual(granted.map((r) => r.allowOrigin), [env.allowed]);

    // Another origin: the request reaches the server, which answers without
    // Access-Control-Allow-Origin, so the browser refuses to hand it over.
    const otherPage = await env.open(env.other);
    const requestsBefore = env.requests.length;
    const other = await _fetch(otherPage, `${env.api}/?uid=c2`);
    assert.equal(other.ok, false, `a disallowed origin read the poll: ${JSON.stringify(other)}`);
    assert.match(String(other.error), /TypeError/);
    const seen = env.requests.slice(requestsBefore).filter((r) => r.path === "/");
    assert.equal(seen.length, 1, "the disallowed fetch never reached the server");
    assert.equal(seen[0].origin, env.other);
    assert.equal(seen[0].allowOrigin, null);

    // JSONP needs no CORS: the other origin still gets messages that way.
    await env.store.publish("c3", '{"via":"jsonp"}');
    const jsonp = await _jsonp(otherPage, `${env.api}/?uid=c3&jsonCallback=cb`, "cb");
    assert.deepEqual(jsonp, { loaded: true, calls: [[{ via: "jsonp" }]] });
  },
);

browserTest(
  "a long-poll loop in the page gets messages in order, then the stop code",
  async (env) => {
    const page = await env.open(env.allowed);
    // `void`: evaluate must not wait for the loop to finish.
    await page.evaluate(`void startLoop(${JSON.stringify(`${env.api}/?uid=loop`)}, 3)`);

    // Publish while the page's poll is held: one, then two back to back.
    await waitUntil(() => env.server.handler.held === 1, {
      what: "the page's first poll to be held",
    });
    await env.store.publish("loop", '{"n":1}');
    await page.waitForFunction("received().length >= 1", undefined, { timeout: 10_000 });
    await waitUntil(() => env.server.handler.held === 1, {
      what: "the page's next poll to be held",
    });
    await env.store.publish("loop", '{"n":2}');
    await env.store.publish("loop", "third, not JSON");

    await page.waitForFunction("loopDone", undefined, { timeout: 15_000 });
    const results = await page.evaluate("loopResults") as { status: number; body: string }[];
    const messages = results.filter((r) => r.body !== '{"stop":1}');
    assert.deepEqual(messages, [
      { status: 200, body: '{"n":1}' },
      { status: 200, body: '{"n":2}' },
      { status: 200, body: "third, not JSON" },
    ]);
    // The loop ends on the stop code, when a hold runs out with nothing.
    assert.deepEqual(results.at(-1), { status: 200, body: '{"stop":1}' });
    assert.equal(await page.evaluate("loopError"), null);
    assert.equal(env.store.size("loop"), 0);
  },
);

// ---------------------------------------------------------------------------

interface _Env extends AsyncDisposable {
  store: MemoryStore;
  server: Server;
  /** The API server's origin. */
  api: string;
  /** A page origin on the CORS allowlist. */
  allowed: string;
  /** A page origin not on it. */
  other: string;
  /** What the API server answered, newest last. */
  requests: { path: string; origin: string | null; status: number; allowOrigin: string | null }[];
  errors: unknown[];
  open(origin: string): Promise<Page>;
}

/** The test page: helpers the tests call through `page.evaluate`. */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>longpoll browser test</title>
<script>
  // Hostile messages push here if they ever run.
  window.pwned = [];
  window.pageErrors = [];
  addEventListener("error", (event) => pageErrors.push(String(event.message)));

  // Loads src as a script; resolves with whether it loaded and what the
  // callback at callbackPath received (kept in lastCalls too, unserialized).
  function jsonp(src, callbackPath) {
    return new Promise((resolve) => {
      const calls = window.lastCalls = [];
      const names = callbackPath.split(".");
      let owner = window;
      for (const name of names.slice(0, -1)) owner = owner[name] ??= {};
      owner[names.at(-1)] = (...args) => calls.push(args);
      const script = document.createElement("script");
      script.src = src;
      script.onload = () => resolve({ loaded: true, calls });
      script.onerror = () => resolve({ loaded: false, calls });
      document.head.append(script);
    });
  }

  async function readPoll(url) {
    try {
      const response = await fetch(url);
      return {
        ok: true,
        status: response.status,
        body: await response.text(),
        cacheControl: response.headers.get("cache-control"),
      };
    } catch (error) {
      return { ok: false, error: String(error) };
    }
  }

  // The classic long-poll loop: poll, handle, poll again. Stops on the stop
  // code once it has the messages it expects.
  window.loopResults = [];
  window.loopDone = false;
  window.loopError = null;
  const received = () => loopResults.filter((r) => r.body !== '{"stop":1}');
  async function startLoop(url, expected) {
    try {
      for (;;) {
        const response = await fetch(url);
        const body = await response.text();
        loopResults.push({ status: response.status, body });
        if (body === '{"stop":1}' && received().length >= expected) break;
        if (loopResults.length > 50) throw new Error("too many polls");
      }
    } catch (error) {
      loopError = String(error);
    }
    loopDone = true;
  }
</script>
<p>longpoll browser test</p>
`;

async function _start(): Promise<_Env> {
  await using stack = new AsyncDisposableStack();
  const store = new MemoryStore();
  stack.defer(() => store.close());

  const allowed = stack.use(servePage(PAGE)).origin;
  const other = stack.use(servePage(PAGE)).origin;

  const errors: unknown[] = [];
  const requests: _Env["requests"] = [];
  const server = createServer({
    store,
    minWait: 0.2,
    maxWait: 0.4,
    corsOrigins: [allowed],
    onError: (error) => errors.push(error),
  });
  const api = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const response = await server.fetch(request);
    requests.push({
      path: new URL(request.url).pathname,
      origin: request.headers.get("origin"),
      status: response.status,
      allowOrigin: response.headers.get("access-control-allow-origin"),
    });
    return response;
  });
  stack.defer(() => api.shutdown());
  // Held polls end at once with the stop code, so shutdown doesn't wait.
  stack.defer(() => server.drain());

  const browser = await launchChromium();
  stack.defer(() => browser.close());

  const open = async (origin: string) => {
    const page = await browser.newPage();
    await page.goto(`${origin}/`);
    return page;
  };
  const resources = stack.move();
  return {
    store,
    server,
    api: `http://127.0.0.1:${api.addr.port}`,
    allowed,
    other,
    requests,
    errors,
    open,
    [Symbol.asyncDispose]: () => resources.disposeAsync(),
  };
}

/** Loads a JSONP script in the page; see `jsonp` in the page. */
function _jsonp(
  page: Page,
  src: string,
  callbackPath: string,
): Promise<{ loaded: boolean; calls: unknown[][] }> {
  return page.evaluate(`jsonp(${JSON.stringify(src)}, ${JSON.stringify(callbackPath)})`);
}

/** fetch() in the page; see `readPoll` in the page. */
function _fetch(page: Page, url: string): Promise<Record<string, unknown>> {
  return page.evaluate(`readPoll(${JSON.stringify(url)})`);
}
