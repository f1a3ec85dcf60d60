/**
 * Chaos: 3 server processes on one redis-server, 300 uids, 20 messages each
 * pushed by a plain client at random times, while clients abort 30% of
 * their polls at random moments, Redis restarts once (SHUTDOWN NOSAVE, AOF
 * on), and one server is SIGTERMed and restarted. Run in both modes; the
 * counts are printed.
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import { sideKey } from "../src/store/redis.ts";
import { type RedisServer, startRedisServer } from "../testing/redis_server.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { freePort } from "../testing/free_port.ts";
import { Prng } from "../testing/prng.ts";
import { sleep } from "../testing/wait_until.ts";
import { type ServeProcess, startServe } from "../testing/serve_process.ts";

const UIDS = 300;
const PER_UID = 20;
const ABORT_SHARE = 0.3;
const PUSH_SECONDS = 8;
const DEADLINE_MS = 45_000;
const QUIET_MS = 6_000;
const STOP_CODE = '{"stop":1}';

interface Counts {
  polls: number;
  aborted: number;
  /** Answers with a message whose headers had arrived when the client aborted. */
  droppedByClient: number;
  /** Messages the servers sent that no client took: sent, then the client went. */
  unclaimed: number;
  delivered: number;
  duplicates: number;
  stillQueued: number;
  inFlight: number;
  lost: number;
}

/** The number of messages a server has answered polls with. */
async function deliveredBy(port: number): Promise<number> {
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^longpoll_delivered_total (\d+)$/m.exec(metrics)?.[1]);
}

async function chaos(redis: RedisServer, atLeastOnce: boolean, seed: number): Promise<Counts> {
  const rng = new Prng(seed);
  const ports = [freePort(), freePort(), freePort()];
  const env = (port: number) => ({
    PORT: String(port),
    REDIS_URL: redis.url,
    MIN_WAIT: "1",
    MAX_WAIT: "2",
    DRAIN_WINDOW: "0.5",
    AT_LEAST_ONCE: String(atLeastOnce),
    LEASE: "2",
  });
  const servers: (ServeProcess | undefined)[] = [];
  for (const port of ports) servers.push(await startServe(env(port)));
  const counts: Counts = {
    polls: 0,
    aborted: 0,
    droppedByClient: 0,
    unclaimed: 0,
    delivered: 0,
    duplicates: 0,
    stillQueued: 0,
    inFlight: 0,
    lost: 0,
  };
  const seen = new Set<string>();
  const expected = new Set<string>();
  for (let u = 0; u < UIDS; u++) for (let n = 0; n < PER_UID; n++) expected.add(`c${u}:${n}`);
  let stopped = false;
  let lastDelivery = Date.now();
  let serverDelivered = 0;

  const pollLoop = async (uid: string) => {
    let ack = "";
    while (!stopped) {
      const port = rng.pick(ports);
      const client = new AbortController();
      const abortAt = rng.chance(ABORT_SHARE)
        ? setTimeout(() => client.abort(), rng.next() * 1500)
        : 0;
      counts.polls++;
      let response: Response | undefined;
      try {
        response = await fetch(
          `http://127.0.0.1:${port}/?uid=${uid}${ack ? `&ack=${ack}` : ""}`,
          { signal: client.signal },
        );
        const body = await response.text();
        if (response.status === 200 && body !== STOP_CODE) {
          counts.delivered++;
          lastDelivery = Date.now();
          if (seen.has(body)) counts.duplicates++;
          seen.add(body);
          ack = response.headers.get("x-ack-id") ?? "";
        } else if (response.status !== 200) {
          await sleep(50);
        }
      } catch {
        if (!client.signal.aborted) await sleep(50); // the server is restarting
        else {
          counts.aborted++;
          // The documented window: the answer was on its way when the client
          // went. A message is shorter than the stop code, so its length tells.
          const length = response?.headers.get("content-length");
          if (response?.status === 200 && length !== String(STOP_CODE.length)) {
            counts.droppedByClient++;
          }
        }
      } finally {
        clearTimeout(abortAt);
      }
    }
  };

  // The plain producer: one LPUSH per message, at random times; it pauses
  // around the Redis restart so that no push is left in doubt.
  const producer = createClient({ url: redis.url });
  producer.on("error", () => {});
  await producer.connect();
  let producerPaused: Promise<void> | undefined;
  const order = [...expected].sort(() => rng.next() - 0.5);
  const produce = async () => {
    const perTick = Math.ceil(order.length / (PUSH_SECONDS * 100));
    for (let i = 0; i < order.length; i += perTick) {
      await producerPaused;
      await Promise.all(
        order.slice(i, i + perTick).map((message) => {
          const uid = message.split(":")[0];
          return producer.lPush(`Q/MSG${uid}`, message);
        }),
      );
      await sleep(rng.next() * 20);
    }
  };

  const pollers = Array.from({ length: UIDS }, (_, u) => pollLoop(`c${u}`));
  const producing = produce();

  const faults = Deno.env.get("CHAOS_FAULTS") ?? "redis,sigterm";
  // Fault 1: a Redis restart mid-run.
  await sleep(2500);
  if (faults.includes("redis")) {
    let resume!: () => void;
    producerPaused = new Promise((resolve) => (resume = resolve));
    await sleep(50);
    await redis.stop();
    await sleep(300);
    await redis.start();
    resume();
    producerPaused = undefined;
  }

  // Fault 2: SIGTERM to one server, which restarts on its port.
  await sleep(2000);
  if (faults.includes("sigterm")) {
    await servers[1]!.stop("SIGTERM");
    serverDelivered += Number(/stopped delivered=(\d+)/.exec(servers[1]!.output())?.[1]);
    servers[1] = await startServe(env(ports[1]));
  }

  await producing;
  const deadline = Date.now() + DEADLINE_MS;
  // Done when all arrived, or when nothing new came for longer than a lease
  // and a hold: whatever is missing then is not coming.
  while (seen.size < expected.size && Date.now() < deadline) {
    if (Date.now() - lastDelivery > QUIET_MS) break;
    await sleep(100);
  }
  stopped = true;
  await Promise.all(pollers);
  await producer.close();
  for (const [index, port] of ports.entries()) {
    try {
      serverDelivered += await deliveredBy(port);
    } catch (error) {
      throw new Error(
        `Cannot read the metrics of server ${index}; it printed:\n${servers[index]?.output()}`,
        { cause: error },
      );
    }
  }
  counts.unclaimed = serverDelivered - counts.delivered;
  for (const server of servers) await server?.stop("SIGTERM");

  const remaining = new Set<string>();
  const inspector = createClient({ url: redis.url });
  await inspector.connect();
  for (let u = 0; u < UIDS; u++) {
    for (const message of await inspector.lRange(`Q/MSGc${u}`, 0, -1)) remaining.add(message);
    for (const value of await inspector.hVals(sideKey(`Q/MSGc${u}`, "inflight"))) {
      remaining.add(value.replace(/^\d+\|/, ""));
      counts.inFlight++;
    }
  }
  await inspector.close();
  counts.stillQueued = [...remaining].filter((message) => !seen.has(message)).length;
  const lost = [...expected].filter((message) => !seen.has(message) && !remaining.has(message));
  counts.lost = lost.length;
  if (lost.length > 0) console.log(`lost: ${lost.join(" ")}`);
  return counts;
}

Deno.test(redisTest("chaos: at-least-once mode delivers every message at least once", async () => {
  await using redis = await startRedisServer();
  const seed = Number(Deno.env.get("CHAOS_SEED") ?? Date.now() % 1e9);
  const counts = await chaos(redis, true, seed);
  console.log(`chaos at-least-once (seed ${seed}): ${JSON.stringify(counts)}`);
  assert.equal(counts.lost, 0);
  assert.ok(
    counts.duplicates >= counts.droppedByClient,
    "each message dropped by a client came again",
  );
  assert.equal(counts.stillQueued, 0, "every message was delivered");
  assert.ok(counts.aborted > 0);
}));

Deno.test(
  redisTest("chaos: default mode loses a message only in the documented window", async () => {
    await using redis = await startRedisServer();
    const seed = Number(Deno.env.get("CHAOS_SEED") ?? Date.now() % 1e9);
    const counts = await chaos(redis, false, seed);
    console.log(`chaos default (seed ${seed}): ${JSON.stringify(counts)}`);
    // The one window the default mode leaves open: a message written to a
    // client's socket just as the client went (its bytes reached the kernel,
    // not the page). The servers count what they sent; every lost message
    // must be among those sent and never taken. At-least-once closes it.
    assert.ok(
      counts.lost <= counts.unclaimed,
      `${counts.lost} lost, but only ${counts.unclaimed} sent and not taken`,
    );
    assert.equal(counts.duplicates, 0);
    assert.ok(counts.aborted > 0);
  }),
);
