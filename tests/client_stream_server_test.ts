/**
 * The client in stream delivery against the real server (createServer on a
 * MemoryStore with a history, over a loopback `Deno.serve`, since Deno's
 * `EventSource` needs a socket): two devices of a uid, one over
 * EventSource and one over long-poll, each get every message in order; a
 * reload resumes from sessionStorage; a cursor older than the history
 * keeps is reported through onReset. (Drains and restarts, through nginx:
 * stream_browser_test.ts and stream_cluster_test.ts.)
 */
import assert from "node:assert/strict";
import {
  createLongPollClient,
  type LongPollClientOptions,
} from "../src/client/long_poll_client.ts";
import { createServer, type Server } from "../src/server/app.ts";
import { MemoryStore } from "../mod.ts";
import { waitUntil } from "../testing/wait_until.ts";

/** A stream-mode server on a loopback port, over `store`; disposing drains it. */
function serve(store: MemoryStore) {
  const server: Server = createServer({ store, delivery: "stream", minWait: 0.2, maxWait: 0.4 });
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, server.fetch);
  return {
    server,
    origin: `http://127.0.0.1:${http.addr.port}`,
    async [Symbol.asyncDispose]() {
      await server.drain();
      await http.shutdown();
    },
  };
}

/** A device of `uid`: a client whose messages land in `got`. */
function device(options: Partial<LongPollClientOptions> & { uid: string }) {
  const got: string[] = [];
  const resets: string[] = [];
  const client = createLongPollClient({
    url: "http://unused/",
    delivery: "stream",
    shareTabs: false,
    retry: () => 50,
    onMessage: (message) => void got.push(message),
    onReset: (next) => void resets.push(next),
    ...options,
  });
  return { client, got, resets };
}

Deno.test("client stream server: an EventSource device and a long-poll device of a uid each get every message", async () => {
  sessionStorage.clear();
  const store = new MemoryStore({ history: { max: 100, ttlSeconds: 60 } });
  await using first = serve(store);
  const es = device({
    uid: "both",
    url: `${first.origin}/`,
    transport: "eventsource",
  });
  const poll = device({ uid: "both", url: `${first.origin}/`, transport: "poll" });
  // Both read from the start, so nothing is pushed before they listen.
  sessionStorage.setItem("longpoll:both:since", "0-0");
  es.client.start();
  poll.client.start();
  for (let n = 1; n <= 5; n++) await store.publish("both", `{"n":${n}}`);
  const five = Array.from({ length: 5 }, (_, i) => `{"n":${i + 1}}`);
  await waitUntil(() => es.got.length === 5 && poll.got.length === 5, {
    what: () => `five each; ${JSON.stringify([es.got, poll.got])}`,
  });
  assert.deepEqual(es.got, five);
  assert.deepEqual(poll.got, five);
  es.client.stop();
  poll.client.stop();
  await store.close();
});

Deno.test("client stream server: a reload resumes after the id kept in sessionStorage, and a trimmed cursor is a reset", async () => {
  sessionStorage.clear();
  const store = new MemoryStore({ history: { max: 3, ttlSeconds: 60 } });
  await using server = serve(store);
  const first = device({
    uid: "reload",
    url: `${server.origin}/`,
    transport: "eventsource",
  });
  sessionStorage.setItem("longpoll:reload:since", "0-0");
  first.client.start();
  await store.publish("reload", '"a"');
  await waitUntil(() => first.got.length === 1, { what: "a" });
  first.client.stop();
  const kept = sessionStorage.getItem("longpoll:reload:since");
  assert.match(kept ?? "", /^\d+-\d+$/);

  // Away: one message comes, then the page reloads and resumes after "a".
  await store.publish("reload", '"b"');
  const reloaded = device({
    uid: "reload",
    url: `${server.origin}/`,
    transport: "eventsource",
  });
  reloaded.client.start();
  await waitUntil(() => reloaded.got.length === 1, { what: "b" });
  await store.publish("reload", '"c"');
  await waitUntil(() => reloaded.got.length === 2, { what: "c" });
  reloaded.client.stop();
  assert.deepEqual(reloaded.got, ['"b"', '"c"']);
  assert.deepEqual(reloaded.resets, []);

  // Away again while 4 come: the history keeps 3, so the kept id is too old.
  for (const m of ['"d"', '"e"', '"f"', '"g"']) await store.publish("reload", m);
  const late = device({
    uid: "reload",
    url: `${server.origin}/`,
    transport: "poll",
  });
  late.client.start();
  await waitUntil(() => late.resets.length === 1, { what: "the reset" });
  await store.publish("reload", '"h"');
  await waitUntil(() => late.got.length === 1, { what: "h" });
  late.client.stop();
  assert.deepEqual(late.got, ['"h"']);
  assert.match(late.resets[0], /^\d+-\d+$/);
  assert.notEqual(sessionStorage.getItem("longpoll:reload:since"), kept);
  await store.close();
});
