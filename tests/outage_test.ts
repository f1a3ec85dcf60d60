/**
 * Redis outages and graceful drain: held polls outlive a Redis restart,
 * /readyz follows the outage, and SIGTERM answers held polls with the stop
 * code over the drain window, pops nothing new, and exits in time.
 */
import assert from "node:assert/strict";
import { createLogger } from "../mod.ts";
import { createServer } from "../src/server/app.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { connectStore } from "../testing/store_fixtures.ts";
import { startRedisServer } from "../testing/redis_server.ts";
import { startServe } from "../testing/serve_process.ts";
import { sleep, waitUntil } from "../testing/wait_until.ts";
import { waitUntilHeld } from "../testing/held_polls.ts";

Deno.test(
  redisTest(
    "outage: held polls outlive a Redis restart and get what was pushed around it",
    async () => {
      await using redis = await startRedisServer();
      await using store = await connectStore(redis);
      const server = createServer({ store, minWait: 60, maxWait: 60, onError: () => {} });
      const get = (path: string) => server.fetch(new Request(`http://x${path}`));
      const polls = Array.from({ length: 10 }, (_, i) => get(`/?uid=held${i}`));
      await waitUntil(() => server.handler.held === 10, { what: "10 held polls" });

      await redis.stop();
      await waitUntil(() => !store.ready, { what: "the store to notice" });
      const started = performance.now();
      const refused = await get("/?uid=newcomer");
      assert.equal(refused.status, 503, "a poll during the outage");
      assert.ok(performance.now() - started < 2000);
      assert.equal(refused.headers.get("retry-after"), "1");
      assert.equal((await get("/readyz")).status, 503, "/readyz during the outage");
      assert.equal(server.handler.held, 10, "held polls are still held");

      await redis.start();
      // Pushed before our connections are back: heard by the re-check.
      for (let i = 0; i < 5; i++) await redis.cli("LPUSH", `Q/MSGheld${i}`, `early${i}`);
      await waitUntil(() => store.ready, { what: "the store to reconnect" });
      await waitUntil(async () => (await get("/readyz")).status === 200, { what: "/readyz" });
      // Pushed after: heard by notification.
      await sleep(100);
      for (let i = 5; i < 10; i++) await redis.cli("LPUSH", `Q/MSGheld${i}`, `late${i}`);
      const bodies = await Promise.all(polls.map(async (poll) => await (await poll).text()));
      assert.deepEqual(bodies, [
        ...Array.from({ length: 5 }, (_, i) => `early${i}`),
        ...Array.from({ length: 5 }, (_, i) => `late${i + 5}`),
      ]);
    },
  ),
);

Deno.test(
  redisTest(
    "outage: the log gets one line when Redis goes and one when it is back, however many polls failed",
    async () => {
      await using redis = await startRedisServer();
      await using store = await connectStore(redis);
      const lines: { level: string; line: string }[] = [];
      const server = createServer({
        store,
        minWait: 0.05,
        maxWait: 60,
        logger: createLogger({
          format: "json",
          write: (level, line) => lines.push({ level, line }),
        }),
      });
      const get = (path: string) => server.fetch(new Request(`http://x${path}`));
      // Held polls that keep popping on the schedule, all through the outage.
      const held = Array.from({ length: 20 }, (_, i) => get(`/?uid=held${i}`));
      await waitUntil(() => server.handler.held === 20, { what: "20 held polls" });
      await redis.stop();
      await waitUntil(() => !store.ready, { what: "the store to notice" });
      for (let i = 0; i < 30; i++) assert.equal((await get(`/?uid=new${i}`)).status, 503);
      await sleep(400);
      await redis.start();
      await waitUntil(() => store.ready, { what: "the store to reconnect" });
      await waitUntil(async () => {
        const response = await get("/?uid=after&wait=0.05");
        return response.status === 200;
      }, { what: "a poll to succeed" });
      for (let i = 0; i < 20; i++) await redis.cli("LPUSH", `Q/MSGheld${i}`, `m${i}`);
      assert.deepEqual(
        await Promise.all(held.map(async (poll) => await (await poll).text())),
        Array.from({ length: 20 }, (_, i) => `m${i}`),
      );
      const parsed = lines.map(({ level, line }) => ({ level, ...JSON.parse(line) }));
      assert.equal(parsed.length, 2, lines.map(({ line }) => line).join("\n"));
      assert.equal(parsed[0].level, "warn");
      assert.match(parsed[0].msg, /^Cannot reach the message store: /);
      assert.equal(parsed[1].level, "info");
      assert.match(parsed[1].msg, /^The message store is back after \d+\.\d s$/);
      assert.ok(parsed[1].failed >= 30, `failed=${parsed[1].failed}`);
      assert.equal(server.handler.metrics.storeErrors, parsed[1].failed);
    },
  ),
);

Deno.test(
  redisTest(
    "outage: data queued before a Redis restart survives it (AOF) and is delivered",
    async () => {
      await using redis = await startRedisServer();
      await redis.cli("LPUSH", "Q/MSGkept", "queued before");
      await redis.stop();
      await redis.start();
      await using store = await connectStore(redis);
      const server = createServer({ store });
      const response = await server.fetch(new Request("http://x/?uid=kept"));
      assert.equal(await response.text(), "queued before");
    },
  ),
);

Deno.test(
  redisTest(
    "drain: SIGTERM answers held polls with the stop code over the window, a woken one at once, pops nothing new, exits in time",
    async () => {
      await using redis = await startRedisServer();
      await using server = await startServe({
        REDIS_URL: redis.url,
        MIN_WAIT: "60",
        MAX_WAIT: "60",
        DRAIN_WINDOW: "1",
      });
      const held = 40;
      const woken = 10;
      const answers = Array.from({ length: held }, async (_, i) => {
        const response = await fetch(`${server.origin}/?uid=d${i}`);
        return { body: await response.text(), at: performance.now() };
      });
      await waitUntilHeld(server, held, { what: "the held polls" });
      const signalled = performance.now();
      const exit = server.stop("SIGTERM");
      // Pushed during the drain: nothing may pop them, and their polls are
      // answered at once, so the clients fetch them from another process.
      await sleep(50);
      const pushed = performance.now();
      for (let i = 0; i < woken; i++) await redis.cli("LPUSH", `Q/MSGd${i}`, `after-sigterm${i}`);
      const results = await Promise.all(answers);
      const code = await exit;
      const exitedAfter = performance.now() - signalled;
      assert.equal(code, 0);
      const bodies = results.map((result) => result.body);
      assert.deepEqual(bodies, Array(held).fill('{"stop":1}'), "every held poll got the stop code");
      let queued = 0;
      for (let i = 0; i < held; i++) queued += Number(await redis.cli("LLEN", `Q/MSGd${i}`));
      assert.equal(queued, woken, "nothing popped during the drain");
      const wokenTimes = results.slice(0, woken).map((result) => result.at - pushed);
      const wokenAnswered = results.slice(0, woken).filter((result) => result.at < pushed).length;
      assert.ok(
        Math.max(...wokenTimes) < 300,
        `woken polls answered ${
          wokenTimes.map(Math.round)
        } ms after their push (${wokenAnswered} before it)`,
      );
      const times = results.slice(woken).map((result) => result.at - signalled).sort((a, b) =>
        a - b
      );
      assert.ok(
        times[times.length - 1] - times[0] >= 400,
        `answers spread over ${times.at(-1)! - times[0]} ms`,
      );
      assert.ok(exitedAfter < 1000 + 1000, `exited ${exitedAfter} ms after SIGTERM`);
      assert.match(server.output(), /SIGTERM: draining 40 held polls over 1000 ms/);
    },
  ),
);

Deno.test(
  redisTest(
    "outage: once Redis accepts connections again, a new poll is served and a held poll woken within 200 ms",
    async () => {
      await using redis = await startRedisServer();
      await using store = await connectStore(redis);
      const server = createServer({
        store,
        minWait: 60,
        maxWait: 60,
        logger: createLogger({ write: () => {} }),
      });
      const get = (path: string) => server.fetch(new Request(`http://x${path}`));
      const held = get("/?uid=held");
      await waitUntil(() => server.handler.held === 1, { what: "the held poll" });
      await redis.stop();
      await waitUntil(() => !store.ready, { what: "the store to notice" });
      // Long enough for the reconnect backoff to reach its cap.
      await sleep(1500);
      await redis.start();
      const accepting = performance.now();
      // The first poll that succeeds, polling as fast as a client would.
      let served = 0;
      while (served === 0) {
        const response = await get("/?uid=fresh&wait=0.01");
        if (response.status === 200) served = performance.now() - accepting;
        else await sleep(5);
      }
      // The first wake: a plain LPUSH to the held uid.
      const pushed = performance.now();
      await redis.cli("LPUSH", "Q/MSGheld", "after");
      assert.equal(await (await held).text(), "after");
      const woken = performance.now() - accepting;
      console.log(
        `recovery: first poll served ${served.toFixed(0)} ms after Redis accepted, ` +
          `held poll woken ${woken.toFixed(0)} ms after (push at ${
            (pushed - accepting).toFixed(0)
          } ms)`,
      );
      assert.ok(served < 200, `first poll served ${served} ms after Redis accepted`);
      assert.ok(woken < 400, `held poll woken ${woken} ms after Redis accepted`);
    },
  ),
);
