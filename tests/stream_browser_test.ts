/**
 * Stream delivery end to end, the way devices live it: the shipped
 * deploy/nginx.conf in front of 4 `deno task serve` processes with
 * DELIVERY=stream on one Redis (persistent: AOF on, so its restart keeps the
 * history), and Chromium with one browser context per device:
 *
 * - 3 users × 2 devices, one reading over EventSource and one over
 *   long-poll, plus a third device of the first user that goes offline
 *   (its page left) for 20 s and comes back in the same tab, resuming from
 *   the cursor it kept in sessionStorage;
 * - `redis-cli` producers LPUSH 50 messages per user at mixed rates;
 * - meanwhile a rolling restart of the 4 processes (SIGTERM: each drains
 *   its streams and polls, and is started again), then a Redis restart.
 *
 * Every device gets every message of its user exactly once and in order.
 * Slow: about 65 s on 2 busy cores (the producers' 25 s, the 20 s away, setup);
 * it runs in parallel with the rest.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { checkChromium, chromiumTest, launchChromium, servePage } from "../testing/chromium.ts";
import { haveRedis } from "../testing/redis_gate.ts";
import { signer, type Stack, startStack } from "../testing/nginx.ts";
import { assertEveryDeviceGotAll, rollingRestart, startProducers } from "../testing/stream_run.ts";
import { sleep, waitUntil } from "../testing/wait_until.ts";

const haveChromium = checkChromium(1);
const USERS = ["alice", "bob", "carol"];
const MESSAGES = 50;
/** How long the third device is away, in ms. */
const OFFLINE_MS = 20_000;

/**
 * The device's page: it starts the client from the start of the history
 * the first time (so no message is pushed before it listens), and from its
 * kept cursor after that; it reports what it gets to the test.
 */
const PAGE = `<!doctype html><meta charset="utf-8"><title>device</title><script type="module">
const params = new URLSearchParams(location.search);
const uid = params.get("uid");
const key = "longpoll:" + uid + ":since";
if (sessionStorage.getItem(key) === null) sessionStorage.setItem(key, "0-0");
window.startedFrom = sessionStorage.getItem(key);
const { createLongPollClient, exponentialBackoff } = await import("/client.js");
window.client = createLongPollClient({
  url: params.get("api") + "/",
  uid,
  sign: params.get("sign"),
  delivery: "stream",
  transport: params.get("transport"),
  retry: exponentialBackoff({ base: 200, max: 2000, jitter: 0.5 }),
  onMessage: (message, info) => report(message, info.id),
  onReset: (next) => report("reset", next),
  onEnd: (reason, detail) => report("end " + reason + " " + (detail ?? ""), ""),
});
window.client.start();
</script>`;

interface Device {
  readonly name: string;
  readonly uid: string;
  readonly page: Page;
  /** What the page reported: the message (or "reset", "end …") and its id. */
  readonly got: [string, string][];
  /** Opens (or reopens) the page. */
  open(): Promise<void>;
}

chromiumTest(
  "stream browser: 3 users × 3 devices through nginx, 4 processes restarted, Redis restarted: all once, in order",
  !haveChromium || !haveRedis,
  async () => {
    await using page = servePage(PAGE);
    await using stack = await startStack({
      processes: 4,
      env: { DELIVERY: "stream", CORS_ORIGINS: page.origin },
    });
    const browser = await launchChromium();
    try {
      const devices = await Promise.all([
        ...USERS.flatMap((uid) => [
          _device(browser, stack, page.origin, { uid, transport: "eventsource" }),
          _device(browser, stack, page.origin, { uid, transport: "poll" }),
        ]),
        _device(browser, stack, page.origin, {
          uid: USERS[0],
          transport: "eventsource",
          name: "away",
        }),
      ]);
      const away = devices.at(-1)!;
      const producers = startProducers({
        uids: USERS,
        count: MESSAGES,
        push: async (key, message) => {
          const answer = await stack.redis.cli("LPUSH", key, message);
          if (!/^\d+$/.test(answer)) throw new Error(`Cannot LPUSH ${key}: ${answer}`);
        },
      });

      // The third device leaves after a few messages and comes back 20 s later.
      const awayTrip = (async () => {
        await waitUntil(() => away.got.length >= 5, { what: "the away device's first messages" });
        await away.page.goto("about:blank");
        const lastBefore = away.got.at(-1)![1];
        await sleep(OFFLINE_MS);
        await away.open();
        assert.equal(
          await away.page.evaluate("startedFrom"),
          lastBefore,
          "it resumed from the cursor it kept",
        );
      })();

      // Meanwhile: each process drains and starts again, then Redis restarts.
      await sleep(3_000);
      await rollingRestart(stack.processes.length, async (index) => {
        assert.equal(await stack.processes[index].stop("SIGTERM"), 0);
        await stack.restart(index);
      }, 1_000);
      await producers.pause();
      await stack.redis.stop();
      await sleep(1_000);
      await stack.redis.start();
      producers.resume();

      await producers.done;
      await awayTrip;
      await assertEveryDeviceGotAll(devices, MESSAGES);
    } finally {
      await browser.close();
    }
  },
);

/** A device: a browser context of its own, with its page open on `uid`'s client. */
async function _device(
  browser: Browser,
  stack: Stack,
  origin: string,
  options: { uid: string; transport: "eventsource" | "poll"; name?: string },
): Promise<Device> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const got: [string, string][] = [];
  await page.exposeFunction(
    "report",
    (message: string, id: string) => void got.push([message, id]),
  );
  const query = new URLSearchParams({
    uid: options.uid,
    sign: await signer.sign(options.uid),
    api: stack.public,
    transport: options.transport,
  });
  const open = async () => {
    await page.goto(`${origin}/?${query}`);
    await page.waitForFunction("window.client?.running === true");
  };
  await open();
  return {
    name: `${options.uid} ${options.name ?? options.transport}`,
    uid: options.uid,
    page,
    got,
    open,
  };
}
