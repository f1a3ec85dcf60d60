/**
 * The client in stream delivery, against scripted answers of protocol v1.2
 * (so each case, a duplicate or a reset, comes exactly when the test says;
 * the SSE frames are the server's own, from src/sse_format.ts):
 * the transport it picks, the cursor it keeps in `sessionStorage` and
 * resumes from, the reset callback, dropping what it already had, the
 * reconnect after a drain event, and the fall back to queue mode when the
 * server delivers in queue mode. Deno has `EventSource`, so the SSE cases
 * run over a real loopback connection. The client against the real server
 * is in client_stream_server_test.ts and the browser and nginx tests.
 */
import assert from "node:assert/strict";
import {
  createLongPollClient,
  type LongPollClientOptions,
} from "../src/client/long_poll_client.ts";
import { SSE_FRAME, sseMessage, sseReset } from "../src/sse_format.ts";
import { waitUntil } from "../testing/wait_until.ts";

const QUEUE_MODE_ERROR =
  "Cannot stream events: the server delivers in queue mode; start it with DELIVERY=stream";

/** A stream poll answer, as the server writes it. */
function answer(entries: [string, string][], next: string, reset = false): Response {
  const messages = entries.map(([id, data]) => `{"id":${JSON.stringify(id)},"data":${data}}`);
  const body = `{"messages":[${messages.join(",")}],"next":${JSON.stringify(next)}${
    reset ? ',"reset":true' : ""
  }}`;
  return new Response(body, { headers: { "Content-Type": "application/json; charset=utf-8" } });
}

/**
 * A client of `uid` whose polls get the scripted answers in turn (then
 * hang until aborted); what it sends, gets and is told is recorded.
 */
function scripted(
  uid: string,
  answers: (() => Response)[],
  options: Partial<LongPollClientOptions> = {},
) {
  const urls: URL[] = [];
  const received: [string, string | undefined][] = [];
  const resets: string[] = [];
  const client = createLongPollClient({
    url: "http://local/",
    uid,
    delivery: "stream",
    transport: "poll",
    shareTabs: false,
    retry: () => 10,
    fetch: (request) => {
      urls.push(new URL(request.url));
      const next = answers.shift();
      if (next !== undefined) return Promise.resolve(next());
      return new Promise((_, reject) =>
        request.signal.addEventListener("abort", () => reject(request.signal.reason))
      );
    },
    onMessage: (message, info) => void received.push([message, info.id]),
    onReset: (next) => void resets.push(next),
    ...options,
  });
  return { client, urls, received, resets };
}

Deno.test("client stream: long-polls from now, keeps each id in sessionStorage, and a reload resumes after it", async () => {
  sessionStorage.clear();
  const first = scripted("s1", [
    () => answer([], "100-0"),
    () => answer([["100-1", '{"n":1.0}'], ["101-0", '"two"']], "101-0"),
  ]);
  first.client.start();
  await waitUntil(() => first.urls.length === 3, { what: "a third poll" });
  first.client.stop();
  assert.deepEqual(first.received, [['{"n":1.0}', "100-1"], ['"two"', "101-0"]]);
  assert.deepEqual(first.urls.map((url) => url.searchParams.get("since")), [
    null,
    "100-0",
    "101-0",
  ]);
  assert.equal(first.urls[0].searchParams.has("ack"), false);
  assert.equal(sessionStorage.getItem("longpoll:s1:since"), "101-0");

  // The page reloads: a new client of the same uid starts after the stored id.
  const reloaded = scripted("s1", [() => answer([["102-0", "3"]], "102-0")]);
  reloaded.client.start();
  await waitUntil(() => reloaded.urls.length === 2, { what: "the poll after the reload's first" });
  reloaded.client.stop();
  assert.equal(reloaded.urls[0].searchParams.get("since"), "101-0");
  assert.deepEqual(reloaded.received, [["3", "102-0"]]);
  assert.equal(sessionStorage.getItem("longpoll:s1:since"), "102-0");
  // Another uid keeps its own place.
  assert.equal(sessionStorage.getItem("longpoll:s2:since"), null);
});

Deno.test("client stream: a message at or before the last id is dropped, so a resume is never a duplicate", async () => {
  sessionStorage.clear();
  sessionStorage.setItem("longpoll:d1:since", "200-5");
  const { client, received, urls } = scripted("d1", [
    () => answer([["200-4", '"old"'], ["200-5", '"same"'], ["200-6", '"new"']], "200-6"),
    () => answer([["200-6", '"new"'], ["201-0", '"newer"']], "201-0"),
  ]);
  client.start();
  await waitUntil(() => urls.length === 3, { what: "a third poll" });
  client.stop();
  assert.deepEqual(received, [['"new"', "200-6"], ['"newer"', "201-0"]]);
});

Deno.test("client stream: a reset calls onReset in order with the messages, and reading goes on from its next", async () => {
  sessionStorage.clear();
  sessionStorage.setItem("longpoll:r1:since", "300-0");
  const order: string[] = [];
  const { client, urls, resets } = scripted("r1", [
    () => answer([["300-1", '"before"']], "300-1"),
    () => answer([], "250-0", true),
    () => answer([["250-1", '"after"']], "250-1"),
  ], {
    onMessage: (message) => void order.push(message),
    onReset: (next) => {
      order.push(`reset ${next}`);
      resets.push(next);
    },
  });
  client.start();
  await waitUntil(() => urls.length === 4, { what: "a fourth poll" });
  client.stop();
  assert.deepEqual(order, ['"before"', "reset 250-0", '"after"']);
  assert.deepEqual(resets, ["250-0"]);
  assert.deepEqual(urls.map((url) => url.searchParams.get("since")), [
    "300-0",
    "300-1",
    "250-0",
    "250-1",
  ]);
  assert.equal(sessionStorage.getItem("longpoll:r1:since"), "250-1");
});

Deno.test("client stream: the transport: auto takes EventSource in stream delivery only; bad choices are refused", async () => {
  sessionStorage.clear();
  const seen: string[] = [];
  const start = (options: Partial<LongPollClientOptions>) => {
    const { client, urls } = scripted("t1", [], options);
    client.start();
    return { client, urls };
  };
  // Queue delivery (the default) long-polls, as before, with no cursor.
  const queue = start({ delivery: undefined, transport: undefined });
  await waitUntil(() => queue.urls.length === 1, { what: "a queue poll" });
  queue.client.stop();
  seen.push(queue.urls[0].pathname);
  assert.equal(queue.urls[0].searchParams.has("since"), false);

  // Stream delivery with auto: an EventSource on /events, signed like the polls.
  await using sse = serveEvents(() => [new Response("", { status: 500 })]);
  const auto = createLongPollClient({
    url: `${sse.origin}/`,
    uid: "t1",
    sign: "abc",
    exp: 99,
    delivery: "stream",
    shareTabs: false,
    retry: () => 60_000,
    onMessage: () => {},
  });
  auto.start();
  await waitUntil(() => sse.requests.length >= 1, { what: "the EventSource to connect" });
  auto.stop();
  const events = sse.requests[0];
  seen.push(events.pathname);
  assert.deepEqual(
    [...events.searchParams],
    [["uid", "t1"], ["sign", "abc"], ["exp", "99"]],
  );
  assert.deepEqual(seen, ["/", "/events"]);

  const make = (options: Partial<LongPollClientOptions>) => () =>
    createLongPollClient({ url: "http://local/", uid: "t1", onMessage: () => {}, ...options });
  assert.throws(make({ transport: "eventsource" }), {
    name: "TypeError",
    message: 'Cannot create client: "transport" "eventsource" needs "delivery" "stream"',
  });
  assert.throws(make({ delivery: "streams" as "stream" }), {
    name: "TypeError",
    message: 'Cannot create client: "delivery" must be "queue" or "stream", got "streams"',
  });
  assert.throws(make({ delivery: "stream", transport: "sse" as "poll" }), {
    name: "TypeError",
    message: 'Cannot create client: "transport" must be "auto", "eventsource" or "poll", got "sse"',
  });
  const { EventSource } = globalThis;
  try {
    // @ts-ignore: a page without EventSource
    delete globalThis.EventSource;
    assert.throws(make({ delivery: "stream", transport: "eventsource" }), {
      name: "TypeError",
      message:
        'Cannot create client: "transport" is "eventsource" but there is no EventSource here',
    });
    // auto falls back to long-poll with a cursor there.
    const { client, urls } = start({ transport: "auto" });
    await waitUntil(() => urls.length === 1, { what: "a poll" });
    client.stop();
    assert.equal(urls[0].pathname, "/");
  } finally {
    globalThis.EventSource = EventSource;
  }
});

Deno.test("client stream: EventSource: ids and resets, a drain reconnects at once after the last id, duplicates dropped", async () => {
  sessionStorage.clear();
  sessionStorage.setItem("longpoll:e1:since", "400-0");
  const received: [string, string | undefined][] = [];
  const resets: string[] = [];
  await using sse = serveEvents(() => [
    sseResponse(
      SSE_FRAME.retry + sseMessage("400-1", '{"n":1.0}') + sseMessage("400-2", '"two"') +
        SSE_FRAME.drain,
    ),
    sseResponse(
      SSE_FRAME.retry + sseMessage("400-2", '"two"') + sseReset("390-0") +
        sseMessage("390-1", "3") +
        SSE_FRAME.heartbeat,
      true,
    ),
  ]);
  const client = createLongPollClient({
    url: `${sse.origin}/`,
    uid: "e1",
    delivery: "stream",
    transport: "eventsource",
    shareTabs: false,
    // A drain must not wait for this.
    retry: () => 60_000,
    onMessage: (message, info) => void received.push([message, info.id]),
    onReset: (next) => void resets.push(next),
  });
  const started = Date.now();
  client.start();
  await waitUntil(() => received.length === 3, { what: "three messages" });
  const took = Date.now() - started;
  client.stop();
  assert.deepEqual(received, [['{"n":1.0}', "400-1"], ['"two"', "400-2"], ["3", "390-1"]]);
  assert.deepEqual(resets, ["390-0"]);
  assert.deepEqual(sse.requests.map((url) => url.searchParams.get("since")), ["400-0", "400-2"]);
  assert.ok(took < 2000, `reconnected at once after the drain, took ${took} ms`);
  assert.equal(sessionStorage.getItem("longpoll:e1:since"), "390-1");
});

Deno.test("client stream: a server in queue mode refuses /events; the client long-polls in queue mode", async () => {
  sessionStorage.clear();
  const received: string[] = [];
  let polls = 0;
  let streams = 0;
  await using sse = serveEvents(() => [], (url) => {
    if (url.pathname === "/events") {
      streams++;
      return Response.json({ error: QUEUE_MODE_ERROR }, { status: 400 });
    }
    polls++;
    assert.equal(url.searchParams.has("since"), false, "queue polls carry no cursor");
    return new Response(polls === 1 ? '{"queued":1}' : '{"stop":1}', {
      headers: polls === 1 ? {} : { "X-Stop": "true" },
    });
  });
  const ends: string[] = [];
  const client = createLongPollClient({
    url: `${sse.origin}/`,
    uid: "q1",
    delivery: "stream",
    shareTabs: false,
    onMessage: (message) => void received.push(message),
    onEnd: (reason) => void ends.push(reason),
  });
  client.start();
  await waitUntil(() => received.length === 1, { what: "the queued message" });
  client.stop();
  assert.deepEqual(received, ['{"queued":1}']);
  assert.deepEqual(ends, ["stopped"]);
  assert.ok(streams >= 1, "it tried /events first");
});

Deno.test("client stream: a refused stream ends the client with the server's reason", async () => {
  sessionStorage.clear();
  const paths: string[] = [];
  await using sse = serveEvents(() => [], (url) => {
    paths.push(url.pathname);
    return Response.json({ error: 'Cannot verify signature: "sign" does not match' }, {
      status: 403,
    });
  });
  const { promise, resolve } = Promise.withResolvers<[string, string | undefined]>();
  createLongPollClient({
    url: `${sse.origin}/`,
    uid: "f1",
    delivery: "stream",
    shareTabs: false,
    onMessage: () => {},
    onEnd: (reason, detail) => resolve([reason, detail]),
  }).start();
  assert.deepEqual(await promise, ["refused", 'Cannot verify signature: "sign" does not match']);
  // The EventSource, then the fetch that learns why it was refused.
  assert.deepEqual(paths, ["/events", "/events"]);
});

Deno.test("client stream: tabs share the stream: a follower gets the ids and the reset, over one stream", async () => {
  sessionStorage.clear();
  await using sse = serveEvents(
    () => [
      sseResponse(
        SSE_FRAME.retry + sseMessage("500-1", '"a"') + sseReset("490-0") +
          sseMessage("490-1", '"b"'),
        true,
      ),
    ],
    undefined,
    true,
  );
  const tab = () => {
    const seen: string[] = [];
    const client = createLongPollClient({
      url: `${sse.origin}/`,
      uid: "shared1",
      delivery: "stream",
      retry: () => 60_000,
      onMessage: (message, info) => void seen.push(`${info.id} ${message}`),
      onReset: (next) => void seen.push(`reset ${next}`),
    });
    client.start();
    return { client, seen };
  };
  const first = tab();
  await waitUntil(() => first.client.leading, { what: "the first tab to lead" });
  const second = tab();
  // Both tabs listen before the server writes.
  await new Promise((resolve) => setTimeout(resolve, 200));
  sse.release();
  const expected = ['500-1 "a"', "reset 490-0", '490-1 "b"'];
  await waitUntil(() => first.seen.length === 3 && second.seen.length === 3, {
    what: () => `both tabs to get all; ${JSON.stringify([first.seen, second.seen])}`,
  });
  first.client.stop();
  second.client.stop();
  assert.deepEqual(first.seen, expected);
  assert.deepEqual(second.seen, expected);
  assert.equal(sse.requests.length, 1, "one stream for both tabs");
});

/**
 * Serves the scripted SSE answers of `script` in turn on `/events` (the
 * rest stay open with nothing more), and answers every request with
 * `other` instead when given; `gated` holds the answers until `release()`.
 */
function serveEvents(
  script: () => Response[],
  other?: (url: URL) => Response,
  gated = false,
) {
  const answers = script();
  const requests: URL[] = [];
  const gate = Promise.withResolvers<void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const url = new URL(request.url);
    if (other !== undefined) return other(url);
    requests.push(url);
    const next = answers.shift();
    if (next === undefined) return sseResponse(SSE_FRAME.retry, true);
    if (gated) await gate.promise;
    return next;
  });
  return {
    origin: `http://127.0.0.1:${server.addr.port}`,
    requests,
    /** Lets a gated answer go. */
    release: () => gate.resolve(),
    [Symbol.asyncDispose]: async () => {
      await server.shutdown();
    },
  };
}

/** An SSE answer of `text`; `open` keeps the stream open after it (until the client goes). */
function sseResponse(text: string, open = false): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(text));
      if (!open) controller.close();
    },
  });
  return new Response(body, {
    headers: { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store" },
  });
}
