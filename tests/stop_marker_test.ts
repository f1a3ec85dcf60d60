/**
 * The stop answer is marked (`X-Stop: true`, a JSONP second argument
 * `{"stop":true}`), so a message whose body equals the stop code is a
 * message: delivered and acknowledged, never taken for the end of a hold.
 */
import assert from "node:assert/strict";
import { createLongPollClient } from "../src/client/long_poll_client.ts";
import { Metrics } from "../src/metrics.ts";
import { PLAIN_OUTCOMES } from "../src/outcome.ts";
import { DEFAULT_STOP_CODE, HEADER } from "../src/protocol.ts";
import { Responder } from "../src/responder.ts";
import { createServer } from "../src/server/app.ts";
import { sideKey } from "../src/store/redis.ts";
import { createLongPollHandler, MemoryStore } from "../mod.ts";
import { connectStore } from "../testing/store_fixtures.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { startRedisServer } from "../testing/redis_server.ts";
import { waitUntil } from "../testing/wait_until.ts";

function responder(atLeastOnce = false): Responder {
  return new Responder({
    stopCode: DEFAULT_STOP_CODE,
    atLeastOnce,
    metrics: new Metrics(),
    onError: (error) => {
      throw error;
    },
  });
}

Deno.test("stop marker: the stop answer carries X-Stop; a message equal to the stop code does not", async () => {
  const plain = { callback: null, cors: null };
  const stop = responder().stop(plain);
  assert.equal(stop.headers.get(HEADER.stop), "true");
  assert.equal(await stop.text(), DEFAULT_STOP_CODE);
  const message = responder().message(plain, DEFAULT_STOP_CODE);
  assert.equal(message.headers.get(HEADER.stop), null);
  assert.equal(await message.text(), DEFAULT_STOP_CODE);
  const leased = responder(true).message(plain, {
    id: "a1",
    message: DEFAULT_STOP_CODE,
    deliveries: 1,
  });
  assert.equal(leased.headers.get(HEADER.stop), null);
  assert.equal(leased.headers.get(HEADER.ackId), "a1");
});

Deno.test("stop marker: through JSONP the stop passes {stop: true} as second argument, a message does not", async () => {
  const jsonp = { callback: "cb", cors: null };
  assert.equal(await responder().stop(jsonp).text(), '/**/cb({"stop":1},{"stop":true});');
  assert.equal(await responder().message(jsonp, DEFAULT_STOP_CODE).text(), '/**/cb({"stop":1});');
  const leased = responder(true).message(jsonp, {
    id: "a1",
    message: DEFAULT_STOP_CODE,
    deliveries: 2,
  });
  assert.equal(await leased.text(), '/**/cb({"stop":1},{"ack":"a1","redelivered":true});');
});

Deno.test("stop marker: a batch is always an array, so a batch of the stop code is no stop", async () => {
  const batch = { callback: null, cors: null, max: 4 };
  const response = responder().message(batch, [DEFAULT_STOP_CODE]);
  assert.equal(response.headers.get(HEADER.stop), null);
  assert.equal(await response.text(), `[${DEFAULT_STOP_CODE}]`);
});

Deno.test("stop marker: CORS answers expose X-Stop, and in at-least-once mode the delivery headers too", () => {
  const cors = { callback: null, cors: "https://app.example" };
  const exposed = (atLeastOnce: boolean) =>
    responder(atLeastOnce).stop(cors).headers.get("access-control-expose-headers");
  assert.equal(exposed(false), "X-Stop");
  assert.equal(exposed(true), "X-Stop, X-Ack-Id, X-Redelivered");
});

Deno.test("stop marker: an early-headers stop through JSONP still passes {stop: true}", async () => {
  const jsonp = { callback: "cb", cors: null };
  const early = responder();
  const answer = early.open(jsonp, () => {});
  assert.equal(early.finish(answer, jsonp, PLAIN_OUTCOMES.timeout), true);
  assert.equal(await answer.response.text(), '/**/cb({"stop":1},{"stop":true});');
});

Deno.test("stop marker: early headers cannot carry an ack id, so they are refused with at-least-once", () => {
  assert.throws(
    () =>
      createLongPollHandler({ store: new MemoryStore(), earlyHeaders: true, atLeastOnce: true }),
    {
      name: "RangeError",
      message:
        'Cannot create handler: "earlyHeaders" cannot be combined with "atLeastOnce", as early headers cannot carry "X-Ack-Id"',
    },
  );
});

Deno.test("stop marker: ./client hands a message equal to the stop code to onMessage, and polls on after a real stop", async () => {
  const store = new MemoryStore();
  const server = createServer({ store, minWait: 0.05, maxWait: 0.05 });
  let stops = 0;
  const fetch = async (request: Request) => {
    const response = await server.fetch(request);
    if (response.headers.get(HEADER.stop) === "true") stops++;
    return response;
  };
  const received: string[] = [];
  const client = createLongPollClient({
    url: "http://local/",
    uid: "7",
    fetch,
    onMessage: (message) => void received.push(message),
  });
  await store.publish("7", DEFAULT_STOP_CODE);
  client.start();
  await waitUntil(() => received.length === 1 && stops > 0, { what: "the message, then a stop" });
  await store.publish("7", "after");
  await waitUntil(() => received.length === 2, { what: "the message after the stop" });
  client.stop();
  assert.deepEqual(received, [DEFAULT_STOP_CODE, "after"]);
  await server.drain();
});

Deno.test(
  redisTest(
    "stop marker: at-least-once on Redis, 16 messages equal to the stop code do not wedge the uid",
    async () => {
      await using redis = await startRedisServer();
      await using store = await connectStore(redis);
      const server = createServer({
        store,
        atLeastOnce: true,
        lease: 1,
        minWait: 0.2,
        maxWait: 0.2,
      });
      for (let i = 0; i < 16; i++) await redis.cli("LPUSH", "Q/MSGw", DEFAULT_STOP_CODE);
      await redis.cli("LPUSH", "Q/MSGw", '{"important":1}');
      const received: string[] = [];
      const client = createLongPollClient({
        url: "http://local/",
        uid: "w",
        fetch: async (request) => await server.fetch(request),
        onMessage: (message) => void received.push(message),
      });
      client.start();
      try {
        await waitUntil(() => received.length === 17, {
          what: "all 17 messages",
          timeoutMs: 6000,
        });
        // The next poll acknowledges the last one.
        await waitUntil(
          async () => (await redis.cli("HLEN", sideKey("Q/MSGw", "inflight"))) === "0",
          {
            what: "every message acknowledged",
          },
        );
      } finally {
        client.stop();
        await server.drain();
      }
      assert.deepEqual(received, [...Array(16).fill(DEFAULT_STOP_CODE), '{"important":1}']);
      assert.equal(await redis.cli("LLEN", "Q/MSGw"), "0");
    },
  ),
);
