/**
 * The client module against the real server routes (through `fetch`
 * injection): order, the stop code, acks, failures and the end reasons.
 */
import assert from "node:assert/strict";
import { createLongPollClient, type EndReason } from "../src/client/long_poll_client.ts";
import { createServer, type ServerOptions } from "../src/server/app.ts";
import { MemoryStore } from "../mod.ts";
import { waitUntil } from "./_support/wait_until.ts";

function setUp(options: Partial<ServerOptions> = {}) {
  const store = new MemoryStore();
  const server = createServer({ store, minWait: 0.05, maxWait: 0.1, ...options });
  const seen: { url: URL; status: number }[] = [];
  const fetch = async (request: Request) => {
    const response = await server.fetch(request);
    seen.push({ url: new URL(request.url), status: response.status });
    return response;
  };
  return { store, server, seen, fetch };
}

Deno.test("client: delivers in order, polling again after each message and each stop code", async () => {
  const { store, seen, fetch } = setUp();
  const received: string[] = [];
  const client = createLongPollClient({
    url: "http://local/",
    uid: "1",
    sign: "s",
    fetch,
    onMessage: (message) => void received.push(message),
  });
  client.start();
  await waitUntil(() => seen.some((poll) => poll.status === 200) && received.length === 0, {
    what: "a stop code",
  });
  for (const message of ["a", "b", "c"]) await store.publish("1", message);
  await waitUntil(() => received.length === 3, { what: "three messages" });
  client.stop();
  assert.deepEqual(received, ["a", "b", "c"]);
  assert.equal(client.running, false);
  assert.ok(seen.every((poll) => poll.url.searchParams.get("sign") === "s"));
});

Deno.test("client: at-least-once: acknowledges after onMessage, and a failed one comes again", async () => {
  const { store, seen, fetch } = setUp({ atLeastOnce: true, lease: 0.2 });
  await store.publish("2", "first");
  await store.publish("2", "second");
  const received: [string, boolean][] = [];
  let failOnce = true;
  const client = createLongPollClient({
    url: "http://local/",
    uid: "2",
    fetch,
    onMessage: (message, info) => {
      received.push([message, info.redelivered]);
      if (message === "first" && failOnce) {
        failOnce = false;
        throw new Error("the page could not handle it");
      }
    },
  });
  client.start();
  await waitUntil(() => received.length === 3, {
    what: "first again after its lease",
    timeoutMs: 5000,
  });
  client.stop();
  assert.deepEqual(received, [["first", false], ["second", false], ["first", true]]);
  const acks = seen.map((poll) => poll.url.searchParams.get("ack")).filter((ack) => ack !== null);
  assert.equal(acks.length >= 2, true, "the polls after a handled message carry its ack");
});

Deno.test("client: ends on 409 (superseded) and on a refused request, with the server's reason", async () => {
  const { fetch, server } = setUp({ minWait: 5, maxWait: 5, secret: "s3cret" });
  const ends: [EndReason, string | undefined][] = [];
  const refused = createLongPollClient({
    url: "http://local/",
    uid: "3",
    sign: "0".repeat(64),
    fetch,
    onMessage: () => {},
    onEnd: (reason, detail) => void ends.push([reason, detail]),
  });
  refused.start();
  await waitUntil(() => ends.length === 1, { what: "the end" });
  assert.deepEqual(ends[0], ["refused", 'Cannot verify signature: "sign" does not match']);

  const { HmacSigner } = await import("../mod.ts");
  const sign = await new HmacSigner({ secret: "s3cret" }).sign("4");
  const older = createLongPollClient({
    url: "http://local/",
    uid: "4",
    sign,
    fetch,
    onMessage: () => {},
    onEnd: (reason, detail) => void ends.push([reason, detail]),
  });
  older.start();
  await waitUntil(() => server.handler.held === 1, { what: "the first poll to be held" });
  const newer = server.fetch(new Request(`http://local/?uid=4&sign=${sign}`));
  await waitUntil(() => ends.length === 2, { what: "the end" });
  assert.deepEqual(ends[1], [
    "superseded",
    'Cannot hold: a newer poll of the same "uid" took its place',
  ]);
  await server.drain();
  await newer;
});

Deno.test("client: retries a failing server with backoff, honouring Retry-After", async () => {
  const { store, fetch } = setUp();
  let failures = 2;
  const waits: number[] = [];
  const flaky = (request: Request) =>
    failures-- > 0
      ? Promise.resolve(
        new Response('{"error":"busy"}', { status: 503, headers: { "Retry-After": "0" } }),
      )
      : fetch(request);
  await store.publish("5", "after the storm");
  const received: string[] = [];
  const client = createLongPollClient({
    url: "http://local/",
    uid: "5",
    fetch: flaky,
    retry: (attempt) => {
      waits.push(attempt);
      return 10;
    },
    onMessage: (message) => void received.push(message),
  });
  client.start();
  await waitUntil(() => received.length === 1, { what: "the message" });
  client.stop();
  assert.deepEqual(received, ["after the storm"]);
  assert.deepEqual(waits, [0, 1], "two backoffs, growing");
});

Deno.test("client: stop() aborts the poll in flight and ends once", async () => {
  const { server, fetch } = setUp({ minWait: 5, maxWait: 5 });
  const ends: EndReason[] = [];
  const client = createLongPollClient({
    url: "http://local/",
    uid: "6",
    fetch,
    onMessage: () => {},
    onEnd: (reason) => void ends.push(reason),
  });
  client.start();
  client.start();
  await waitUntil(() => server.handler.held === 1, { what: "one held poll" });
  client.stop();
  client.stop();
  await waitUntil(() => server.handler.held === 0, { what: "the poll to be released" });
  assert.deepEqual(ends, ["stopped"]);
});

Deno.test("client: a bad url or an empty uid is refused at once, not retried forever", () => {
  const onMessage = () => {};
  assert.throws(
    () => createLongPollClient({ url: "not a url", uid: "1", onMessage }),
    {
      name: "TypeError",
      message: 'Cannot create client: "url" is not a valid URL, got "not a url"',
    },
  );
  assert.throws(
    () => createLongPollClient({ url: "http://local/", uid: "", onMessage }),
    { name: "TypeError", message: 'Cannot create client: "uid" is empty' },
  );
});
