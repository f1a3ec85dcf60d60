/**
 * The held and wake scenarios: one server process, polls added step by step
 * (e.g. 1k, 5k, 10k, 19k held); at each step, memory and CPU per poll, errors
 * and the time to hold them all, then wake latency with messages published
 * one after another.
 *
 * @module
 */
import { LoadClient, POLLS_PER_WORKER } from "./load_client.ts";
import {
  holdPolls,
  listenOverflows,
  measureWake,
  totalCpuMs,
  totalRssKiB,
  type WakeResult,
} from "./measure.ts";
import { countFds, readRssKiB } from "./proc_stats.ts";
import type { ProcessGroup } from "./process_group.ts";
import type { RedisServer } from "../testing/redis_server.ts";
import { sleep } from "../testing/wait_until.ts";
import { startRig } from "./rig.ts";
import type { BenchTarget } from "./target.ts";

/** Polls opened at once before waiting for the server to hold them: under its listen queue. */
const BATCH = 400;

/** Figures at one step of the sweep. */
export interface HeldStep {
  /** Polls that should be held. */
  n: number;
  /** Polls the server said it held. */
  held: number;
  /** Server RSS growth since start ÷ n, in KiB. */
  rssKiBPerPoll: number;
  /** Redis RSS growth since start ÷ n, in KiB. */
  redisRssKiBPerPoll: number;
  /** Server CPU while opening, per 1,000 polls, in ms. */
  cpuMsPer1k: number;
  /** Time spent opening polls until all n were held, in s. */
  holdSeconds: number;
  /** Connect failures, resets, unasked answers and polls not held. */
  errors: number;
  /** Wake latency at this step, when measured. */
  wake?: WakeResult;
}

/** A whole sweep on one target. */
export interface HeldRun {
  /** Name of the target. */
  name: string;
  /** Server RSS before any poll, in KiB. */
  idleRssKiB: number;
  /** The steps. */
  steps: HeldStep[];
}

/** Options of {@linkcode runHeldSweep}. */
export interface HeldSweepOptions {
  /** The group that owns the processes. */
  group: ProcessGroup;
  /** Directory for logs. */
  dir: string;
  /** Starts the server under test on a fresh Redis. */
  start: (redis: RedisServer) => Promise<BenchTarget>;
  /** Held counts, rising. */
  steps: readonly number[];
  /** Wake messages at a step (0 for none). */
  wakeMessages: (n: number) => number;
  /** Prints progress. */
  log: (line: string) => void;
}

/**
 * Runs the sweep on a fresh Redis and server, and stops both after.
 *
 * @example
 * ```ts ignore
 * import { runHeldSweep } from "./scenario_held.ts";
 * const run = await runHeldSweep({ group, dir, start, steps: [1000], wakeMessages: () => 100, log: console.log });
 * ```
 */
export async function runHeldSweep(options: HeldSweepOptions): Promise<HeldRun> {
  await using rig = await startRig(options);
  const { redis, target } = rig;
  const max = Math.max(...options.steps);
  const client = rig.client = LoadClient.start({
    group: options.group,
    workers: Math.max(2, Math.ceil(max / POLLS_PER_WORKER)),
  });
  await sleep(1_000);
  const pids = target.pids();
  const idleRssKiB = totalRssKiB(pids);
  const idleRedisKiB = readRssKiB(redis.pid);
  const baselineFds = pids.reduce((sum, pid) => sum + countFds(pid), 0);
  const steps: HeldStep[] = [];
  let current = 0;
  let openMs = 0;
  let openCpuMs = 0;
  let connectErrors = 0;
  for (const n of options.steps) {
    const cpuBefore = totalCpuMs(pids);
    const started = performance.now();
    const overflowsBefore = listenOverflows();
    const { held, connectErrors: failed } = await holdPolls({
      client,
      target,
      from: current,
      to: n,
      batch: BATCH,
      baselineFds,
    });
    connectErrors += failed;
    const overflows = listenOverflows() - overflowsBefore;
    openMs += performance.now() - started;
    openCpuMs += totalCpuMs(pids) - cpuBefore;
    current = n;
    await sleep(500);
    const stats = await client.stats();
    const unexpected = Object.values(stats.unexpected).reduce((sum, count) => sum + count, 0);
    const step: HeldStep = {
      n,
      held,
      rssKiBPerPoll: (totalRssKiB(pids) - idleRssKiB) / n,
      redisRssKiBPerPoll: (readRssKiB(redis.pid) - idleRedisKiB) / n,
      cpuMsPer1k: (openCpuMs / n) * 1000,
      holdSeconds: openMs / 1000,
      errors: Math.max(connectErrors + stats.errors + unexpected, n - held),
    };
    options.log(
      `  ${target.name}: ${n} held (server says ${held}), ${
        step.rssKiBPerPoll.toFixed(1)
      } KiB/poll, ${step.cpuMsPer1k.toFixed(0)} ms CPU/1k, ${
        step.holdSeconds.toFixed(1)
      } s, listen overflows ${overflows}, errors ${step.errors}${
        unexpected > 0 ? ` (unasked answers ${JSON.stringify(stats.unexpected)})` : ""
      }`,
    );
    const messages = options.wakeMessages(n);
    if (messages > 0) {
      step.wake = await measureWake({
        client,
        target,
        redisPid: redis.pid,
        messages,
        timeoutMs: 120_000,
      });
      options.log(
        `  ${target.name}: wake at ${n} held, ${messages} messages: p50 ${
          step.wake.p50.toFixed(2)
        } ms, p99 ${step.wake.p99.toFixed(2)} ms, max ${
          step.wake.max.toFixed(2)
        } ms, errors ${step.wake.errors}${
          step.wake.errorSamples.length > 0 ? ` (${step.wake.errorSamples.join("; ")})` : ""
        }, Redis CPU ${step.wake.redisCpuMs} ms`,
      );
    }
    steps.push(step);
  }
  return { name: target.name, idleRssKiB, steps };
}
