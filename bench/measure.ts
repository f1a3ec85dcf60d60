/**
 * Measuring helpers shared by the scenarios: summed RSS and CPU of a set of
 * processes, waiting until polls are held, and timing wake-ups.
 *
 * @module
 */
import type { LoadClient } from "./load_client.ts";
import { countFds, readCpuMs, readRssKiB } from "./proc_stats.ts";
import { type LatencySummary, summarize } from "../testing/stats.ts";
import type { BenchTarget } from "./target.ts";
import { pollUntil, sleep } from "../testing/wait_until.ts";

/**
 * Summed RSS of processes, in KiB.
 *
 * @example
 * ```ts
 * import { totalRssKiB } from "./measure.ts";
 * console.log(totalRssKiB([Deno.pid]) > 0); // true
 * ```
 */
export function totalRssKiB(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + readRssKiB(pid), 0);
}

/**
 * Summed CPU time of processes, in ms.
 *
 * @example
 * ```ts
 * import { totalCpuMs } from "./measure.ts";
 * console.log(totalCpuMs([Deno.pid]) >= 0); // true
 * ```
 */
export function totalCpuMs(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + readCpuMs(pid), 0);
}

/** Options of {@linkcode waitUntilHeld}. */
export interface WaitHeldOptions {
  /** The server. */
  target: BenchTarget;
  /** Polls that should be held. */
  expected: number;
  /** Open files of the server processes before any poll, for servers that can't count. */
  baselineFds: number;
  /** Gives up after this long. */
  timeoutMs: number;
  /** The client holding the polls: waiting stops early once too few are still open. */
  client?: LoadClient;
  /** Where the count comes from open files, also wait for a quiet CPU. @default {true} */
  settle?: boolean;
}

/**
 * Waits until the server holds `expected` polls: by its own count where it
 * has one, else by its open sockets followed by a quiet CPU. Returns the count
 * seen last.
 *
 * @example
 * ```ts ignore
 * import { waitUntilHeld } from "./measure.ts";
 * const held = await waitUntilHeld({ target, expected: 1000, baselineFds: 20, timeoutMs: 60_000 });
 * ```
 */
export async function waitUntilHeld(options: WaitHeldOptions): Promise<number> {
  const { target, expected } = options;
  let seen = 0;
  let lastCheck = performance.now();
  const clientGaveUp = async () => {
    if (options.client === undefined || performance.now() - lastCheck < 1_000) return false;
    lastCheck = performance.now();
    return (await options.client.stats()).held < expected;
  };
  const counted = await target.heldCount().catch(() => undefined);
  if (counted !== undefined) {
    await pollUntil(async () => {
      seen = (await target.heldCount()) ?? 0;
      return seen >= expected || await clientGaveUp();
    }, { timeoutMs: options.timeoutMs, retryErrors: true });
    return seen;
  }
  await pollUntil(() => {
    const fds = target.pids().reduce((sum, pid) => sum + countFds(pid), 0);
    seen = Math.max(0, fds - options.baselineFds);
    return seen >= expected || clientGaveUp();
  }, { timeoutMs: options.timeoutMs, intervalMs: 25, retryErrors: true });
  if (options.settle === false) return Math.min(seen, expected);
  // Accepted is not yet parsed: wait for the servers' CPU to go quiet (< 5% over 250 ms).
  await pollUntil(async () => {
    const before = totalCpuMs(target.pids());
    await sleep(250);
    return totalCpuMs(target.pids()) - before < 0.05 * 250 * target.pids().length;
  }, { timeoutMs: 30_000, intervalMs: 25, retryErrors: true });
  return Math.min(seen, expected);
}

/** Result of {@linkcode measureWake}. */
export interface WakeResult extends LatencySummary {
  /** Messages that were not delivered right. */
  errors: number;
  /** Median time to the publisher's acknowledgement, in ms. */
  ackP50: number;
  /** Redis CPU during the run, in ms. */
  redisCpuMs: number;
  /** Server CPU during the run, in ms. */
  serverCpuMs: number;
  /** Wall time of the run, in ms. */
  wallMs: number;
  /** First error messages seen. */
  errorSamples: string[];
}

/** Messages one worker publishes and times in a row, before the next run goes to a worker picked again. */
const FIRE_RUN = 50;

/** Options of {@linkcode measureWake}. */
export interface WakeOptions {
  /** The client holding the polls. */
  client: LoadClient;
  /** The server. */
  target: BenchTarget;
  /** Redis process id. */
  redisPid: number;
  /** Messages, published one after another. */
  messages: number;
  /** Gives up after this long. */
  timeoutMs: number;
}

/**
 * Publishes messages one after another, each to a held poll picked at random,
 * waiting for each delivery before the next, and times publish-to-last-byte.
 * The worker that holds the polls runs 50 in a row, so the coordinator is
 * out of the loop.
 *
 * @example
 * ```ts ignore
 * import { measureWake } from "./measure.ts";
 * const wake = await measureWake({ client, target, redisPid, messages: 2000, timeoutMs: 60_000 });
 * console.log(wake.p99);
 * ```
 */
export async function measureWake(options: WakeOptions): Promise<WakeResult> {
  const { client, target } = options;
  const samples: number[] = [];
  const acks: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  const redisBefore = readCpuMs(options.redisPid);
  const serverBefore = totalCpuMs(target.pids());
  const started = performance.now();
  const deadline = started + options.timeoutMs;
  for (let sent = 0; sent < options.messages && performance.now() < deadline;) {
    const run = Array.from(
      { length: Math.min(FIRE_RUN, options.messages - sent) },
      (_, i) => JSON.stringify({ n: sent + i, at: Date.now() }),
    );
    sent += run.length;
    for (const reply of await client.fire(target.publish, run)) {
      if (reply.ackMs !== undefined) acks.push(reply.ackMs);
      if (reply.ms !== undefined) {
        samples.push(reply.ms);
      } else {
        errors++;
        if (errorSamples.length < 3) errorSamples.push(reply.error ?? "unknown");
      }
    }
  }
  const wallMs = performance.now() - started;
  return {
    ...summarize(samples),
    errors: errors + Math.max(0, options.messages - samples.length - errors),
    ackP50: summarize(acks).p50,
    redisCpuMs: readCpuMs(options.redisPid) - redisBefore,
    serverCpuMs: totalCpuMs(target.pids()) - serverBefore,
    wallMs,
    errorSamples,
  };
}

/**
 * The kernel's count of connections dropped because a listen queue was full
 * (`TcpExt ListenOverflows` in `/proc/net/netstat`), for all sockets.
 *
 * @example
 * ```ts
 * import { listenOverflows } from "./measure.ts";
 * console.log(listenOverflows() >= 0); // true
 * ```
 */
export function listenOverflows(): number {
  const lines = Deno.readTextFileSync("/proc/net/netstat").split("\n");
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i].startsWith("TcpExt:")) continue;
    const names = lines[i].split(" ");
    const values = lines[i + 1].split(" ");
    const index = names.indexOf("ListenOverflows");
    return index < 0 ? 0 : Number(values[index]);
  }
  return 0;
}

/** Options of {@linkcode holdPolls}. */
export interface HoldPollsOptions {
  /** The client that opens the polls. */
  client: LoadClient;
  /** The server. */
  target: BenchTarget;
  /** Polls held now. */
  from: number;
  /** Polls to hold. */
  to: number;
  /** Polls opened at once before waiting for them to be held. */
  batch: number;
  /** Open files of the server processes before any poll. */
  baselineFds: number;
}

/** Result of {@linkcode holdPolls}. */
export interface HoldPollsResult {
  /** Polls the server holds at the end. */
  held: number;
  /** Connects that failed. */
  connectErrors: number;
}

/**
 * Opens polls a batch at a time, each batch held before the next (a closed
 * loop, so that no burst overflows a listen queue of 511), until `to` are
 * held or the server stops taking them.
 *
 * @example
 * ```ts ignore
 * import { holdPolls } from "./measure.ts";
 * const { held } = await holdPolls({ client, target, from: 0, to: 10_000, batch: 400, baselineFds: 20 });
 * ```
 */
export async function holdPolls(options: HoldPollsOptions): Promise<HoldPollsResult> {
  const { client, target } = options;
  let held = options.from;
  let connectErrors = 0;
  for (let round = 0; held < options.to && round < 10_000; round++) {
    const size = Math.min(options.batch, options.to - held);
    const opened = await client.open(
      { port: target.port, path: target.pollPath, stream: target.stream },
      size,
      "h",
    );
    connectErrors += opened.errors;
    const expected = held + size;
    held = await waitUntilHeld({
      target,
      expected,
      baselineFds: options.baselineFds,
      timeoutMs: 30_000,
      client,
      settle: expected >= options.to,
    });
    if (opened.errors > 0 || held < expected) break;
  }
  return { held, connectErrors };
}
