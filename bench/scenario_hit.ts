/**
 * The hit scenario: polls that find a message at once, as fast as they go,
 * driven by `wrk` (one thread, 64 keep-alive connections), on one uid and
 * spread over many. Every poll must find a message: for ours the lists are
 * filled beforehand (`LPUSH` in pipelined batches) and the messages taken
 * are checked against the answers counted; for Nchan each channel holds a
 * stored message. A short check run then compares every answer's body with
 * the message.
 *
 * @module
 */
import type { RedisServer } from "../tests/_support/redis_server.ts";
import { sleep } from "../tests/_support/wait_until.ts";
import { totalCpuMs } from "./measure.ts";
import type { ProcessGroup } from "./process_group.ts";
import { startRig } from "./rig.ts";
import { RespClient } from "./resp_client.ts";
import type { BenchTarget } from "./target.ts";
import { CLIENT_BOUND_PCT, runWrk, type WrkResult } from "./wrk.ts";

/** The message every hit takes. */
export const HIT_MESSAGE = '{"hit":1}';
/** Uid prefix of the hit scenario. */
const PREFIX = "hit";
/** More than any server here answers per second: the lists are filled for this rate. */
const RATE_BOUND = 150_000;

/** Figures of one hit variant (one target, one uid count): its best round. */
export interface HitResult {
  /** Name of the target. */
  name: string;
  /** Runtime of the target, for ours (`deno`, `bun`, `node`). */
  runtime?: string;
  /** Uids the requests rotate over. */
  uids: number;
  /** Answers with status 200 per second. */
  reqPerSec: number;
  /** Median latency, in ms. */
  p50: number;
  /** 99th percentile latency, in ms. */
  p99: number;
  /** Errors of all rounds: failed requests, timeouts, statuses above 399, lists run dry. */
  errors: number;
  /** Server CPU per 1,000 answers, in ms. */
  cpuMsPer1k: number;
  /** wrk's CPU in the best round, in % of one core. */
  clientCpuPct: number;
  /** Whether wrk used more than {@linkcode CLIENT_BOUND_PCT}% of a core in that round. */
  clientBound: boolean;
  /** What the check found, in words. */
  check: string;
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
  /** Runtime of ours, for the table. */
  runtime?: string;
  /** How messages are put in place. */
  preload: Preload;
  /** The uid counts to measure, e.g. `[1, 64]`. */
  uidCounts: readonly number[];
  /** Keep-alive connections. */
  connections: number;
  /** Untimed warm-up before the rounds, in s. */
  warmupS: number;
  /** Length of a round, in s. */
  roundS: number;
  /** Rounds; the one with the most req/s is kept, against noise from other work. */
  rounds: number;
  /** Prints progress. */
  log: (line: string) => void;
}

/**
 * Runs the hit scenario on a fresh Redis and server, for each uid count, and
 * stops both after.
 *
 * @example
 * ```ts ignore
 * import { runHit } from "./scenario_hit.ts";
 * const [one, many] = await runHit({
 *   group, dir, start, preload: "lpush", uidCounts: [1, 64], connections: 64,
 *   warmupS: 1, roundS: 5, rounds: 3, log: console.log,
 * });
 * ```
 */
export async function runHit(options: HitOptions): Promise<HitResult[]> {
  await using rig = await startRig(options);
  const { redis, target } = rig;
  const results: HitResult[] = [];
  for (const uids of options.uidCounts) {
    const queues = new _Queues(redis.port, uids);
    if (options.preload === "nchan-publish") await _publishAll(target, uids);
    const run = async (durationS: number, expectBody?: string) => {
      const before = options.preload === "lpush" ? await queues.fill(durationS) : 0;
      const cpuBefore = totalCpuMs(target.pids());
      const wrk = await runWrk({
        url: `http://127.0.0.1:${target.port}${target.pollPath}`,
        connections: options.connections,
        durationS,
        uids,
        uidPrefix: PREFIX,
        expectBody,
      });
      const cpuMs = totalCpuMs(target.pids()) - cpuBefore;
      // Answers cut off by the end of the run give their message back: let that settle.
      if (options.preload === "lpush") await sleep(200);
      const taken = options.preload === "lpush" ? await queues.taken(before) : undefined;
      return { wrk, cpuMs, taken };
    };
    await run(options.warmupS);
    let best: (WrkResult & { cpuMs: number }) | undefined;
    let errors = 0;
    const checks: string[] = [];
    const cutOff: number[] = [];
    for (let round = 0; round < options.rounds; round++) {
      const { wrk, cpuMs, taken } = await run(options.roundS);
      errors += wrk.errors;
      if (wrk.errors > 0) {
        options.log(`  ${target.name}, ${uids} uid(s): round ${round + 1}: errors ${_kinds(wrk)}`);
      }
      if (taken !== undefined) {
        const problem = _takenProblem(taken, wrk, options.connections);
        cutOff.push(taken.taken - wrk.ok);
        if (problem !== undefined) {
          errors++;
          checks.push(`round ${round + 1}: ${problem}`);
        }
      }
      if (best === undefined || wrk.ok / wrk.durationMs > best.ok / best.durationMs) {
        best = { ...wrk, cpuMs };
      }
    }
    if (best === undefined) throw new Error("Cannot run the hit scenario: no rounds");
    const expected = target.hitBody ?? HIT_MESSAGE;
    const checked = await run(1, expected);
    errors += checked.wrk.mismatched;
    checks.push(
      `${checked.wrk.matched} of ${checked.wrk.requests} answers in a check run were 200 ${
        JSON.stringify(expected)
      }`,
    );
    if (options.preload === "lpush" && !checks.some((text) => text.startsWith("round"))) {
      checks.unshift(
        `no list ran dry; messages taken minus 200s counted, by round: ${cutOff.join(", ")} ` +
          `(answers cut off by the end of the run and not given back, at most ${options.connections})`,
      );
    }
    const result: HitResult = {
      name: target.name,
      runtime: options.runtime,
      uids,
      reqPerSec: best.ok / (best.durationMs / 1000),
      p50: best.p50,
      p99: best.p99,
      errors,
      cpuMsPer1k: best.ok > 0 ? (best.cpuMs / best.ok) * 1000 : NaN,
      clientCpuPct: best.cpuPct,
      clientBound: best.cpuPct > CLIENT_BOUND_PCT,
      check: checks.join("; "),
    };
    options.log(
      `  ${target.name}, ${uids} uid(s): ${Math.round(result.reqPerSec)} req/s, p50 ${
        result.p50.toFixed(2)
      } ms, p99 ${result.p99.toFixed(2)} ms, errors ${result.errors}, server CPU ${
        result.cpuMsPer1k.toFixed(1)
      } ms/1k, wrk CPU ${result.clientCpuPct.toFixed(0)}%${
        result.clientBound ? " (client-bound)" : ""
      }; ${result.check}`,
    );
    results.push(result);
  }
  return results;
}

/** Messages taken from the lists during one run, and the shortest list after it. */
interface _Taken {
  taken: number;
  shortest: number;
}

/** The lists `Q/MSG<prefix>0..n-1` of the hit scenario. */
class _Queues {
  readonly #port: number;
  readonly #keys: string[];

  constructor(port: number, uids: number) {
    this.#port = port;
    this.#keys = Array.from({ length: uids }, (_, i) => `Q/MSG${PREFIX}${i}`);
  }

  /**
   * Tops every list up to what a run of `durationS` at {@linkcode RATE_BOUND}
   * could take, with `LPUSH`es of 1,000 messages, 20 per write. Returns the
   * messages queued in all after it.
   */
  async fill(durationS: number): Promise<number> {
    const perList = Math.ceil((RATE_BOUND * durationS) / this.#keys.length) + 1_000;
    const redis = await RespClient.connect({ port: this.#port });
    try {
      const lengths = await this.#lengths(redis);
      const commands: string[][] = [];
      this.#keys.forEach((key, i) => {
        for (let missing = perList - lengths[i]; missing > 0; missing -= 1_000) {
          commands.push(["LPUSH", key, ...Array(Math.min(1_000, missing)).fill(HIT_MESSAGE)]);
        }
      });
      for (let i = 0; i < commands.length; i += 20) {
        const replies = await redis.pipeline(commands.slice(i, i + 20));
        const refused = replies.find((reply) => typeof reply !== "number");
        if (refused !== undefined) {
          throw new Error(`Cannot fill the hit lists: LPUSH answered ${JSON.stringify(refused)}`);
        }
      }
      return lengths.reduce((sum, length) => sum + Math.max(length, perList), 0);
    } finally {
      redis.close();
    }
  }

  /** Messages taken since the lists held `before`, and the shortest list now. */
  async taken(before: number): Promise<_Taken> {
    const redis = await RespClient.connect({ port: this.#port });
    try {
      const lengths = await this.#lengths(redis);
      return {
        taken: before - lengths.reduce((sum, n) => sum + n, 0),
        shortest: Math.min(...lengths),
      };
    } finally {
      redis.close();
    }
  }

  async #lengths(redis: RespClient): Promise<number[]> {
    const replies = await redis.pipeline(this.#keys.map((key) => ["LLEN", key]));
    return replies.map((reply) => Number(reply));
  }
}

/**
 * What is wrong with a round's count, if anything: every 200 took one
 * message, and at most one answer per connection was cut off by the end of
 * the run after its message was taken.
 */
function _takenProblem(taken: _Taken, wrk: WrkResult, connections: number): string | undefined {
  if (taken.shortest === 0) return "a list ran dry, so some polls may have been held";
  const inFlight = taken.taken - wrk.ok;
  if (inFlight < 0 || inFlight > connections) {
    return `${taken.taken} messages taken for ${wrk.ok} answers counted`;
  }
  return undefined;
}

function _kinds(wrk: WrkResult): string {
  return Object.entries(wrk.errorsByKind)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(", ");
}

async function _publishAll(target: BenchTarget, uids: number): Promise<void> {
  if (target.publish.kind !== "http") return;
  for (let i = 0; i < uids; i++) {
    const response = await fetch(
      `http://127.0.0.1:${target.publish.port}${target.publish.path}${PREFIX}${i}`,
      { method: "POST", body: HIT_MESSAGE },
    );
    await response.body?.cancel();
    if (response.status >= 300) {
      throw new Error(`Cannot publish to Nchan: "${PREFIX}${i}" answered ${response.status}`);
    }
  }
}
