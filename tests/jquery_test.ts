/**
 * jQuery JSONP loops as sites write them (npm `jquery`, `dataType: "jsonp"`,
 * `jsonp: "jsonCallback"`), in real Chromium, through the shipped nginx.conf
 * (see testing/nginx.ts), on real Redis:
 *
 * - with `max=`, every delivery is an array, so a message equal to the stop
 *   code is told from the stop;
 * - errors reach the loop's success callback as `{error, status,
 *   retryAfter}`: 403 (bad or expired signature), 409 (a newer poll of the
 *   uid), 503 (too many held polls), told apart from messages and the stop
 *   code, and jQuery's error callback never runs;
 * - a loop whose jQuery `timeout` is shorter than the hold loses messages
 *   (jQuery drops the poll, Chromium keeps the script request open, the
 *   server delivers into it); with `wait` below the timeout it loses none;
 * - a drain (SIGTERM) answers a held poll woken by its message at once, so
 *   the client polls the other process through nginx and gets the message
 *   within milliseconds rather than after the drain window.
 *
 * Where Chromium or nginx is missing, the tests are skipped with one line
 * saying so (`REQUIRE_BROWSER=1` fails instead); where redis-server is
 * missing, likewise (`REQUIRE_REDIS=1` fails instead).
 */
// Brings npm jquery into Deno's npm cache with the test; the page gets its
// browser build, dist/jquery.js, resolved below.
import "jquery/factory";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM, haveChromium, launchChromium } from "../testing/chromium.ts";
import { signer, type Stack, type StackOptions, startStack } from "../testing/nginx.ts";
import { heldPolls, waitUntilHeld } from "../testing/held_polls.ts";
import { haveRedis } from "../testing/redis_gate.ts";
import { canRun } from "../testing/can_run.ts";
import { sleep, waitUntil } from "../testing/wait_until.ts";
import type { ServeProcess } from "../testing/serve_process.ts";

const TESTS = 4;
const haveNginx = await canRun("nginx", ["-v"]);
const missing = [
  ...(haveChromium ? [] : [CHROMIUM]),
  ...(haveNginx ? [] : ["nginx"]),
  ...(haveRedis ? [] : ["redis-server"]),
];
const browserParts = missing.filter((part) => part !== "redis-server");
if (browserParts.length > 0 && Deno.env.get("REQUIRE_BROWSER") === "1") {
  throw new Error(
    `Cannot run jQuery tests: REQUIRE_BROWSER=1 but ${browserParts.join(" and ")} is not found`,
  );
}
if (missing.length > 0) {
  console.log(
    `Skipping ${TESTS} jQuery tests: ${missing.join(" and ")} not found ` +
      `(install it, or set REQUIRE_BROWSER=1 / REQUIRE_REDIS=1 to fail instead)`,
  );
}

const JQUERY = missing.length > 0
  ? ""
  : await Deno.readTextFile(createRequire(import.meta.url).resolve("jquery"));

/** jQuery's timeout of the loops that give up early, in ms. */
const TIMEOUT_MS = 2000;
/** Messages per run of a loop that gives up early. */
const MESSAGES = 30;
/** Messages per burst of such a run. */
const BURST = 6;

jqueryTest("errors reach the success callback, told apart from messages and the stop code", {
  processes: 1,
  // Holds of 1 + 2 = 3 s; room for two held polls, so a third gets 503.
  env: { MIN_WAIT: "1", MAX_WAIT: "2", MAX_HELD: "2" },
}, async ({ stack, browser }) => {
  const page = await browser.open();
  const server = stack.processes[0];
  const url = `${stack.public}/`;
  const signed = async (uid: string) => ({ uid, sign: await signer.sign(uid) });

  // 403: a signature that does not match, and one whose `exp` has passed.
  const badSign = await _listen(page, url, { uid: "bad", sign: "0".repeat(64) });
  const exp = Math.floor(Date.now() / 1000) - 10;
  const expired = await _listen(page, url, {
    uid: "old",
    exp,
    sign: await signer.sign("old", exp),
  });
  // 409: a second loop of the uid takes the first one's place.
  const first = await _listen(page, url, await signed("tab"));
  await waitUntilHeld(server, 1, { intervalMs: 25 });
  const second = await _listen(page, url, await signed("tab"));
  await _waitForLoop(page, first, (loop) => loop.ended !== null, "the first loop to end");
  // 503: the process holds two polls already.
  await _listen(page, url, await signed("other"));
  await waitUntilHeld(server, 2, { intervalMs: 25 });
  const full = await _listen(page, url, await signed("full"));
  await _waitForLoop(page, full, (loop) => loop.errors.length > 0, "the 503");
  // It would poll again after retryAfter, and could take another's place.
  await page.evaluate(`loops[${full}].running = false`);

  // A message and the stop code, to the loop that took over.
  await stack.redis.cli("LPUSH", "Q/MSGtab", '{"n":1}');
  await _waitForLoop(page, second, (loop) => loop.stops > 0, "the stop code");

  const loops = await _loops(page);
  assert.deepEqual(loops[badSign].errors, [
    { error: 'Cannot verify signature: "sign" does not match', status: 403 },
  ]);
  assert.equal(loops[badSign].ended, 403);
  assert.deepEqual(loops[expired].errors, [
    { error: 'Cannot verify signature: "exp" has passed', status: 403 },
  ]);
  assert.deepEqual(loops[first].errors, [
    { error: 'Cannot hold: a newer poll of the same "uid" took its place', status: 409 },
  ]);
  assert.equal(loops[first].ended, 409);
  assert.deepEqual(loops[full].errors, [
    { error: "Cannot poll: the server holds too many polls", status: 503, retryAfter: 1 },
  ]);
  assert.deepEqual(loops[second].received.map((r) => r.message), [{ n: 1 }]);
  assert.deepEqual(loops[second].errors, []);
  for (const [i, loop] of loops.entries()) {
    assert.deepEqual(loop.failures, [], `loop ${i}: jQuery's error callback ran`);
    if (i !== second) assert.deepEqual(loop.received, [], `loop ${i} got a message`);
  }
  assert.deepEqual(await page.evaluate("pageErrors"), []);
});

jqueryTest("with max=, a message equal to the stop code is a message, and the stop is the stop", {
  processes: 1,
  env: { MIN_WAIT: "0.5", MAX_WAIT: "0.5" },
}, async ({ stack, browser }) => {
  const page = await browser.open();
  await stack.redis.cli("LPUSH", "Q/MSGbatch", '{"stop":1}', '{"n":2}');
  const loop = await _listen(
    page,
    `${stack.public}/`,
    { uid: "batch", sign: await signer.sign("batch") },
    { max: 10 },
  );
  await _waitForLoop(page, loop, (loop) => loop.stops > 0, "the stop code after the batch");
  const seen = (await _loops(page))[loop];
  assert.deepEqual(seen.received.map((r) => r.message), [{ stop: 1 }, { n: 2 }]);
  assert.deepEqual(seen.errors, []);
  assert.deepEqual(seen.failures, []);
  assert.deepEqual(await page.evaluate("pageErrors"), []);
});

jqueryTest("a jQuery timeout shorter than the hold loses messages; wait below it loses none", {
  processes: 1,
  // Holds of 1 + 2 + 4 = 7 s, longer than the loops' 2 s timeout.
  env: { MIN_WAIT: "1", MAX_WAIT: "4" },
}, async ({ stack, browser }) => {
  // One producer feeds two loops, in two tabs: one without wait, one with.
  const [without, withWait] = await _giveUpRuns(stack, browser, [
    { uid: "nowait" },
    { uid: "wait", wait: 1 },
  ]);
  const lost = without.pushed.filter((n) => !without.received.includes(n));
  console.log(
    `jQuery timeout ${TIMEOUT_MS} ms, hold 7 s: without wait lost ${lost.length}/${MESSAGES} ` +
      `(${without.timeouts} timeouts); with wait=1 lost ` +
      `${MESSAGES - withWait.received.length}/${MESSAGES} (${withWait.timeouts} timeouts)`,
  );
  assert.ok(
    lost.length > 0,
    `without wait, a loop with a ${TIMEOUT_MS} ms timeout got all ${MESSAGES} messages ` +
      `(${without.timeouts} timeouts): the test can no longer show the loss`,
  );
  assert.ok(without.timeouts > 0);
  // The server delivered every message (see _giveUpRuns): the lost ones
  // went into scripts whose callback jQuery had removed, which fail in the
  // page (cross-origin, so the browser calls it "Script error.").
  assert.ok(without.pageErrors.length > 0, "no late script failed in the page");

  assert.deepEqual(withWait.received, withWait.pushed, "with wait: all, once, in order");
  assert.deepEqual(withWait.pageErrors, []);
});

jqueryTest("a drain answers a woken held poll at once; the message comes through nginx", {
  processes: 2,
  drainWindow: 5,
  // Holds of 2 + 4 + 8 = 14 s: no hold runs out during the test.
  env: { MIN_WAIT: "2", MAX_WAIT: "8" },
}, async ({ stack, browser }) => {
  const page = await browser.open();
  // Six: Chromium opens at most six connections to one host.
  const uids = Array.from({ length: 6 }, (_, i) => `d${i}`);
  const loops: number[] = [];
  for (const uid of uids) {
    loops.push(await _listen(page, `${stack.public}/`, { uid, sign: await signer.sign(uid) }));
  }
  const [draining] = stack.processes;
  await stack.waitUntilHeld(uids.length);
  const heldThere = await heldPolls(draining);
  assert.ok(heldThere >= 2, `nginx gave the first process ${heldThere} of ${uids.length} polls`);

  const exited = draining.stop("SIGTERM");
  await waitUntil(() => draining.output().includes("SIGTERM: draining"), {
    what: () => `the drain; the server printed\n${draining.output()}`,
    timeoutMs: 10_000,
    intervalMs: 25,
  });
  const pushedAt = new Map<string, number>();
  await Promise.all(uids.map((uid) => {
    pushedAt.set(uid, Date.now());
    return stack.redis.cli("LPUSH", `Q/MSG${uid}`, JSON.stringify({ uid }));
  }));
  await _waitForLoops(page, (all) => loops.every((i) => all[i].received.length > 0), "messages");
  assert.equal(await exited, 0, draining.output());

  const all = await _loops(page);
  const latencies = uids.map((uid, i) => all[loops[i]].received[0].at - pushedAt.get(uid)!);
  for (const [i, uid] of uids.entries()) {
    const loop = all[loops[i]];
    assert.deepEqual(loop.received.map((r) => r.message), [{ uid }]);
    assert.deepEqual([loop.errors, loop.failures], [[], []]);
  }
  console.log(
    `drain window 5 s, ${heldThere} polls held by the draining process: ` +
      `message latencies ${latencies.join(", ")} ms`,
  );
  // Woken polls that waited for their turn in the drain would take up to
  // (n - 1) / n of the 5 s window: 2.5 s or more, for the n >= 2 held there.
  assert.ok(
    Math.max(...latencies) < 1500,
    `messages pushed during the drain took ${latencies.join(", ")} ms`,
  );
});

// ---------------------------------------------------------------------------

/** What one loop of the page saw; see `listen` in the page. */
interface _Loop {
  received: { message: unknown; at: number }[];
  stops: number;
  errors: { error: string; status: number; retryAfter?: number }[];
  failures: { textStatus: string; at: number }[];
  /** The status of the error that ended the loop, if one did. */
  ended: number | null;
}

/** The test page: jQuery, and the loop of docs/browser_client.md. */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>longpoll jQuery test</title>
<script src="/jquery.js"></script>
<script>
  window.pageErrors = [];
  addEventListener("error", (event) => pageErrors.push(String(event.message)));
  window.loops = [];

  // A long-poll loop: a message, the stop code and an error told apart.
  // With options.max it polls with max=, and every delivery is an array.
  // On an error with retryAfter (503) it polls again after that; on any
  // other error (403: sign again; 409: another tab took over) it ends. When
  // jQuery gives up (timeout), it polls again after a second.
  function listen(url, params, options) {
    const loop = { received: [], stops: 0, errors: [], failures: [], ended: null, running: true };
    loops.push(loop);
    const poll = () => {
      if (!loop.running) return;
      $.ajax({
        url,
        dataType: "jsonp",
        jsonp: "jsonCallback",
        timeout: options.timeout ?? 0,
        data: {
          ...params,
          ...(options.wait === undefined ? {} : { wait: options.wait }),
          ...(options.max === undefined ? {} : { max: options.max }),
        },
      }).then(
        (data) => {
          if (options.max !== undefined && Array.isArray(data)) {
            for (const message of data) loop.received.push({ message, at: Date.now() });
            poll();
          } else if (data && data.stop === 1) {
            loop.stops++;
            poll();
          } else if (data && typeof data.error === "string" && typeof data.status === "number") {
            loop.errors.push(data);
            if (data.retryAfter !== undefined) setTimeout(poll, data.retryAfter * 1000);
            else loop.ended = data.status;
          } else {
            loop.received.push({ message: data, at: Date.now() });
            poll();
          }
        },
        (_xhr, textStatus) => {
          loop.failures.push({ textStatus, at: Date.now() });
          setTimeout(poll, 1000);
        },
      );
    };
    poll();
    return loops.length - 1;
  }
</script>
<p>longpoll jQuery test</p>
`;

interface _Env {
  stack: Stack;
  browser: { open(): Promise<Page> };
}

/**
 * Runs `fn` with a fresh stack (Redis, processes, nginx), a page server and
 * Chromium; cleans up always.
 */
function jqueryTest(
  name: string,
  options: StackOptions,
  fn: (env: _Env) => Promise<void>,
): void {
  Deno.test({
    name: `jquery: ${name}`,
    ignore: missing.length > 0,
    // playwright-core drives Chromium over a pipe from node:child_process,
    // whose handles outlive the test by a tick.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      await using stack = await startStack(options);
      const http = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen() {} },
        (request) =>
          new URL(request.url).pathname === "/jquery.js"
            ? new Response(JQUERY, { headers: { "Content-Type": "text/javascript" } })
            : new Response(PAGE, { headers: { "Content-Type": "text/html; charset=utf-8" } }),
      );
      const origin = `http://127.0.0.1:${http.addr.port}`;
      let browser: Browser | undefined;
      try {
        browser = await launchChromium();
        const open = async () => {
          const page = await browser!.newPage();
          await page.goto(`${origin}/`);
          return page;
        };
        await fn({ stack, browser: { open } });
      } finally {
        await browser?.close();
        await http.shutdown();
      }
    },
  });
}

/** Starts a loop in the page; resolves with its index in `loops`. */
function _listen(
  page: Page,
  url: string,
  params: Record<string, string | number>,
  options: { timeout?: number; wait?: number; max?: number } = {},
): Promise<number> {
  return page.evaluate(
    `listen(${JSON.stringify(url)}, ${JSON.stringify(params)}, ${JSON.stringify(options)})`,
  );
}

/** Every loop of the page, as it is now. */
function _loops(page: Page): Promise<_Loop[]> {
  return page.evaluate("loops");
}

async function _waitForLoops(
  page: Page,
  condition: (loops: _Loop[]) => boolean,
  what: string,
): Promise<void> {
  let loops: _Loop[] = [];
  await waitUntil(async () => condition(loops = await _loops(page)), {
    what: () => `${what}: ${JSON.stringify(loops)}`,
    timeoutMs: 10_000,
    intervalMs: 25,
  });
}

function _waitForLoop(
  page: Page,
  index: number,
  condition: (loop: _Loop) => boolean,
  what: string,
): Promise<void> {
  return _waitForLoops(page, (loops) => condition(loops[index]), what);
}

/**
 * Loops with a short jQuery timeout, one tab each, fed by one producer:
 * {@linkcode MESSAGES} messages for each uid, LPUSHed in bursts, until the
 * server has taken and answered every one. Returns, for each run, what was
 * pushed, what the page got, how often jQuery gave up, and the tab's errors.
 */
async function _giveUpRuns(
  stack: Stack,
  browser: _Env["browser"],
  runs: { uid: string; wait?: number }[],
): Promise<{ pushed: number[]; received: number[]; timeouts: number; pageErrors: string[] }[]> {
  const server = stack.processes[0];
  const deliveredBefore = await _delivered(server);
  const tabs = await Promise.all(runs.map(async ({ uid, wait }) => {
    const page = await browser.open();
    const params = { uid, sign: await signer.sign(uid) };
    const loop = await _listen(page, `${stack.public}/`, params, { timeout: TIMEOUT_MS, wait });
    return { page, loop };
  }));
  await waitUntilHeld(server, runs.length, { intervalMs: 25 });
  // Bursts of a few messages, at random moments within the burst, after
  // quiet spells a little longer than the timeout: long enough for a poll
  // to be given up by jQuery, not for the server to end it.
  const pushed: number[] = [];
  while (pushed.length < MESSAGES) {
    await sleep(TIMEOUT_MS + 300 + Math.random() * 600);
    for (let i = 0; i < BURST && pushed.length < MESSAGES; i++) {
      if (i > 0) await sleep(Math.random() * 150);
      const n = pushed.length + 1;
      await Promise.all(
        runs.map(({ uid }) => stack.redis.cli("LPUSH", `Q/MSG${uid}`, JSON.stringify({ n }))),
      );
      pushed.push(n);
    }
  }
  // Every message is taken and answered by the server; a tab gets those it
  // gets within a moment.
  await waitUntil(
    async () =>
      (await Promise.all(runs.map(({ uid }) => stack.redis.cli("LLEN", `Q/MSG${uid}`))))
        .every((length) => length === "0") &&
      await _delivered(server) - deliveredBefore === MESSAGES * runs.length,
    {
      what: () => `the server to answer all ${MESSAGES} messages of each uid`,
      timeoutMs: 15_000,
      intervalMs: 25,
    },
  );
  await sleep(500);
  return await Promise.all(tabs.map(async ({ page, loop }) => {
    await page.evaluate(`loops[${loop}].running = false`);
    const { received, failures } = (await _loops(page))[loop];
    const pageErrors: string[] = await page.evaluate("pageErrors");
    await page.close();
    const numbers = received.map((r) => (r.message as { n: number }).n);
    for (let i = 1; i < numbers.length; i++) {
      assert.ok(numbers[i] > numbers[i - 1], `in order, once each: ${numbers}`);
    }
    return { pushed, received: numbers, timeouts: failures.length, pageErrors };
  }));
}

async function _delivered(server: ServeProcess): Promise<number> {
  const text = await (await fetch(`${server.origin}/metrics`)).text();
  return Number(/^longpoll_delivered_total (\d+)$/m.exec(text)?.[1] ?? NaN);
}
