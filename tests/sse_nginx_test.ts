/**
 * Server-Sent Events through the shipped deploy/nginx.conf, in front of a
 * `deno task serve` process with DELIVERY=stream on a real Redis:
 *
 * - an event leaves nginx within 50 ms of the producer's `LPUSH` (nothing
 *   buffers it on the way), the worst of 20 samples;
 * - a stream idle for 120 s stays open: the default SSE_HEARTBEAT (25 s)
 *   keeps nginx's proxy_read_timeout of the /events route from cutting it,
 *   and a message pushed after the idle time comes on the same stream.
 *   Slow (about 2 min, mostly waiting; it runs in parallel with the rest).
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import { redisTest } from "../testing/redis_gate.ts";
import { signer, startStack } from "../testing/nginx.ts";
import { SseReader } from "../testing/sse_reader.ts";
import { summarize } from "../testing/stats.ts";
import { sleep } from "../testing/wait_until.ts";

/** The most an event may take from LPUSH to the reader, in ms. */
const MAX_LATENCY_MS = 50;
const SAMPLES = 20;
const WARM_UP = 3;
/** How long the quiet stream stays idle, in seconds. */
const IDLE_SECONDS = 120;

/** Opens `uid`'s event stream through nginx and reads past its `retry:` opening. */
async function openStream(origin: string, uid: string) {
  const response = await fetch(
    `${origin}/events?uid=${uid}&sign=${await signer.sign(uid)}`,
  );
  assert.equal(response.status, 200, await (response.ok ? "" : response.text()));
  assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const reader = new SseReader(response);
  assert.deepEqual(await reader.next(), { retry: "2000" });
  return reader;
}

Deno.test(
  redisTest("sse nginx: an event arrives within 50 ms of the LPUSH", async () => {
    await using stack = await startStack({ processes: 1, env: { DELIVERY: "stream" } });
    const reader = await openStream(stack.public, "fast");
    const producer = createClient({ url: stack.redis.url });
    await producer.connect();
    try {
      const latencies: number[] = [];
      // The first WARM_UP messages warm the path (JIT, connections) and are not timed.
      for (let n = 1; n <= WARM_UP + SAMPLES; n++) {
        const pushed = performance.now();
        await producer.lPush("Q/MSGfast", `{"n":${n}}`);
        const event = await reader.nextEvent();
        if (n > WARM_UP) latencies.push(performance.now() - pushed);
        assert.equal(event?.data, `{"n":${n}}`);
        await sleep(50);
      }
      const summary = summarize(latencies);
      console.log(`LPUSH to event through nginx, ms: ${JSON.stringify(summary)}`);
      assert.ok(
        summary.max <= MAX_LATENCY_MS,
        `the slowest event took ${summary.max.toFixed(1)} ms (${latencies.map(Math.round)})`,
      );
    } finally {
      await producer.quit();
      await reader.cancel();
    }
  }),
);

// Slow: about 2 minutes, nearly all of it waiting.
Deno.test(
  redisTest(
    "sse nginx: a stream idle for 120 s stays open with the default heartbeat",
    async () => {
      await using stack = await startStack({ processes: 1, env: { DELIVERY: "stream" } });
      const reader = await openStream(stack.public, "quiet");
      const started = Date.now();
      let heartbeats = 0;
      while (Date.now() - started < IDLE_SECONDS * 1000) {
        const frame = await reader.next(40_000);
        assert.deepEqual(frame, { comment: "heartbeat" }, "only heartbeats while idle");
        heartbeats++;
      }
      // 120 s of 25 s heartbeats: 4 of them at least.
      assert.ok(heartbeats >= 4, `${heartbeats} heartbeats in ${IDLE_SECONDS} s`);
      await stack.redis.cli("LPUSH", "Q/MSGquiet", '{"after":"the idle time"}');
      const event = await reader.nextEvent();
      assert.equal(event?.data, '{"after":"the idle time"}');
      assert.match(event?.id ?? "", /^\d+-\d+$/);
      await reader.cancel();
    },
  ),
);
