/**
 * Tabs of one user in real Chromium: the browser client shares one poll
 * among the tabs of a uid on one origin, and a closed leader is replaced.
 *
 * - Three tabs, 60 messages, the leader gone mid-run: every tab gets
 *   every message exactly once, in order; only one tab polls at a time;
 *   the next leader polls within a second; no live tab is answered 409.
 *   Run with Web Locks and with the `BroadcastChannel` election (Web Locks
 *   removed from the page), each in both delivery modes, the leader closed
 *   in one and crashed in the other.
 * - At-least-once, the leader closed while messages flow: the message in
 *   flight to it comes again after its lease, so each tab still gets each
 *   message exactly once (the default mode loses that one, the window it
 *   documents).
 * - At-least-once hand-over: the next leader acknowledges what the closed
 *   one delivered to the other tabs, and never what it did not; that comes
 *   again, once.
 * - At-least-once, the leader crashes after handling a message whose share
 *   never left it: its ack does not outrun the share, so the message comes
 *   again to the other tabs.
 * - Sharing off: the tabs fight with 409s and lose messages, as before.
 *
 * Where `/usr/bin/chromium` is missing, the tests are skipped with one line
 * saying so; `REQUIRE_BROWSER=1` turns that skip into a failure.
 */
import assert from "node:assert/strict";
import type { BrowserContext, Page, Route } from "playwright-core";
import { createServer, type Server, type ServerOptions } from "../src/server/app.ts";
import { MemoryStore } from "../src/store/memory.ts";
import { checkChromium, chromiumTest, launchChromium, servePage } from "../testing/chromium.ts";
import { sleep, waitUntil } from "../testing/wait_until.ts";

const TESTS = 8;
const haveChromium = checkChromium(TESTS);

/** A message as a tab's `onMessage` saw it. */
interface Seen {
  message: string;
  ack: string | null;
  redelivered: boolean;
}

for (
  const variant of [
    { name: "Web Locks", locks: true, atLeastOnce: false, end: "closes" },
    { name: "Web Locks, at-least-once", locks: true, atLeastOnce: true, end: "crashes" },
    { name: "BroadcastChannel election", locks: false, atLeastOnce: false, end: "closes" },
    {
      name: "BroadcastChannel election, at-least-once",
      locks: false,
      atLeastOnce: true,
      end: "crashes",
    },
  ]
) {
  tabsTest(
    `three tabs share one poll (${variant.name}); the leader ${variant.end} mid-run; each gets all 60 once, in order`,
    { atLeastOnce: variant.atLeastOnce },
    async (env) => {
      const tabs = await _openTabs(env, { locks: variant.locks });
      const leader = await _theLeader(env, tabs);
      const publish = async (from: number, to: number) => {
        for (let n = from; n <= to; n++) {
          await env.store.publish("u", JSON.stringify({ n }));
          await sleep(20);
        }
      };

      await publish(1, 30);
      for (const tab of tabs) await tab.waitForCount(30);
      // End it while its poll is held: a message the server writes
      // into a closing tab's socket is lost with or without tabs (the one
      // window the default mode leaves), so none is in flight then.
      await waitUntil(() => env.openPolls(leader.name) === 1, {
        what: "the leader's poll to be held",
      });
      assert.equal(env.store.size("u"), 0);
      const leaderSaw = await leader.seen();
      const closedAt = performance.now();
      if (variant.end === "closes") await leader.page.close();
      else await leader.page.goto("chrome://crash").catch(() => {});
      await waitUntil(() => env.openPolls(leader.name) === 0, {
        what: "the closed tab's poll to end",
      });
      await publish(31, 60);

      const survivors = tabs.filter((tab) => tab !== leader);
      for (const tab of survivors) await tab.waitForCount(60);
      const all = Array.from({ length: 60 }, (_, i) => i + 1);
      assert.deepEqual(
        _numbers(leaderSaw),
        all.slice(0, 30),
        "the closed leader, before it closed",
      );
      for (const tab of survivors) {
        const seen = await tab.seen();
        assert.deepEqual(_numbers(seen), all, `tab ${tab.name}: each message once, in order`);
        assert.ok(seen.every((s) => !s.redelivered), `tab ${tab.name}: nothing redelivered`);
        assert.equal(await tab.page.evaluate("ended"), null, `tab ${tab.name} still running`);
      }

      const before = env.polls.filter((poll) => poll.start < closedAt);
      const after = env.polls.filter((poll) => poll.start >= closedAt);
      assert.deepEqual(new Set(before.map((poll) => poll.tab)), new Set([leader.name]));
      const next = new Set(after.map((poll) => poll.tab));
      assert.equal(next.size, 1, `one tab polls after the end, not ${[...next]}`);
      assert.ok(!next.has(leader.name));
      const takeover = after[0].start - closedAt;
      assert.ok(
        takeover < 1000,
        `the next leader polled ${takeover.toFixed(0)} ms after the end`,
      );
      const fights = env.polls.filter((poll) => poll.status === 409 && poll.tab !== leader.name);
      assert.deepEqual(fights, [], "a live tab was answered 409");
      if (variant.atLeastOnce) {
        await waitUntil(() => env.store.inFlight("u") === 0, { what: "every lease acknowledged" });
      }
      assert.equal(env.store.size("u"), 0);
      console.log(
        `${variant.name}: the next leader polled ${takeover.toFixed(0)} ms after the end`,
      );
    },
  );
}

tabsTest(
  "at-least-once: the leader closes while messages flow; each tab still gets each message once",
  { atLeastOnce: true, lease: 1 },
  async (env) => {
    const tabs = await _openTabs(env, { locks: true });
    const leader = await _theLeader(env, tabs);
    let closing: Promise<void> | undefined;
    for (let n = 1; n <= 60; n++) {
      await env.store.publish("u", JSON.stringify({ n }));
      // Right behind a message, which is then on its way to the leader.
      if (n === 30) closing = leader.page.close();
      await sleep(10);
    }
    await closing;
    const survivors = tabs.filter((tab) => tab !== leader);
    for (const tab of survivors) await tab.waitForCount(60);
    await waitUntil(() => env.store.inFlight("u") === 0, { what: "every lease acknowledged" });
    await sleep(1500); // past another lease: nothing comes again
    const all = Array.from({ length: 60 }, (_, i) => i + 1);
    for (const tab of survivors) {
      const seen = await tab.seen();
      const numbers = _numbers(seen);
      assert.deepEqual([...numbers].sort((a, b) => a - b), all, `tab ${tab.name}: each once`);
      // Only what comes again is out of order, and it says so.
      const firstTime = _numbers(seen.filter((s) => !s.redelivered));
      assert.deepEqual(firstTime, [...firstTime].sort((a, b) => a - b), `tab ${tab.name}`);
    }
  },
);

tabsTest(
  "at-least-once hand-over: the next leader acknowledges what the closed one delivered, only that",
  { atLeastOnce: true, lease: 1 },
  async (env) => {
    const tabs = await _openTabs(env, { locks: true });
    const first = await _theLeader(env, tabs);

    // 1. Delivered to every tab, but the ack never left the leader: its next
    // poll is held in the browser when it closes.
    await env.store.publish("u", "m1");
    for (const tab of tabs) await tab.waitForCount(1);
    const held: Route[] = [];
    await first.page.route(/[?&]ack=/, (route) => void held.push(route));
    await env.store.publish("u", "m2");
    for (const tab of tabs) await tab.waitForCount(2);
    await waitUntil(() => held.length === 1, {
      what: "the poll that acknowledges m2 to be held back",
    });
    const m2 = (await first.seen())[1];
    assert.equal(m2.message, "m2");
    assert.equal(env.store.inFlight("u"), 1, "m2 is not acknowledged yet");
    // The held poll never reaches the server.
    await held[0].abort();
    const firstClosedAt = performance.now();
    await first.page.close();

    const rest = tabs.filter((tab) => tab !== first);
    const second = await _theLeader(env, rest);
    const firstPoll = env.polls.find((poll) => poll.start > firstClosedAt);
    assert.equal(firstPoll?.tab, second.name);
    assert.equal(firstPoll?.ack, m2.ack, "the next leader acknowledges m2 with its first poll");
    await waitUntil(() => env.store.inFlight("u") === 0, { what: "m2 to be acknowledged" });

    // 2. Taken by the leader, which is stuck in its onMessage when it closes:
    // not shared, not acknowledged; it comes again once its lease runs out.
    await second.page.evaluate(() => ((window as unknown as { stall: string }).stall = "m3"));
    await env.store.publish("u", "m3");
    await second.waitForCount(3);
    const m3 = (await second.seen())[2];
    assert.equal(m3.message, "m3");
    const secondClosedAt = performance.now();
    await second.page.close();
    const third = rest.find((tab) => tab !== second)!;
    await third.waitForCount(3);
    const thirdPolls = env.polls.filter((poll) => poll.start > secondClosedAt);
    assert.ok(thirdPolls.every((poll) => poll.tab === third.name));
    assert.ok(thirdPolls.every((poll) => poll.ack !== m3.ack), "m3 was never delivered by then");
    await env.store.publish("u", "m4");
    await third.waitForCount(4);
    await waitUntil(() => env.store.inFlight("u") === 0, { what: "all acknowledged" });
    await sleep(1500); // past another lease: nothing comes again

    const seen = await third.seen();
    assert.deepEqual(seen.map((s) => [s.message, s.redelivered]), [
      ["m1", false],
      ["m2", false],
      ["m3", true],
      ["m4", false],
    ]);
  },
);

tabsTest(
  "at-least-once: the leader crashes at its next poll after a share that never left it; the others still get the message",
  { atLeastOnce: true, lease: 2 },
  async (env) => {
    const tabs = await _openTabs(env, { locks: true });
    const leader = await _theLeader(env, tabs);
    // The share of m1 dies with the tab: it never leaves it.
    await leader.page.evaluate(() => {
      const post = BroadcastChannel.prototype.postMessage;
      let lost = false;
      BroadcastChannel.prototype.postMessage = function (data: { messages?: string[] }) {
        if (!lost && data?.messages?.includes("m1")) return void (lost = true);
        return post.call(this, data);
      };
    });
    const pollsBefore = env.polls.length;
    await env.store.publish("u", "m1");
    await leader.waitForCount(1);
    // It crashes at its next poll, once that poll has reached the server.
    await waitUntil(() => env.polls.length > pollsBefore, { what: "the leader's next poll" });
    await sleep(50);
    await leader.page.goto("chrome://crash").catch(() => {});
    const survivors = tabs.filter((tab) => tab !== leader);
    for (const tab of survivors) await tab.waitForCount(1);
    await waitUntil(() => env.store.inFlight("u") === 0, { what: "m1 acknowledged" });
    for (const tab of survivors) {
      const seen = (await tab.seen()).map((s) => [s.message, s.redelivered]);
      assert.deepEqual(seen, [["m1", true]], `tab ${tab.name}: m1 once, after its lease`);
    }
  },
);

tabsTest(
  "sharing off: three tabs fight with 409 and the superseded ones lose every message",
  {},
  async (env) => {
    const tabs = [];
    for (const name of ["A", "B", "C"]) {
      tabs.push(await env.open(name, { locks: true, shareTabs: false }));
      await waitUntil(() => env.openPolls(name) === 1, { what: `tab ${name}'s poll to be held` });
    }
    for (let n = 1; n <= 5; n++) await env.store.publish("u", JSON.stringify({ n }));
    await tabs[2].waitForCount(5);
    await sleep(300);
    // Sorted: A's poll may be between two polls (its last timed out) when B's comes,
    // and then its next one supersedes B's, before C supersedes it in turn.
    const superseded = env.polls.filter((poll) => poll.status === 409);
    assert.deepEqual(superseded.map((poll) => poll.tab).sort(), ["A", "B"]);
    for (const tab of tabs.slice(0, 2)) {
      assert.equal(await tab.page.evaluate("ended"), "superseded", `tab ${tab.name}`);
      assert.deepEqual(await tab.seen(), [], `tab ${tab.name} got nothing`);
    }
    assert.deepEqual(_numbers(await tabs[2].seen()), [1, 2, 3, 4, 5]);
  },
);

// ---------------------------------------------------------------------------

interface _Tab {
  name: string;
  page: Page;
  seen(): Promise<Seen[]>;
  waitForCount(count: number): Promise<void>;
}

interface _Poll {
  tab: string | null;
  ack: string | null;
  start: number;
  status?: number;
}

interface _TabsEnv {
  store: MemoryStore;
  server: Server;
  /** Every poll the API server got, oldest first. */
  polls: _Poll[];
  /** Polls of `tab` not answered yet. */
  openPolls(tab: string): number;
  /** Opens a tab of uid `u` and starts its client. */
  open(name: string, options: { locks: boolean; shareTabs?: boolean }): Promise<_Tab>;
}

/** The test page: loads the client, and starts it on `start(options)`. */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>longpoll tabs test</title>
<script>
  window.pageErrors = [];
  addEventListener("error", (event) => pageErrors.push(String(event.message)));
  window.received = [];
  window.ended = null;
  // A message whose onMessage never returns, as in a tab stuck or dying mid-handler.
  window.stall = null;
</script>
<script type="module">
  import { createLongPollClient } from "/client.js";
  window.start = (options, tab) => {
    window.client = createLongPollClient({
      ...options,
      // Names the tab to the test's server (not in the url: that names the shared poll).
      fetch: (request) => {
        const url = new URL(request.url);
        url.searchParams.set("tab", tab);
        return fetch(new Request(url, request));
      },
      onMessage: (message, info) => {
        received.push({ message, ack: info.ack ?? null, redelivered: info.redelivered });
        if (message === stall) return new Promise(() => {});
      },
      onEnd: (reason) => (ended = reason),
    });
    client.start();
  };
</script>
`;

function tabsTest(
  name: string,
  serverOptions: Partial<ServerOptions>,
  fn: (env: _TabsEnv) => Promise<void>,
): void {
  chromiumTest(`tabs: ${name}`, !haveChromium, async () => {
    await using stack = new AsyncDisposableStack();
    const errors: unknown[] = [];
    const store = new MemoryStore();
    stack.defer(() => store.close());
    const { origin } = stack.use(servePage(PAGE));
    const server = createServer({
      store,
      minWait: 0.3,
      maxWait: 0.6,
      corsOrigins: [origin],
      onError: (error) => errors.push(error),
      ...serverOptions,
    });
    const polls: _Poll[] = [];
    const open = new Map<string, number>();
    const api = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
      const query = new URL(request.url).searchParams;
      const poll: _Poll = {
        tab: query.get("tab"),
        ack: query.get("ack"),
        start: performance.now(),
      };
      if (request.method === "GET") polls.push(poll);
      open.set(poll.tab ?? "", (open.get(poll.tab ?? "") ?? 0) + 1);
      try {
        const response = await server.fetch(request);
        poll.status = response.status;
        return response;
      } finally {
        open.set(poll.tab ?? "", open.get(poll.tab ?? "")! - 1);
      }
    });
    stack.defer(() => api.shutdown());
    stack.defer(() => server.drain());
    const browser = await launchChromium();
    stack.defer(() => browser.close());
    const context: BrowserContext = await browser.newContext();

    await fn({
      store,
      server,
      polls,
      openPolls: (tab) => open.get(tab) ?? 0,
      open: async (name, options) => {
        const page = await context.newPage();
        if (!options.locks) {
          await page.addInitScript(() => delete (Navigator.prototype as { locks?: unknown }).locks);
        }
        await page.goto(`${origin}/`);
        await page.waitForFunction("typeof start === 'function'");
        await page.evaluate(
          ([url, shareTabs, tab]) =>
            (window as unknown as { start(o: object, tab: string): void }).start(
              { url, uid: "u", shareTabs },
              tab,
            ),
          [`http://127.0.0.1:${api.addr.port}/`, options.shareTabs ?? true, name] as const,
        );
        const seen = () => page.evaluate("received") as Promise<Seen[]>;
        return {
          name,
          page,
          seen,
          waitForCount: async (count) => {
            await page.waitForFunction(`received.length >= ${count}`, undefined, {
              timeout: 10_000,
            }).catch(async (error) => {
              // What the tab got and how every tab polled, so a rare miss can be read after.
              const got = (await seen()).map((s) =>
                `${s.message}${s.redelivered ? "(again)" : ""}`
              );
              const log = polls.map((poll) =>
                `${poll.tab}:${poll.status ?? "open"}${poll.ack === null ? "" : "+ack"}`
              );
              throw new Error(
                `tab ${name}: ${got.length} of ${count} messages: ${error}\n` +
                  `  it got: ${got.join(" ")}\n  polls, oldest first: ${log.join(" ")}`,
              );
            });
          },
        };
      },
    });
    assert.deepEqual(errors, [], "the server reported errors");
  });
}

/** Opens tabs A, B and C, one after the other. */
async function _openTabs(env: _TabsEnv, options: { locks: boolean }): Promise<_Tab[]> {
  const tabs = [];
  for (const name of ["A", "B", "C"]) tabs.push(await env.open(name, options));
  return tabs;
}

/** The one tab of `tabs` that leads, once it polls. */
async function _theLeader(env: _TabsEnv, tabs: _Tab[]): Promise<_Tab> {
  let leaders: _Tab[] = [];
  await waitUntil(async () => {
    leaders = [];
    for (const tab of tabs) if (await tab.page.evaluate("client.leading")) leaders.push(tab);
    return leaders.length === 1 && env.openPolls(leaders[0].name) === 1;
  }, { what: "one tab to lead and poll" });
  return leaders[0];
}

/** The `n` of each message `{"n":…}`. */
function _numbers(seen: Seen[]): number[] {
  return seen.map((s) => JSON.parse(s.message).n);
}
