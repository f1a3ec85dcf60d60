/**
 * Server-Sent Events (`GET /events`, stream delivery) over a real
 * `Deno.serve` on a free port, read with fetch streaming: events with ids,
 * `retry:` first, `Last-Event-ID` resuming exactly, the heartbeat, the
 * reset and drain events, the caps, presence and metrics, a client leaving,
 * and the refusal in queue mode. The Redis tests push with `redis-cli LPUSH`.
 */
import assert from "node:assert/strict";
import { MemoryPresence } from "../src/presence.ts";
import { createServer, type Server, type ServerOptions } from "../src/server/app.ts";
import { MemoryStore } from "../src/store/memory.ts";
import type { MessageStore, StreamRead, StreamReadOptions } from "../src/store/types.ts";
import { type SseFrame, SseReader } from "../testing/sse_reader.ts";
import { sleep, waitUntil } from "../testing/wait_until.ts";

const HISTORY = { max: 1000, ttlSeconds: 600 };

/** `createServer` behind a real `Deno.serve` on a free port; `await using` stops both. */
function _listen(
  options: Partial<ServerOptions> & { store: MessageStore },
): { server: Server; origin: string } & AsyncDisposable {
  const server = createServer({ delivery: "stream", presenceLinger: 0, ...options });
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

/** Opens `/events?<query>`; the response, and a reader of its frames. */
async function _open(
  origin: string,
  query: string,
  headers: Record<string, string> = {},
): Promise<{ response: Response; events: SseReader }> {
  const response = await fetch(`${origin}/events?${query}`, { headers });
  return { response, events: new SseReader(response) };
}

/** The next `count` events, in order. */
async function _take(events: SseReader, count: number): Promise<(SseFrame | null)[]> {
  const frames = [];
  for (let i = 0; i < count; i++) frames.push(await events.nextEvent());
  return frames;
}

function _messages(frames: (SseFrame | null)[]): { id?: string; data: unknown }[] {
  return frames.map((frame) => ({ id: frame?.id, data: JSON.parse(frame?.data ?? "null") }));
}

Deno.test("sse: events carry ids, retry comes first, and Last-Event-ID resumes exactly", async () => {
  const store = new MemoryStore({ history: HISTORY });
  await using app = _listen({ store, corsOrigins: ["https://a.example"] });
  await store.publish("u", '{"n":0}');
  const { response, events } = await _open(app.origin, "uid=u", { Origin: "https://a.example" });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.equal(response.headers.get("x-accel-buffering"), "no");
  assert.equal(response.headers.get("access-control-allow-origin"), "https://a.example");
  assert.deepEqual(await events.next(), { retry: "2000" });
  // From now: n=0 was before the stream.
  for (let n = 1; n <= 5; n++) await store.publish("u", JSON.stringify({ n }));
  await store.publish("u", "not json");
  const got = _messages(await _take(events, 6));
  assert.deepEqual(got.map((m) => m.data), [
    { n: 1 },
    { n: 2 },
    { n: 3 },
    { n: 4 },
    { n: 5 },
    "not json",
  ]);
  assert.equal(new Set(got.map((m) => m.id)).size, 6);
  await events.cancel();
  // Reconnect after the third event, as EventSource does: Last-Event-ID wins over since.
  const resumed = await _open(app.origin, "uid=u&since=0", { "Last-Event-ID": got[2].id! });
  assert.deepEqual(await resumed.events.next(), { retry: "2000" });
  const rest = _messages(await _take(resumed.events, 3));
  assert.deepEqual(rest, got.slice(3));
  await store.publish("u", '{"n":6}');
  assert.deepEqual(_messages([await resumed.events.nextEvent()])[0].data, { n: 6 });
  await resumed.events.cancel();
  // since=0 reads the whole history kept.
  const all = await _open(app.origin, "uid=u&since=0");
  await all.events.next();
  assert.deepEqual(_messages([await all.events.nextEvent()])[0].data, { n: 0 });
  await all.events.cancel();
  assert.ok(app.server.handler.metrics.eventsSent >= 11);
  await store.close();
});

Deno.test("sse: a heartbeat comment comes after SSE_HEARTBEAT seconds of silence", async () => {
  const store = new MemoryStore({ history: HISTORY });
  await using app = _listen({ store, sseHeartbeat: 1 });
  const { events } = await _open(app.origin, "uid=h");
  const opened = Date.now();
  assert.deepEqual(await events.next(), { retry: "2000" });
  assert.deepEqual(await events.next(3000), { comment: "heartbeat" });
  const first = Date.now() - opened;
  assert.ok(first >= 900 && first < 2000, `first heartbeat after ${first} ms`);
  await store.publish("h", "1");
  assert.equal((await events.next())!.data, "1");
  assert.deepEqual(await events.next(3000), { comment: "heartbeat" });
  await events.cancel();
  await store.close();
});

Deno.test("sse: a drain ends each stream with the drain event; later streams get it at once", async () => {
  const store = new MemoryStore({ history: HISTORY });
  await using app = _listen({ store });
  const streams = await Promise.all(["a", "b", "c"].map((uid) => _open(app.origin, `uid=${uid}`)));
  for (const { events } of streams) await events.next();
  await waitUntil(() => app.server.handler.held === 3, { what: "3 streams held" });
  await app.server.drain({ windowMs: 200 });
  for (const { events } of streams) {
    assert.deepEqual(await events.next(), { event: "drain", data: '{"stop":true}' });
    assert.equal(await events.next(), null, "the stream ends");
  }
  assert.equal(app.server.handler.held, 0);
  assert.equal(app.server.handler.metrics.streams, 0);
  const late = await _open(app.origin, "uid=a");
  assert.equal(late.response.status, 200);
  assert.deepEqual(await late.events.next(), { retry: "2000" });
  assert.deepEqual(await late.events.next(), { event: "drain", data: '{"stop":true}' });
  assert.equal(await late.events.next(), null);
  await store.close();
});

Deno.test("sse: an old cursor gets the reset event, then the stream goes on", async () => {
  const store = new MemoryStore({ history: { max: 2, ttlSeconds: 600 } });
  await using app = _listen({ store });
  await store.publish("r", "1");
  const first = await _open(app.origin, "uid=r&since=0");
  await first.events.next();
  const oldId = (await first.events.nextEvent())!.id!;
  await first.events.cancel();
  for (const message of ["2", "3", "4"]) await store.publish("r", message);
  const { events } = await _open(app.origin, "uid=r", { "Last-Event-ID": oldId });
  await events.next();
  const reset = (await events.nextEvent())!;
  assert.equal(reset.event, "reset");
  assert.deepEqual(JSON.parse(reset.data!), { next: reset.id });
  await store.publish("r", "5");
  assert.deepEqual(await events.nextEvent(), { id: await _newest(store, "r"), data: "5" });
  await events.cancel();
  await store.close();
});

async function _newest(store: MessageStore, uid: string): Promise<string> {
  return (await store.readStream!(uid, { after: undefined, count: 1 })).next;
}

Deno.test("sse: streams and polls share the caps: 429 past MAX_STREAMS_PER_UID, 503 past MAX_HELD", async () => {
  const store = new MemoryStore({ history: HISTORY });
  await using app = _listen({ store, maxStreamsPerUid: 2, maxHeld: 3 });
  const stream = await _open(app.origin, "uid=k");
  await stream.events.next();
  const poll = fetch(`${app.origin}/?uid=k`);
  await waitUntil(() => app.server.handler.held === 2, { what: "a stream and a poll of k" });
  const third = await fetch(`${app.origin}/events?uid=k`);
  assert.equal(third.status, 429);
  assert.deepEqual(await third.json(), {
    error: 'Cannot hold: "uid" already has 2 streams open (MAX_STREAMS_PER_UID)',
  });
  const other = await _open(app.origin, "uid=other");
  await other.events.next();
  const full = await fetch(`${app.origin}/events?uid=more`);
  assert.equal(full.status, 503);
  assert.equal(full.headers.get("retry-after"), "1");
  assert.deepEqual(await full.json(), { error: "Cannot poll: the server holds too many polls" });
  await store.publish("k", "m");
  assert.equal((await stream.events.nextEvent())!.data, '"m"');
  assert.equal((await (await poll).json()).messages[0].data, "m");
  await stream.events.cancel();
  await other.events.cancel();
  await store.close();
});

Deno.test("sse: a client that leaves frees its stream, its presence and its gauge", async () => {
  const store = new MemoryStore({ history: HISTORY });
  const presence = new MemoryPresence();
  await using app = _listen({ store, presence, maxStreamsPerUid: 32 });
  const streams = await Promise.all(Array.from({ length: 20 }, () => _open(app.origin, "uid=p")));
  for (const { events } of streams) await events.next();
  const { metrics } = app.server.handler;
  assert.equal(app.server.handler.held, 20);
  assert.equal(metrics.streams, 20);
  assert.match(metrics.render(), /^longpoll_streams 20$/m);
  assert.equal((await presence.lookup("p")).present, true);
  for (const { events } of streams) await events.cancel();
  await waitUntil(() => app.server.handler.held === 0, { what: "every stream freed" });
  assert.equal(metrics.streams, 0);
  assert.equal((await presence.lookup("p")).present, false);
  // Nothing is left watching the uid: a message now wakes no one.
  await store.publish("p", "after");
  await sleep(20);
  assert.equal(metrics.eventsSent, 0);
  await store.close();
});

Deno.test("sse: bad requests get clear errors, and queue mode refuses naming DELIVERY=stream", async () => {
  const store = new MemoryStore({ history: HISTORY });
  await using app = _listen({ store, secret: "0123456789abcdef0123456789abcdef" });
  const cases: [string, Record<string, string>, number, string][] = [
    [
      "uid=a",
      { "Last-Event-ID": "nope" },
      400,
      'Cannot read "Last-Event-ID": expected a stream id such as "1733300000000-0", or 0 for the start',
    ],
    [
      "uid=a&since=1-01",
      {},
      400,
      'Cannot read "since": expected a stream id such as "1733300000000-0", or 0 for the start',
    ],
    [
      "uid=a&jsonCallback=cb",
      {},
      400,
      'Cannot stream events: "jsonCallback" is for polls, not events',
    ],
    ["", {}, 400, 'Cannot poll: "uid" is missing'],
    ["uid=a", {}, 403, 'Cannot verify signature: "sign" is missing'],
  ];
  for (const [query, headers, status, error] of cases) {
    const response = await fetch(`${app.origin}/events?${query}`, { headers });
    assert.equal(response.status, status, query);
    assert.deepEqual(await response.json(), { error }, query);
  }
  const post = await fetch(`${app.origin}/events?uid=a`, { method: "POST", body: "x" });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, OPTIONS");
  await post.body?.cancel();
  await using queue = _listen({ store: new MemoryStore(), delivery: "queue" });
  const refused = await fetch(`${queue.origin}/events?uid=a`);
  assert.equal(refused.status, 400);
  assert.deepEqual(await refused.json(), {
    error: "Cannot stream events: the server delivers in queue mode; start it with DELIVERY=stream",
  });
  await store.close();
});

Deno.test("sse: a client that does not read holds back the reads, then gets every event in order", async () => {
  const store = new MemoryStore({ history: HISTORY });
  let reads = 0;
  const read = store.readStream!;
  Object.assign(store, {
    readStream: (uid: string, options: StreamReadOptions): Promise<StreamRead> => {
      reads++;
      return read(uid, options);
    },
  });
  const server = createServer({ store, delivery: "stream", maxBatch: 10 });
  const response = await server.handler.events(new Request("http://x/events?uid=slow"));
  const events = new SseReader(response);
  assert.deepEqual(await events.next(), { retry: "2000" });
  const readsAtStart = reads;
  for (let n = 0; n < 200; n++) await store.publish("slow", String(n));
  await sleep(50);
  // Unread, the body holds one batch; the other 190 messages wait in the history.
  assert.ok(
    reads - readsAtStart <= 2,
    `${reads - readsAtStart} reads while the client read nothing`,
  );
  const got = _messages(await _take(events, 200)).map((message) => message.data);
  assert.deepEqual(got, Array.from({ length: 200 }, (_, n) => n));
  await server.drain();
  assert.deepEqual(await events.next(), { event: "drain", data: '{"stop":true}' });
  assert.equal(await events.next(), null);
  await store.close();
});
