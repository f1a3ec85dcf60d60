/**
 * The hit scenario: polls that find a message at once, on keep-alive
 * connections, as fast as they go; req/s and latency.
 *
 * @module
 */
import { LoadClient } from "./load_client.ts";
import { totalCpuMs } from "./measure.ts";
import type { ProcessGroup } from "./process_group.ts";
import type { RedisServer } from "../tests/_support/redis_server.ts";
import { startRig } from "./rig.ts";
import { RespClient } from "./resp_client.ts";
import { summarize } from "./stats.ts";
import type { BenchTarget } from "./target.ts";

/** Figures of one hit run: its best round, with the errors of all rounds. */
export interface HitResult {
  /** Name of the target. */
  name: string;
  /** Answers per second. */
  reqPerSec: number;
  /** Median latency, in ms. */
  p50: number;
  /** 99th percentile latency, in ms. */
  p99: number;
  /** Failed requests and non-200 answers. */
  errors: number;
  /** Server CPU per 1,000 answers, in ms. */
  cpuMsPer1k: number;
  /** Load client CPU during the run, in % of one core (summed over its processes). */
  clientCpuPct: number;
}

/** How the target's messages are put in place before the run. */
export type Preload = "lpush" | "nchan-publish" | "none";

/** Options of {@linkcode runHit}. */
export interface HitOptions {
  /** The group that owns the processes. */
  group: ProcessGroup;
  /** Directory for logs. */
  dir: string;
  /** Starts the server under test on a fresh Redis. */
  start: (redis: RedisServer) => Promise<BenchTarget>;
  /** How messages are put in place. */
  preload: Preload;
  /** Keep-alive connections. */
  connections: number;
  /** Load client processes the connections are spread over. */
  clients: number;
  /** Untimed requests per connection. */
  warmup: number;
  /** Timed requests per connection in each round. */
  requests: number;
  /** Rounds; the one with the most req/s is kept, against noise from other work. */
  rounds: number;
  /** Prints progress. */
  log: (line: string) => void;
}

/**
 * Runs the hit scenario on a fresh Redis and server, and stops both after.
 *
 * @example
 * ```ts ignore
 * import { runHit } from "./scenario_hit.ts";
 * const hit = await runHit({ group, dir, start, preload: "lpush", connections: 64, warmup: 100, requests: 1000, log: console.log });
 * ```
 */
export async function runHit(options: HitOptions): Promise<HitResult> {
  await using rig = await startRig(options);
  const { redis, target } = rig;
  const uids = Array.from({ length: options.connections }, (_, i) => `hit${i}`);
  const perUid = options.warmup + options.requests * options.rounds;
  if (options.preload === "lpush") await _lpushAll(redis.port, uids, perUid);
  if (options.preload === "nchan-publish") await _publishAll(target, uids);
  const client = rig.client = LoadClient.start({ group: options.group, workers: options.clients });
  const pids = target.pids();
  const paths = uids.map((uid) => `${target.pollPath}${uid}`);
  let result: HitResult | undefined;
  for (let round = 0; round < options.rounds; round++) {
    const cpuBefore = totalCpuMs(pids);
    const reply = await client.hit({
      host: "127.0.0.1",
      port: target.port,
      paths,
      warmup: round === 0 ? options.warmup : 0,
      requests: options.requests,
      timeoutMs: 120_000,
    });
    // The server's CPU covers the warm-up too; scale it to the timed share.
    const warmup = round === 0 ? options.warmup : 0;
    const share = options.requests / (options.requests + warmup);
    const cpuMs = (totalCpuMs(pids) - cpuBefore) * share;
    const summary = summarize(reply.samples);
    if (reply.errors > 0) {
      options.log(
        `  ${target.name}: round ${round + 1}: ${reply.errors} failed, by status ${
          JSON.stringify(reply.statuses)
        }`,
      );
    }
    const measured: HitResult = {
      name: target.name,
      reqPerSec: reply.count / (reply.ms / 1000),
      p50: summary.p50,
      p99: summary.p99,
      errors: reply.errors,
      cpuMsPer1k: reply.count > 0 ? (cpuMs / reply.count) * 1000 : NaN,
      clientCpuPct: (reply.cpuMs / reply.ms) * 100,
    };
    if (result === undefined || measured.reqPerSec > result.reqPerSec) {
      result = { ...measured, errors: measured.errors + (result?.errors ?? 0) };
    } else {
      result.errors += measured.errors;
    }
  }
  if (result === undefined) throw new Error("Cannot run the hit scenario: no rounds");
  options.log(
    `  ${target.name}: ${Math.round(result.reqPerSec)} req/s, p50 ${result.p50.toFixed(2)} ms, ` +
      `p99 ${result.p99.toFixed(2)} ms, errors ${result.errors}, server CPU ${
        result.cpuMsPer1k.toFixed(1)
      } ms/1k, client CPU ${result.clientCpuPct.toFixed(0)}%`,
  );
  return result;
}

async function _lpushAll(port: number, uids: string[], perUid: number): Promise<void> {
  const redis = await RespClient.connect({ port });
  try {
    for (const uid of uids) {
      for (let sent = 0; sent < perUid; sent += 1000) {
        const values = Array.from(
          { length: Math.min(1000, perUid - sent) },
          () => '{"hit":1}',
        );
        await redis.command(["LPUSH", `Q/MSG${uid}`, ...values]);
      }
    }
  } finally {
    redis.close();
  }
}

async function _publishAll(target: BenchTarget, uids: string[]): Promise<void> {
  if (target.publish.kind !== "http") return;
  for (const uid of uids) {
    const response = await fetch(
      `http://127.0.0.1:${target.publish.port}${target.publish.path}${uid}`,
      { method: "POST", body: '{"hit":1}' },
    );
    await response.body?.cancel();
    if (response.status >= 300) {
      throw new Error(`Cannot publish to Nchan: "${uid}" answered ${response.status}`);
    }
  }
}
