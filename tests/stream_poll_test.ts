/**
 * Long-poll cursors in stream delivery (protocol v1.2), on the memory store
 * and on a real redis-server: every device of a uid gets every message in
 * order, `since`/`next` round trips lose and repeat nothing while a
 * producer pushes, a poll from now learns its cursor, `since=0` reads the
 * history kept, an old cursor gets the reset answer, JSONP carries the same
 * object, and polls of a uid are capped instead of superseding each other.
 */
import assert from "node:assert/strict";
import { createLongPollHandler, type LongPollHandler, MemoryStore } from "../mod.ts";
import type { LongPollOptions } from "../src/options.ts";
import type { MessageStore } from "../src/store/types.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { type RedisServer, startRedisServer } from "../testing/redis_server.ts";
import { connectStore } from "../testing/store_fixtures.ts";
import { sleep, waitUntil } from "../testing/wait_until.ts";

const ID = /^(0|[1-9]\d*)-(0|[1-9]\d*)$/;

interface _Answer {
  status: number;
  headers: Headers;
  text: string;
  // deno-lint-ignore no-explicit-any
  body: any;
}

async function _get(handler: LongPollHandler, query: string, init?: RequestInit): Promise<_Answer> {
  const response = await handler(new Request(`http://x/?${query}`, init));
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, text, body };
}

/** Polls from `since` until `count` messages came, as a device does; returns their data. */
async function _device(
  handler: LongPollHandler,
  { uid, since, count, max }: { uid: string; since: string; count: number; max?: number },
): Promise<{ data: unknown[]; ids: string[] }> {
  const data: unknown[] = [];
  const ids: string[] = [];
  let cursor = since;
  while (data.length < count) {
    const answer = await _get(
      handler,
      `uid=${uid}&since=${cursor}&wait=2${max === undefined ? "" : `&max=${max}`}`,
    );
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.body.reset, undefined, `no reset: ${answer.text}`);
    assert.equal(answer.headers.get("x-next-since"), answer.body.next);
    for (const message of answer.body.messages) {
      data.push(message.data);
      ids.push(message.id);
    }
    cursor = answer.body.next;
  }
  return { data, ids };
}

interface _Kind {
  name: string;
  test: (name: string, fn: () => Promise<void>) => Deno.TestDefinition;
  open: (history: { max: number; ttlSeconds: number }) => Promise<_Opened>;
}

interface _Opened extends AsyncDisposable {
  store: MessageStore;
  /** A plain producer's push: `LPUSH` on Redis, `publish` in memory. */
  push: (uid: string, message: string) => Promise<void>;
}

const KINDS: _Kind[] = [
  {
    name: "memory",
    test: (name, fn) => ({ name, fn }),
    open: (history) => {
      const store = new MemoryStore({ history });
      return Promise.resolve({
        store,
        push: (uid, message) => store.publish(uid, message),
        [Symbol.asyncDispose]: () => store.close(),
      });
    },
  },
  {
    name: "redis",
    test: redisTest,
    open: async (history) => {
      const redis: RedisServer = await startRedisServer({ persistent: false });
      const store = await connectStore(redis, { history });
      return {
        store,
        push: async (uid, message) => void await redis.cli("LPUSH", `Q/MSG${uid}`, message),
        async [Symbol.asyncDispose]() {
          await store.close();
          await redis[Symbol.asyncDispose]();
        },
      };
    },
  },
];

function _handler(store: MessageStore, options: Partial<LongPollOptions> = {}): LongPollHandler {
  return createLongPollHandler({ store, delivery: "stream", minWait: 5, maxWait: 5, ...options });
}

for (const kind of KINDS) {
  const history = { max: 1000, ttlSeconds: 600 };

  Deno.test(
    kind.test(`stream ${kind.name}: two devices of one uid both get every message, in order`, async () => {
      await using opened = await kind.open(history);
      const handler = _handler(opened.store);
      const sent = Array.from({ length: 40 }, (_, i) => ({ n: i }));
      const phone = _device(handler, { uid: "u1", since: "0", count: sent.length });
      const laptop = _device(handler, { uid: "u1", since: "0", count: sent.length, max: 3 });
      await waitUntil(() => handler.held === 2, { what: "both devices to be held" });
      for (const message of sent.slice(0, 3)) await opened.push("u1", JSON.stringify(message));
      for (const message of sent.slice(3)) {
        await opened.store.publish("u1", JSON.stringify(message));
      }
      const [a, b] = await Promise.all([phone, laptop]);
      assert.deepEqual(a.data, sent);
      assert.deepEqual(b.data, sent);
      assert.deepEqual(a.ids, b.ids);
      assert.ok(a.ids.every((id) => ID.test(id)), a.ids.join());
      assert.equal(handler.metrics.superseded, 0);
      await handler.drain();
    }),
  );

  Deno.test(
    kind.test(`stream ${kind.name}: since/next round trips lose and repeat nothing while a producer pushes`, async () => {
      await using opened = await kind.open(history);
      const handler = _handler(opened.store);
      const count = 300;
      const reader = _device(handler, { uid: "u2", since: "0", count, max: 7 });
      for (let i = 0; i < count; i++) {
        await opened.store.publish("u2", String(i));
        if (i % 25 === 0) await sleep(Math.random() * 10);
      }
      const { data, ids } = await reader;
      // A message that is not JSON is delivered as a JSON string.
      assert.deepEqual(data, Array.from({ length: count }, (_, i) => i));
      assert.equal(new Set(ids).size, count);
      await handler.drain();
    }),
  );

  Deno.test(
    kind.test(`stream ${kind.name}: a poll from now learns its cursor, and reads on from it`, async () => {
      await using opened = await kind.open(history);
      const handler = _handler(opened.store);
      for (const message of ["old1", "old2"]) await opened.push("u3", message);
      const first = await _get(handler, "uid=u3&wait=0.2");
      assert.equal(first.headers.get("x-stop"), "true");
      assert.deepEqual(first.body.messages, []);
      assert.match(first.body.next, ID);
      const kept = await _get(handler, "uid=u3&since=0");
      assert.equal(first.body.next, kept.body.next, "the cursor is the newest id kept");
      // A poll from now held while a message comes gets that one only.
      const held = _get(handler, "uid=u3");
      await waitUntil(() => handler.held === 1, { what: "the poll to be held" });
      await opened.push("u3", '{"new":1}');
      const woken = await held;
      assert.deepEqual(woken.body.messages.map((m: { data: unknown }) => m.data), [{ new: 1 }]);
      const after = await _get(handler, `uid=u3&since=${first.body.next}&wait=0.2`);
      assert.deepEqual(after.body.messages.map((m: { data: unknown }) => m.data), [{ new: 1 }]);
      await handler.drain();
    }),
  );

  Deno.test(
    kind.test(`stream ${kind.name}: since=0 reads the history kept, max caps it, an old cursor (or 0-0 once trimmed) is a reset`, async () => {
      await using opened = await kind.open({ max: 3, ttlSeconds: 600 });
      const handler = _handler(opened.store);
      for (let i = 1; i <= 3; i++) await opened.store.publish("u4", `m${i}`);
      const kept = await _get(handler, "uid=u4&since=0");
      assert.deepEqual(kept.body.messages.map((m: { data: unknown }) => m.data), [
        "m1",
        "m2",
        "m3",
      ]);
      const capped = await _get(handler, "uid=u4&since=0-0&max=2");
      assert.deepEqual(capped.body.messages.map((m: { data: unknown }) => m.data), ["m1", "m2"]);
      assert.equal(capped.body.next, kept.body.messages[1].id);
      const [oldest, middle] = kept.body.messages.map((m: { id: string }) => m.id);
      for (let i = 4; i <= 10; i++) await opened.store.publish("u4", `m${i}`);
      // m2 to m7 are gone after the oldest cursor, and after 0-0: never skipped silently.
      const newest = (await _get(handler, "uid=u4&wait=0.05")).body.next;
      const stillKept = await _get(handler, "uid=u4&since=0");
      assert.deepEqual(stillKept.body.messages.map((m: { data: unknown }) => m.data), [
        "m8",
        "m9",
        "m10",
      ]);
      for (const since of [oldest, middle, "0-0"]) {
        const reset = await _get(handler, `uid=u4&since=${since}`);
        assert.equal(reset.status, 200);
        assert.deepEqual(reset.body, { messages: [], next: newest, reset: true }, `since=${since}`);
        assert.equal(reset.headers.get("x-reset"), "true");
        assert.equal(reset.headers.get("x-next-since"), newest);
      }
      // A cursor past the newest (another store's) is a reset too; the newest itself is not.
      const [ms] = newest.split("-");
      const future = await _get(handler, `uid=u4&since=${Number(ms) + 60_000}-0`);
      assert.equal(future.body.reset, true);
      const current = await _get(handler, `uid=u4&since=${newest}&wait=0.1`);
      assert.deepEqual(current.body, { messages: [], next: newest });
      assert.equal(current.headers.get("x-stop"), "true");
      assert.equal(current.headers.get("x-reset"), null);
      await handler.drain();
    }),
  );
}

Deno.test("stream: JSONP carries the same object, with {stop} and {reset} as second arguments", async () => {
  const store = new MemoryStore({ history: { max: 2, ttlSeconds: 600 } });
  const handler = _handler(store);
  await store.publish("j", '{"a":1}');
  await store.publish("j", "plain\u2028text");
  const messages = await _get(handler, "uid=j&since=0&jsonCallback=cb");
  const read = await _get(handler, "uid=j&since=0");
  const [first, second] = read.body.messages;
  assert.equal(
    messages.text,
    `/**/cb({"messages":[{"id":"${first.id}","data":{"a":1}},{"id":"${second.id}","data":"plain\\u2028text"}],"next":"${second.id}"});`,
  );
  assert.equal(messages.headers.get("content-type"), "text/javascript; charset=utf-8");
  const stop = await _get(handler, `uid=j&since=${second.id}&wait=0.1&jsonCallback=cb`);
  assert.equal(stop.text, `/**/cb({"messages":[],"next":"${second.id}"},{"stop":true});`);
  await store.publish("j", "third");
  await store.publish("j", "fourth");
  const reset = await _get(handler, `uid=j&since=${first.id}&jsonCallback=app.on`);
  const newest = (await _get(handler, "uid=j&since=0")).body.next;
  assert.equal(
    reset.text,
    `/**/app.on({"messages":[],"next":"${newest}","reset":true},{"reset":true});`,
  );
  const bad = await _get(handler, "uid=j&since=x&jsonCallback=cb");
  assert.equal(bad.status, 200);
  assert.equal(
    bad.text,
    '/**/cb({"error":"Cannot read \\"since\\": expected a stream id such as \\"1733300000000-0\\", or 0 for the start","status":400});',
  );
  await handler.drain();
  await store.close();
});

Deno.test("stream: a message with line breaks, or a literal, is one line of JSON", async () => {
  const store = new MemoryStore({ history: { max: 10, ttlSeconds: 600 } });
  const handler = _handler(store, {
    parseLiteral: (text) => text === "{'x':1}" ? { x: 1 } : undefined,
  });
  await store.publish("l", '{\r\n  "a": [1,\n 2]\n}');
  await store.publish("l", "{'x':1}");
  const answer = await _get(handler, "uid=l&since=0");
  assert.deepEqual(answer.body.messages.map((m: { data: unknown }) => m.data), [{ a: [1, 2] }, {
    x: 1,
  }]);
  assert.ok(!answer.text.includes("\n"), answer.text);
  await store.close();
});

Deno.test("stream: bad cursors, since in queue mode and ack in stream mode get clear 400s", async () => {
  const store = new MemoryStore({ history: { max: 10, ttlSeconds: 600 } });
  const stream = _handler(store);
  const expected =
    'Cannot read "since": expected a stream id such as "1733300000000-0", or 0 for the start';
  for (
    const since of [
      "",
      "x",
      "-1",
      "01-0",
      "1-01",
      "1",
      "1-",
      "-",
      "1-2-3",
      "1.5-0",
      "1e3-0",
      "0x1-0",
      " 1-0",
      "1234567890123456-0",
      "1-1234567890123456",
    ]
  ) {
    const answer = await _get(stream, `uid=s&since=${encodeURIComponent(since)}`);
    assert.equal(answer.status, 400, `since=${JSON.stringify(since)}`);
    assert.deepEqual(answer.body, { error: expected });
  }
  for (const since of ["0", "0-0", "123456789012345-123456789012345", "1733300000000-7"]) {
    const answer = await _get(stream, `uid=s&since=${since}&wait=0.05`);
    assert.equal(answer.status, 200, `since=${since}: ${answer.text}`);
  }
  const renamed = _handler(store, { params: { since: "cursor" } });
  assert.deepEqual((await _get(renamed, "uid=s&cursor=nope")).body, {
    error:
      'Cannot read "cursor": expected a stream id such as "1733300000000-0", or 0 for the start',
  });
  const ack = await _get(stream, "uid=s&ack=abc");
  assert.equal(ack.status, 400);
  assert.deepEqual(ack.body, {
    error: 'Cannot read "ack": stream delivery acknowledges by cursor ("since")',
  });
  const queue = createLongPollHandler({ store: new MemoryStore() });
  const since = await _get(queue, "uid=s&since=0");
  assert.equal(since.status, 400);
  assert.deepEqual(since.body, { error: 'Cannot read "since": cursors need DELIVERY=stream' });
  assert.equal(stream.metrics.errors.get(400), 16);
  await stream.drain();
  await store.close();
});

Deno.test("stream: polls of a uid don't supersede each other; past MAX_STREAMS_PER_UID, 429", async () => {
  const store = new MemoryStore({ history: { max: 10, ttlSeconds: 600 } });
  const handler = _handler(store, { maxStreamsPerUid: 2, corsOrigins: ["https://a.example"] });
  const one = _get(handler, "uid=c");
  const two = _get(handler, "uid=c");
  await waitUntil(() => handler.held === 2, { what: "two polls held" });
  const three = await _get(handler, "uid=c", { headers: { Origin: "https://a.example" } });
  assert.equal(three.status, 429);
  assert.deepEqual(three.body, {
    error: 'Cannot hold: "uid" already has 2 streams open (MAX_STREAMS_PER_UID)',
  });
  assert.equal(handler.held, 2);
  const other = _get(handler, "uid=d");
  await waitUntil(() => handler.held === 3, { what: "another uid's poll held" });
  await store.publish("c", "both");
  for (const answer of await Promise.all([one, two])) {
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body.messages.map((m: { data: unknown }) => m.data), ["both"]);
  }
  assert.equal(handler.metrics.superseded, 0);
  // A drain answers the stop with the cursor, even to a poll from now.
  const drained = handler.drain();
  const stop = await other;
  assert.equal(stop.headers.get("x-stop"), "true");
  assert.deepEqual(stop.body, { messages: [], next: "0-0" });
  await drained;
  const late = await _get(handler, "uid=c", { headers: { Origin: "https://a.example" } });
  assert.equal(late.headers.get("x-stop"), "true");
  assert.match(late.body.next, ID);
  assert.equal(late.headers.get("access-control-expose-headers"), "X-Stop, X-Reset, X-Next-Since");
  await store.close();
});
