/**
 * The scale scenario: several server processes on one port hold many polls
 * together (4 × 19k at full size), then wake latency across all of them.
 *
 * @module
 */
import { LoadClient, POLLS_PER_WORKER } from "./load_client.ts";
import { holdPolls, measureWake, totalCpuMs, totalRssKiB, type WakeResult } from "./measure.ts";
import { countFds } from "./proc_stats.ts";
import type { ProcessGroup } from "./process_group.ts";
import type { RedisServer } from "../testing/redis_server.ts";
import { sleep } from "../testing/wait_until.ts";
import { startRig } from "./rig.ts";
import type { BenchTarget } from "./target.ts";

/** Figures of one scale run. */
export interface ScaleResult {
  /** Name of the target. */
  name: string;
  /** Server processes. */
  processes: number;
  /** Polls that should be held. */
  n: number;
  /** Polls held at the end. */
  held: number;
  /** RSS growth of all server processes ÷ n, in KiB. */
  rssKiBPerPoll: number;
  /** Server CPU while opening, per 1,000 polls, in ms. */
  cpuMsPer1k: number;
  /** Time to hold them all, in s. */
  holdSeconds: number;
  /** Connect failures, resets, unasked answers and polls not held. */
  errors: number;
  /** Wake latency across all processes. */
  wake?: WakeResult;
}

/** Options of {@linkcode runScale}. */
export interface ScaleOptions {
  /** The group that owns the processes. */
  group: ProcessGroup;
  /** Directory for logs. */
  dir: string;
  /** Starts the server processes under test on a fresh Redis. */
  start: (redis: RedisServer) => Promise<BenchTarget>;
  /** Server processes. */
  processes: number;
  /** Polls to hold in all. */
  n: number;
  /** Wake messages. */
  wakeMessages: number;
  /** Prints progress. */
  log: (line: string) => void;
}

/**
 * Runs the scale scenario on a fresh Redis and servers, and stops them after.
 *
 * @example
 * ```ts ignore
 * import { runScale } from "./scenario_scale.ts";
 * const scale = await runScale({ group, dir, start, processes: 4, n: 76_000, wakeMessages: 2000, log: console.log });
 * ```
 */
export async function runScale(options: ScaleOptions): Promise<ScaleResult> {
  await using rig = await startRig(options);
  const { redis, target } = rig;
  const client = rig.client = LoadClient.start({
    group: options.group,
    workers: Math.max(2, Math.ceil(options.n / POLLS_PER_WORKER)),
  });
  await sleep(1_000);
  const pids = target.pids();
  const idleRssKiB = totalRssKiB(pids);
  const baselineFds = pids.reduce((sum, pid) => sum + countFds(pid), 0);
  const cpuBefore = totalCpuMs(pids);
  const started = performance.now();
  const { held, connectErrors } = await holdPolls({
    client,
    target,
    from: 0,
    to: options.n,
    // About 400 per process at a time: under each one's listen queue.
    batch: 400 * options.processes,
    baselineFds,
  });
  const holdSeconds = (performance.now() - started) / 1000;
  const cpuMs = totalCpuMs(pids) - cpuBefore;
  await sleep(500);
  const stats = await client.stats();
  const unexpected = Object.values(stats.unexpected).reduce((sum, count) => sum + count, 0);
  const result: ScaleResult = {
    name: target.name,
    processes: options.processes,
    n: options.n,
    held,
    rssKiBPerPoll: (totalRssKiB(pids) - idleRssKiB) / options.n,
    cpuMsPer1k: (cpuMs / options.n) * 1000,
    holdSeconds,
    errors: Math.max(connectErrors + stats.errors + unexpected, options.n - held),
  };
  options.log(
    `  ${target.name} × ${options.processes}: ${options.n} held (seen ${held}), ${
      result.rssKiBPerPoll.toFixed(1)
    } KiB/poll, ${result.cpuMsPer1k.toFixed(0)} ms CPU/1k, ${
      holdSeconds.toFixed(1)
    } s, errors ${result.errors}`,
  );
  if (options.wakeMessages > 0) {
    result.wake = await measureWake({
      client,
      target,
      redisPid: redis.pid,
      messages: options.wakeMessages,
      timeoutMs: 180_000,
    });
    options.log(
      `  ${target.name} × ${options.processes}: wake, ${options.wakeMessages} messages: p50 ${
        result.wake.p50.toFixed(2)
      } ms, p99 ${result.wake.p99.toFixed(2)} ms, max ${
        result.wake.max.toFixed(2)
      } ms, errors ${result.wake.errors}`,
    );
  }
  return result;
}
