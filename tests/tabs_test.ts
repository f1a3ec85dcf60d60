/**
 * Tab sharing in Deno, which has the Web Locks API and `BroadcastChannel`
 * like a browser: clients of one uid in one process stand for the tabs of
 * one origin. Also the `BroadcastChannel` election on its own, for the
 * browsers without Web Locks. The real thing, in Chromium, is in
 * tabs_browser_test.ts.
 */
import assert from "node:assert/strict";
import { leadWithChannel } from "../src/client/channel_leadership.ts";
import { createLongPollClient, type LongPollClient } from "../src/client/long_poll_client.ts";
import { createServer, type ServerOptions } from "../src/server/app.ts";
import { MemoryStore } from "../mod.ts";
import { sleep, waitUntil } from "../testing/wait_until.ts";

/** A server, and clients of `uid` on it, each naming itself to the server. */
function setUp(uid: string, options: Partial<ServerOptions> = {}) {
  const store = new MemoryStore();
  const server = createServer({ store, minWait: 0.2, maxWait: 0.4, ...options });
  const polls: { tab: string; ack: string | null; status?: number; answerAck?: string | null }[] =
    [];
  const tab = (name: string, hold?: (url: URL) => boolean) => {
    const received: string[] = [];
    const client = createLongPollClient({
      url: "http://local/",
      uid,
      fetch: async (request) => {
        const url = new URL(request.url);
        const poll: (typeof polls)[number] = { tab: name, ack: url.searchParams.get("ack") };
        if (hold?.(url)) {
          // Held back here: it never reaches the server.
          return new Promise<Response>((_, reject) =>
            request.signal.addEventListener("abort", () => reject(request.signal.reason))
          );
        }
        polls.push(poll);
        const response = await server.fetch(request);
        poll.status = response.status;
        poll.answerAck = response.headers.get("x-ack-id");
        return response;
      },
      onMessage: (message) => void received.push(message),
    });
    client.start();
    return { name, client, received };
  };
  const close = async (...clients: LongPollClient[]) => {
    for (const client of clients) client.stop();
    await server.drain();
    await store.close();
  };
  return { store, server, polls, tab, close };
}

Deno.test("tabs: clients of one uid share one poll; when the leader stops, another takes over", async () => {
  const { store, polls, tab, close } = setUp("t1");
  const tabs = [tab("A"), tab("B"), tab("C")];
  await waitUntil(() => tabs.filter((t) => t.client.leading).length === 1, { what: "one leader" });
  const leader = tabs.find((t) => t.client.leading)!;
  for (const n of [1, 2, 3]) await store.publish("t1", `m${n}`);
  await waitUntil(() => tabs.every((t) => t.received.length === 3), {
    what: "every tab to get three",
  });

  const stoppedAt = polls.length;
  leader.client.stop();
  const rest = tabs.filter((t) => t !== leader);
  const started = performance.now();
  await waitUntil(() => rest.some((t) => t.client.leading), { what: "another leader" });
  const takeover = performance.now() - started;
  for (const n of [4, 5]) await store.publish("t1", `m${n}`);
  await waitUntil(() => rest.every((t) => t.received.length === 5), {
    what: "the others to get five",
  });
  await close(...rest.map((t) => t.client));

  for (const t of rest) assert.deepEqual(t.received, ["m1", "m2", "m3", "m4", "m5"], t.name);
  assert.deepEqual(leader.received, ["m1", "m2", "m3"]);
  assert.ok(takeover < 1000, `took over after ${takeover.toFixed(0)} ms`);
  assert.deepEqual(new Set(polls.slice(0, stoppedAt).map((p) => p.tab)), new Set([leader.name]));
  assert.equal(new Set(polls.slice(stoppedAt).map((p) => p.tab)).size, 1);
  assert.deepEqual(polls.filter((p) => p.status === 409), []);
});

Deno.test("tabs: at-least-once: the next leader acknowledges what the last one shared", async () => {
  const { store, polls, tab, close } = setUp("t2", { atLeastOnce: true, lease: 0.3 });
  let holdAcks = false;
  const first = tab("A", (url) => holdAcks && url.searchParams.has("ack"));
  await waitUntil(() => first.client.leading, { what: "A to lead" });
  const second = tab("B");
  const third = tab("C");
  await store.publish("t2", "m1");
  await waitUntil(() => second.received.length === 1, { what: "B to get m1" });
  holdAcks = true;
  await store.publish("t2", "m2");
  await waitUntil(() => second.received.length === 2 && third.received.length === 2, {
    what: "B and C to get m2",
  });
  assert.equal(store.inFlight("t2"), 1, "m2 is not acknowledged: A's next poll is held back");
  const m2Ack = polls.at(-1)!.answerAck;
  assert.ok(m2Ack);

  first.client.stop();
  await waitUntil(() => polls.some((p) => p.tab !== "A"), { what: "a poll of the next leader" });
  const next = polls.find((p) => p.tab !== "A")!;
  assert.equal(next.ack, m2Ack, "the next leader's first poll acknowledges m2");
  await waitUntil(() => store.inFlight("t2") === 0, { what: "m2 acknowledged" });
  await sleep(500); // past the lease: m2 does not come again
  await close(second.client, third.client);
  assert.deepEqual(second.received, ["m1", "m2"]);
  assert.deepEqual(third.received, ["m1", "m2"]);
});

Deno.test("tabs: at-least-once: a leader that dies before its share leaves it loses nothing, as the ack follows the share", async () => {
  const { store, polls, tab, close } = setUp("t4", { atLeastOnce: true, lease: 1.5 });
  const first = tab("A");
  await waitUntil(() => first.client.leading, { what: "A to lead" });
  const others = [tab("B"), tab("C")];
  // A dies right after its onMessage handled m1: its share to the other tabs
  // never leaves it (BroadcastChannel posts m1 nowhere).
  const post = BroadcastChannel.prototype.postMessage;
  let lostShare = false;
  BroadcastChannel.prototype.postMessage = function (this: BroadcastChannel, data: unknown) {
    const { messages } = (data ?? {}) as { messages?: string[] };
    if (!lostShare && messages?.includes("m1")) return void (lostShare = true);
    return post.call(this, data);
  };
  try {
    const pollsBefore = polls.length;
    await store.publish("t4", "m1");
    await waitUntil(() => lostShare, { what: "A to share m1" });
    // A dies at its next poll, once that poll has reached the server.
    await waitUntil(() => polls.length > pollsBefore, { what: "A's poll after m1" });
    await sleep(50);
    first.client.stop();
  } finally {
    BroadcastChannel.prototype.postMessage = post;
  }
  await waitUntil(() => others.every((t) => t.received.length === 1), {
    what: () => `B and C to get m1 once its lease ran out: ${others.map((t) => t.received)}`,
  });
  await waitUntil(() => store.inFlight("t4") === 0, { what: "m1 acknowledged" });
  await close(...others.map((t) => t.client));
  for (const t of others) assert.deepEqual(t.received, ["m1"], t.name);
  assert.deepEqual(first.received, ["m1"]);
});

Deno.test("tabs: the BroadcastChannel election picks one leader, and another when it leaves", async () => {
  const name = `election ${crypto.randomUUID()}`;
  const candidates = ["A", "B", "C"].map((id) => {
    const stop = new AbortController();
    const candidate = { id, stop, leads: 0, takeover: [] as boolean[], leading: false };
    leadWithChannel({
      name,
      signal: stop.signal,
      lead: (lost, takeover) => {
        candidate.leads++;
        candidate.takeover.push(takeover);
        candidate.leading = true;
        return new Promise((done) =>
          lost.addEventListener("abort", () => {
            candidate.leading = false;
            done();
          })
        );
      },
    });
    return candidate;
  });
  await waitUntil(() => candidates.some((c) => c.leading), { what: "a leader" });
  await sleep(500); // several beats: it stays the only one
  const leaders = candidates.filter((c) => c.leading);
  assert.equal(leaders.length, 1);
  const leads = candidates.map((c) => c.leads);
  await sleep(500);
  assert.deepEqual(candidates.map((c) => c.leads), leads, "nobody else led meanwhile");
  const started = performance.now();
  leaders[0].stop.abort();
  await waitUntil(() => candidates.some((c) => c.leading), { what: "the next leader" });
  const takeover = performance.now() - started;
  const next = candidates.filter((c) => c.leading);
  assert.equal(next.length, 1);
  assert.deepEqual(next[0].takeover, [true]);
  assert.ok(takeover < 1000, `took over after ${takeover.toFixed(0)} ms`);
  for (const c of candidates) c.stop.abort();
});

Deno.test("tabs: a leader hands over on stop() even when its fetch ignores the abort", async () => {
  const clients = ["A", "B"].map(() =>
    createLongPollClient({
      url: "http://local/",
      uid: "t3",
      fetch: () => new Promise<Response>(() => {}),
      onMessage: () => {},
    })
  );
  clients[0].start();
  await waitUntil(() => clients[0].leading, { what: "A to lead" });
  clients[1].start();
  await sleep(100);
  assert.equal(clients[1].leading, false);
  clients[0].stop();
  await waitUntil(() => clients[1].leading, { what: "B to lead", timeoutMs: 1000 });
  clients[1].stop();
});
