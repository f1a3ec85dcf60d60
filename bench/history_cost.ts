/**
 * What stream delivery costs Redis per message: a producer `LPUSH`es
 * 10,000 messages to one uid while one `RedisStore` moves them into the
 * uid's history, once with a reader of the uid (its reads move) and once
 * with none (the store moves on the notification). Prints the commands
 * Redis ran per message (from `INFO commandstats`, scripts' own commands
 * included) and the bytes it read and wrote per message beyond the
 * producer's, then the latency of one read on one uid.
 *
 * Run: `deno run --allow-all bench/history_cost.ts`
 *
 * @module
 */
import { createClient } from "redis";
import { RedisStore } from "../src/store/redis.ts";
import { percentile } from "../testing/stats.ts";
import { startRedisServer } from "../testing/redis_server.ts";
import { waitUntil } from "../testing/wait_until.ts";

const MESSAGES = 10_000;
const HISTORY = { max: 1000, ttlSeconds: 3600 };
const MESSAGE = JSON.stringify({ type: "chat", text: "x".repeat(60) });

await using redis = await startRedisServer({ persistent: false });
const producer = await createClient({ url: redis.url }).connect();

/** Counters of `INFO` that this measures. */
async function counters(): Promise<Map<string, number>> {
  const info = await redis.cli("INFO", "all");
  const found = new Map<string, number>();
  for (const [, name, calls] of info.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) {
    found.set(name, Number(calls));
  }
  for (const [, name, bytes] of info.matchAll(/^(total_net_(?:input|output)_bytes):(\d+)/gm)) {
    found.set(name, Number(bytes));
  }
  return found;
}

function delta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  return new Map([...after].map(([name, value]) => [name, value - (before.get(name) ?? 0)]));
}

/** Pushes the messages 100 at a time. */
async function push(uid: string): Promise<void> {
  for (let i = 0; i < MESSAGES; i += 100) {
    await Promise.all(Array.from({ length: 100 }, () => producer.lPush(`Q/MSG${uid}`, MESSAGE)));
  }
}

// The producer alone, before any store listens: what the pushes cost by themselves.
const start = await counters();
await push("baseline");
const producerOnly = delta(start, await counters());
await producer.del("Q/MSGbaseline");

const store = new RedisStore({ url: redis.url, history: HISTORY });
await store.whenReady(5_000);

/**
 * Pushes the messages to uid `label`: in bursts of 100, or `paced`, each
 * once the reader read the one before (so each is moved on its own).
 */
async function measure(label: string, reader: boolean, paced = false): Promise<void> {
  const uid = label;
  let cursor = "0-0";
  let got = 0;
  let arrived = () => {};
  let resets = 0;
  let stop = false;
  const woken = { wake: () => {} };
  const reading = (async () => {
    if (!reader) return;
    store.watch(uid, woken);
    for (;;) {
      const wake = new Promise<void>((resolve) => (woken.wake = resolve));
      const read = await store.readStream!(uid, { after: cursor, count: 32 });
      got += read.entries.length;
      if (read.entries.length > 0) arrived();
      resets += read.reset ? 1 : 0;
      cursor = read.next;
      if (read.entries.length === 0 && !read.reset) {
        if (stop) break;
        await Promise.race([wake, new Promise((resolve) => setTimeout(resolve, 50))]);
      }
    }
    store.unwatch(uid, woken);
  })();
  const before = await counters();
  if (!paced) await push(uid);
  for (let i = 0; paced && i < MESSAGES; i++) {
    const read = new Promise<void>((resolve) => (arrived = resolve));
    await producer.lPush(`Q/MSG${uid}`, MESSAGE);
    if (got <= i) await read;
  }
  stop = true;
  await reading;
  await waitUntil(async () => await producer.lLen(`Q/MSG${uid}`) === 0, { what: "the moves" });
  const used = delta(before, await counters());
  const ours = [...used].filter(([name, calls]) =>
    !name.startsWith("total_net") && name !== "info" && calls - (producerOnly.get(name) ?? 0) > 0
  ).map(([name, calls]) => [name, calls - (producerOnly.get(name) ?? 0)] as const)
    .sort((a, b) => b[1] - a[1]);
  const perMessage = (value: number) => (value / MESSAGES).toFixed(2);
  const total = ours.reduce((sum, [, calls]) => sum + calls, 0);
  const bytes = (name: string) => used.get(name)! - producerOnly.get(name)!;
  console.log(
    `${label} (${reader ? `one reader: ${got} read, ${resets} resets` : "no reader"}` +
      `${paced ? ", one push at a time" : ", pushes in bursts of 100"}): ` +
      `${perMessage(total)} commands per message` +
      ` (${ours.map(([name, calls]) => `${name} ${perMessage(calls)}`).join(", ")}); ` +
      `bytes per message beyond the producer's: in ${
        perMessage(bytes("total_net_input_bytes"))
      }, ` +
      `out ${perMessage(bytes("total_net_output_bytes"))}`,
  );
}

await measure("paced", true, true);
await measure("read", true);
await measure("offline", false);

// One read on one uid: nothing new after the cursor (a poll checking), then one new entry.
const latencies = { idle: [] as number[], one: [] as number[] };
let { next } = await store.readStream!("latency", { after: undefined, count: 32 });
for (let i = 0; i < 2_000; i++) {
  let started = performance.now();
  await store.readStream!("latency", { after: next, count: 32 });
  latencies.idle.push(performance.now() - started);
  await producer.lPush("Q/MSGlatency", MESSAGE);
  started = performance.now();
  next = (await store.readStream!("latency", { after: next, count: 32 })).next;
  latencies.one.push(performance.now() - started);
}
for (const [name, values] of Object.entries(latencies)) {
  console.log(
    `read latency, ${name === "idle" ? "nothing new" : "one new message"}: p50 ${
      percentile(values, 0.5).toFixed(3)
    } ms, p99 ${percentile(values, 0.99).toFixed(3)} ms`,
  );
}
await store.close();
await producer.close();
