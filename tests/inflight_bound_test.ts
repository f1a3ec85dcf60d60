/**
 * At-least-once against a client that never acknowledges: its messages in
 * flight stay bounded, its backlog costs Redis nothing per poll, and other
 * uids' wakes stay fast: p99 under 10 ms, or, on a machine too loaded by
 * other tests to measure that, p90 not much worse than with the hog paused.
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import { createLongPollHandler } from "../mod.ts";
import { sideKey } from "../src/store/redis.ts";
import { connectStore } from "../testing/store_fixtures.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { startRedisServer } from "../testing/redis_server.ts";
import { percentile } from "../testing/stats.ts";
import { sleep, waitUntil } from "../testing/wait_until.ts";

const QUEUED = 20_000;
const WAKES = 400;
const BLOCKS = 20;

const p99 = (samples: number[]) => percentile(samples, 0.99);
const p90 = (samples: number[]) => percentile(samples, 0.9);

Deno.test(
  redisTest(
    "at-least-once: a client that never acks 20,000 queued messages holds back only itself",
    async () => {
      await using redis = await startRedisServer();
      await using store = await connectStore(redis);
      // 20,000 messages of 1 KB, numbered from the oldest.
      await redis.cli(
        "EVAL",
        `for i = 1, ${QUEUED} do ` +
          `redis.call("LPUSH", KEYS[1], string.format("%05d", i) .. string.rep("x", 1019)) end`,
        "1",
        "Q/MSGhog",
      );
      const hogs = createLongPollHandler({
        store,
        atLeastOnce: true,
        minWait: 0.01,
        maxWait: 0.01,
      });
      const others = createLongPollHandler({ store, minWait: 60, maxWait: 60 });
      const pinger = createClient({ url: redis.url });
      await pinger.connect();

      // The hog: two clients polling over and over, never acknowledging.
      let running = true;
      let paused = false;
      const received: string[] = [];
      const hog = async () => {
        while (running) {
          if (paused) {
            await sleep(5);
            continue;
          }
          const response = await hogs(new Request("http://x/?uid=hog"));
          const body = await response.text();
          if (response.headers.has("x-ack-id")) received.push(body.slice(0, 5));
        }
      };
      const pings: number[] = [];
      const ping = async () => {
        while (running) {
          const started = performance.now();
          await pinger.ping();
          pings.push(performance.now() - started);
        }
      };
      const background = [hog(), hog(), ping()];

      // Another uid, woken through the handler, one wake at a time, in
      // blocks with the hog running and paused in turn: the machine is
      // shared with other tests, whose load comes and goes, and falls on
      // both kinds of block alike.
      const withHog: number[] = [];
      const withoutHog: number[] = [];
      try {
        for (let block = 0; block < BLOCKS; block++) {
          paused = block % 2 === 1;
          for (let i = 0; i < WAKES / BLOCKS; i++) {
            const poll = others(new Request("http://x/?uid=other"));
            await waitUntil(() => others.held === 1, { what: "the other poll to be held" });
            const started = performance.now();
            await store.publish("other", `wake ${block}.${i}`);
            assert.equal(await (await poll).text(), `wake ${block}.${i}`);
            (paused ? withoutHog : withHog).push(performance.now() - started);
          }
        }
      } finally {
        running = false;
        await Promise.all(background);
        await pinger.close();
      }

      const inFlight = await redis.cli("HLEN", sideKey("Q/MSGhog", "inflight"));
      const leases = await redis.cli("ZCARD", sideKey("Q/MSGhog", "leases"));
      assert.deepEqual([inFlight, leases], ["16", "16"], "16 in flight, the default bound");
      assert.equal(await redis.cli("LLEN", "Q/MSGhog"), String(QUEUED - 16), "none lost");
      assert.deepEqual(
        received,
        Array.from({ length: 16 }, (_, i) => String(i + 1).padStart(5, "0")),
        "the 16 oldest, in order, each once (their leases of 60 s have not run out)",
      );
      const figures = `wake p99/p90 ${p99(withHog).toFixed(1)}/${p90(withHog).toFixed(1)} ms ` +
        `with the hog, ${p99(withoutHog).toFixed(1)}/${p90(withoutHog).toFixed(1)} ms without; ` +
        `Redis PING p99 ${p99(pings).toFixed(1)} ms`;
      console.log(`in-flight bound: ${figures}`);
      // On a quiet machine p99 stays under 10 ms with the hog (printed above);
      // on one loaded by other tests, spikes come and go with or without the
      // hog, which p99 can't tell apart: p90 must then not be much worse.
      if (p99(withHog) >= 10) assert.ok(p90(withHog) < p90(withoutHog) * 2 + 2, figures);
      assert.ok(p99(pings) < 10, figures);
      // What Redis spends per script (the takes, and the publishes, which
      // cost less), whatever the machine's load.
      const stats = await redis.cli("INFO", "commandstats");
      const perScript = Number(/cmdstat_eval:.*usec_per_call=([\d.]+)/.exec(stats)?.[1]);
      assert.ok(perScript < 500, `${perScript} µs of Redis per script`);
    },
  ),
);
