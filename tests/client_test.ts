/**
 * The client module against the real server routes (through `fetch`
 * injection): order, the stop code, acks, failures and the end reasons.
 */
import assert from "node:assert/strict";
import { createLongPollClient, type EndReason } from "../src/client/long_poll_client.ts";
import { FORBIDDEN_RETRIES } from "../src/client/poll_loop.ts";
import { createServer, type ServerOptions } from "../src/server/app.ts";
import { MemoryStore } from "../mod.ts";
import { sleep, waitUntil } from "../testing/wait_until.ts";

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

Deno.test("client: without tab sharing, ends on 409 (superseded) and on a refused request, with the server's reason", async () => {
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
    shareTabs: false,
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

Deno.test("client: with tab sharing, a 409 (a poll from elsewhere) is retried after the backoff", async () => {
  const { fetch, server, seen } = setUp({ minWait: 5, maxWait: 5 });
  const ends: EndReason[] = [];
  const retries: number[] = [];
  const client = createLongPollClient({
    url: "http://local/",
    uid: "4b",
    fetch,
    retry: (attempt) => {
      retries.push(attempt);
      return 50;
    },
    onMessage: () => {},
    onEnd: (reason) => void ends.push(reason),
  });
  client.start();
  await waitUntil(() => server.handler.held === 1, { what: "the client's poll to be held" });
  const elsewhere = server.fetch(new Request("http://local/?uid=4b"));
  // The client's retry takes the place back, and that poll gets the 409.
  assert.equal((await elsewhere).status, 409);
  await waitUntil(() => server.handler.held === 1, { what: "the client to poll again" });
  assert.deepEqual(seen.map((poll) => poll.status), [409]);
  assert.deepEqual(retries, [0]);
  assert.deepEqual(ends, []);
  assert.equal(client.running, true);
  client.stop();
  await server.drain();
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

Deno.test("client: a Retry-After past the longest timer delay waits, rather than re-polling at once", async () => {
  let polls = 0;
  const overflowing = () => {
    polls++;
    return Promise.resolve(
      new Response('{"error":"busy"}', { status: 503, headers: { "Retry-After": "99999999" } }),
    );
  };
  const client = createLongPollClient({
    url: "http://local/",
    uid: "9",
    fetch: overflowing,
    onMessage: () => {},
  });
  client.start();
  await sleep(1000);
  client.stop();
  assert.equal(polls, 1, `${polls} polls in a second: one, then the wait the server asked for`);
});

/**
 * A client whose polls get `statuses` in turn (a 403 as the server words
 * it; 200 for the rest, through the real server), and what it saw.
 */
function scriptedClient(statuses: number[]) {
  const { store, fetch } = setUp();
  const polls: number[] = [];
  const ends: [EndReason, string | undefined][] = [];
  const retries: number[] = [];
  const received: string[] = [];
  const client = createLongPollClient({
    url: "http://local/",
    uid: "10",
    fetch: async (request) => {
      const status = statuses.shift() ?? 200;
      polls.push(status);
      if (status === 200) return await fetch(request);
      return Response.json({ error: 'Cannot verify signature: "sign" does not match' }, { status });
    },
    retry: (attempt) => {
      retries.push(attempt);
      return 10;
    },
    onMessage: (message) => void received.push(message),
    onEnd: (reason, detail) => void ends.push([reason, detail]),
  });
  return { store, client, polls, ends, retries, received };
}

Deno.test("client: a 403 after a poll that worked is retried with the backoff (a secret rotating)", async () => {
  const forbidden = Array(FORBIDDEN_RETRIES).fill(403);
  const { store, client, polls, ends, retries, received } = scriptedClient([
    200,
    ...forbidden,
    200,
    ...forbidden,
  ]);
  client.start();
  await waitUntil(() => polls.length > 2 * FORBIDDEN_RETRIES + 2, {
    what: "the polls after the 403s",
  });
  await store.publish("10", "still here");
  await waitUntil(() => received.length === 1, { what: "the message after the 403s" });
  client.stop();
  assert.deepEqual(ends, [["stopped", undefined]]);
  const backoffs = [...Array(FORBIDDEN_RETRIES).keys()];
  assert.deepEqual(retries, [...backoffs, ...backoffs], "growing backoffs, reset by a 200");
});

Deno.test("client: a 403 on the first poll, or one 403 too many in a row, ends the client as refused", async () => {
  const first = scriptedClient([403]);
  first.client.start();
  await waitUntil(() => first.ends.length === 1, { what: "the end" });
  assert.deepEqual(first.ends, [["refused", 'Cannot verify signature: "sign" does not match']]);
  assert.deepEqual(first.polls, [403]);

  const forbidden = Array(FORBIDDEN_RETRIES + 1).fill(403);
  const repeated = scriptedClient([200, ...forbidden]);
  repeated.client.start();
  await waitUntil(() => repeated.ends.length === 1, { what: "the end" });
  assert.deepEqual(repeated.ends, [["refused", 'Cannot verify signature: "sign" does not match']]);
  assert.deepEqual(repeated.polls, [200, ...forbidden]);
  assert.equal(repeated.retries.length, FORBIDDEN_RETRIES);
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

Deno.test("client: sends wait=60 by default, or the wait given, and abandons only a poll past it", async () => {
  const urls: URL[] = [];
  const aborted: number[] = [];
  const polls: number[] = [];
  let answerLate = true;
  const started = performance.now();
  const fetch = (request: Request) => {
    urls.push(new URL(request.url));
    polls.push(performance.now() - started);
    if (answerLate) {
      // Later than the wait asked for, yet before the client's timeout.
      answerLate = false;
      return sleep(600).then(() => new Response('{"stop":1}'));
    }
    return new Promise<Response>((_, reject) =>
      request.signal.addEventListener("abort", () => {
        aborted.push(performance.now() - started);
        reject(request.signal.reason);
      })
    );
  };
  for (const wait of [undefined, 1 / 3]) {
    const sent = urls.length;
    const other = createLongPollClient({
      url: "http://local/",
      uid: "w1",
      wait,
      fetch: (request) => {
        urls.push(new URL(request.url));
        return new Promise(() => {});
      },
      onMessage: () => {},
    });
    other.start();
    await waitUntil(() => urls.length === sent + 1, { what: "its poll" });
    other.stop();
  }
  assert.deepEqual(urls.map((url) => url.searchParams.get("wait")), ["60", "0.333"]);
  assert.equal(urls[0].searchParams.has("max"), false);
  urls.length = 0;

  const client = createLongPollClient({
    url: "http://local/",
    uid: "w2",
    wait: 0.2,
    retry: () => 0,
    fetch,
    onMessage: () => {},
  });
  client.start();
  await waitUntil(() => polls.length === 3, {
    what: "a poll after the abandoned one",
    timeoutMs: 5000,
  });
  const abandoned = [...aborted];
  client.stop();
  assert.deepEqual(urls.map((url) => url.searchParams.get("wait")), ["0.2", "0.2", "0.2"]);
  // The late answer came at 600 ms and was taken; the next poll, never
  // answered, was abandoned at 0.2 s plus 10 % plus a second.
  assert.equal(abandoned.length, 1);
  const heldFor = abandoned[0] - polls[1];
  assert.ok(heldFor >= 1200 && heldFor < 2500, `abandoned after ${heldFor.toFixed(0)} ms`);
});

Deno.test("client: max=<n> takes a batch; each element goes to onMessage in order, as its exact JSON text", async () => {
  const urls: URL[] = [];
  const answers = [
    new Response('[{"n":1.0}, "plain text", [3], {"n":12345678901234567890}]'),
    new Response('{"stop":1}'),
    // An older server ignores max: a message that is not an array is one message.
    new Response('{"n":5}'),
  ];
  const received: string[] = [];
  const client = createLongPollClient({
    url: "http://local/",
    uid: "b1",
    max: 10,
    fetch: (request) => {
      urls.push(new URL(request.url));
      const answer = answers.shift();
      return answer === undefined ? new Promise(() => {}) : Promise.resolve(answer);
    },
    onMessage: (message) => void received.push(message),
  });
  client.start();
  await waitUntil(() => received.length === 5, { what: "five messages" });
  client.stop();
  assert.deepEqual(received, [
    '{"n":1.0}',
    '"plain text"',
    "[3]",
    '{"n":12345678901234567890}',
    '{"n":5}',
  ]);
  assert.ok(urls.every((url) => url.searchParams.get("max") === "10"));
});

Deno.test("client: at-least-once batch: acknowledged once all were handled; a throw stops the rest, which come again", async () => {
  // A server of batches in at-least-once mode, whose leases run out at
  // once: a batch the next poll does not acknowledge comes again.
  const queue = ['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}'];
  const leased = new Map<string, string[]>();
  const acks: (string | null)[] = [];
  let ids = 0;
  const fetch = (request: Request) => {
    const url = new URL(request.url);
    const ack = url.searchParams.get("ack");
    acks.push(ack);
    if (ack !== null) leased.delete(ack);
    const [again] = leased.values();
    leased.clear();
    const batch = again ?? queue.splice(0, Number(url.searchParams.get("max")));
    if (batch.length === 0) return new Promise<Response>(() => {});
    const id = `id${++ids}`;
    leased.set(id, batch);
    return Promise.resolve(
      new Response(`[${batch.join(",")}]`, {
        headers: { "X-Ack-Id": id, "X-Redelivered": String(again !== undefined) },
      }),
    );
  };
  const received: [string, string | undefined, boolean][] = [];
  let failOnce = true;
  const client = createLongPollClient({
    url: "http://local/",
    uid: "b2",
    max: 3,
    fetch,
    onMessage: (message, info) => {
      received.push([message, info.ack, info.redelivered]);
      if (message === '{"n":2}' && failOnce) {
        failOnce = false;
        throw new Error("the page could not handle it");
      }
    },
  });
  client.start();
  await waitUntil(() => received.length === 6 && acks.length === 4, { what: "every message" });
  client.stop();
  assert.deepEqual(received, [
    ['{"n":1}', "id1", false],
    ['{"n":2}', "id1", false],
    ['{"n":1}', "id2", true],
    ['{"n":2}', "id2", true],
    ['{"n":3}', "id2", true],
    ['{"n":4}', "id3", false],
  ]);
  assert.deepEqual(acks, [null, null, "id2", "id3"]);
});

Deno.test("client: refuses a bad wait or max at once", () => {
  const onMessage = () => {};
  for (const wait of [0, -1, 0.0004, 1_000_000, NaN, Infinity]) {
    assert.throws(
      () => createLongPollClient({ url: "http://local/", uid: "1", wait, onMessage }),
      {
        name: "RangeError",
        message:
          `Cannot create client: "wait" must be a number of seconds from 0.001 to 999999, got "${wait}"`,
      },
    );
  }
  for (const max of [0, 1.5, -2]) {
    assert.throws(
      () => createLongPollClient({ url: "http://local/", uid: "1", max, onMessage }),
      {
        name: "RangeError",
        message: `Cannot create client: "max" must be an integer of 1 or more, got "${max}"`,
      },
    );
  }
});
