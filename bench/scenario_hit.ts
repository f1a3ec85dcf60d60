/**
 * The hit scenario: polls that find a message at once, as fast as they go,
 * driven by `wrk` (one thread, 64 keep-alive connections), on one uid and
 * spread over many, every target's rounds taken in turns. Every poll must find a message: for ours the lists are
 * filled beforehand (`LPUSH` in pipelined batches) and the messages taken
 * are checked against the answers counted; for Nchan each channel holds a
 * stored message. A short check run then compares every answer's body with
 * the message.
 *
 * @module
 */
import type { RedisServer } from "../testing/redis_server.ts";
import { sleep } from "../testing/wait_until.ts";
import { totalCpuMs } from "./measure.ts";
import type { ProcessGroup } from "./process_group.ts";
import { type Rig, startRig } from "./rig.ts";
import { RespClient } from "./resp_client.ts";
import type { BenchTarget, TargetLists } from "./target.ts";
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

/**
 * How the target's messages are put in place before the run: `LPUSH` on its
 * Redis, or through the library where its store is in memory (`lpush` too,
 * since the lists are the same), one Nchan publish per channel, or none.
 */
export type Preload = "lpush" | "nchan-publish" | "none";

/** One server to hit. */
export interface HitTarget {
  /** Starts the server under test on a fresh Redis. */
  start: (redis: RedisServer) => Promise<BenchTarget>;
  /** How messages are put in place. */
  preload: Preload;
  /** The uid counts to measure, e.g. `[1, 64]`. */
  uidCounts: readonly number[];
}

/** Options of {@linkcode runHits}. */
export interface HitOptions {
  /** The group that owns the processes. */
  group: ProcessGroup;
  /** Directory for logs. */
  dir: string;
  /** The servers to hit. */
  targets: readonly HitTarget[];
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
 * Starts every target, each on a fresh Redis, then runs the rounds in turns:
 * round 1 of every target and uid count, then round 2 of each, and so on,
 * so that other work on the machine weighs on all of them alike and the
 * ratios hold. Stops everything after.
 *
 * @example
 * ```ts ignore
 * import { runHits } from "./scenario_hit.ts";
 * const results = await runHits({
 *   group, dir, targets: [{ start, preload: "lpush", uidCounts: [1, 64] }],
 *   connections: 64, warmupS: 1, roundS: 5, rounds: 3, log: console.log,
 * });
 * ```
 */
export async function runHits(options: HitOptions): Promise<HitResult[]> {
  await using stack = new AsyncDisposableStack();
  const variants: _Variant[] = [];
  for (const spec of options.targets) {
    const rig = stack.use(await startRig({ ...options, start: spec.start }));
    for (const uids of spec.uidCounts) {
      if (spec.preload === "nchan-publish") await _publishAll(rig.target, uids);
      variants.push(new _Variant({ ...options, rig, preload: spec.preload, uids }));
    }
  }
  for (const variant of variants) await variant.run(options.warmupS);
  for (let round = 0; round < options.rounds; round++) {
    for (const variant of variants) await variant.round(round);
  }
  const results: HitResult[] = [];
  for (const variant of variants) results.push(await variant.finish());
  return results;
}

/** One target and uid count: its runs, its best round, its checks. */
class _Variant {
  readonly #options: HitOptions & { rig: Rig; preload: Preload; uids: number };
  readonly #queues: _Queues;
  #best: (WrkResult & { cpuMs: number }) | undefined;
  #errors = 0;
  readonly #problems: string[] = [];
  readonly #cutOff: number[] = [];

  constructor(options: HitOptions & { rig: Rig; preload: Preload; uids: number }) {
    this.#options = options;
    this.#queues = new _Queues(options.rig, options.uids);
  }

  get #label(): string {
    return `${this.#options.rig.target.name}, ${this.#options.uids} uid(s)`;
  }

  /** One wrk run, with the lists filled before and counted after. */
  async run(durationS: number, expectBody?: string) {
    const { rig, preload, uids, connections } = this.#options;
    const lpush = preload === "lpush";
    const before = lpush ? await this.#queues.fill(durationS) : 0;
    const cpuBefore = totalCpuMs(rig.target.pids());
    const wrk = await runWrk({
      url: `http://127.0.0.1:${rig.target.port}${rig.target.pollPath}`,
      connections,
      durationS,
      uids,
      uidPrefix: PREFIX,
      expectBody,
    });
    const cpuMs = totalCpuMs(rig.target.pids()) - cpuBefore;
    // Answers cut off by the end of the run give their message back: let that settle.
    if (lpush) await sleep(200);
    const taken = lpush ? await this.#queues.taken(before) : undefined;
    return { wrk, cpuMs, taken };
  }

  /** A timed round: keeps it if it is the best so far, and checks the count. */
  async round(index: number): Promise<void> {
    const { wrk, cpuMs, taken } = await this.run(this.#options.roundS);
    this.#errors += wrk.errors;
    this.#options.log(
      `  round ${index + 1}: ${this.#label}: ${
        Math.round(wrk.ok / (wrk.durationMs / 1000))
      } req/s, wrk CPU ${wrk.cpuPct.toFixed(0)}%`,
    );
    if (wrk.errors > 0) {
      this.#options.log(`  ${this.#label}: round ${index + 1}: errors ${_kinds(wrk)}`);
    }
    if (taken !== undefined) {
      this.#cutOff.push(taken.taken - wrk.ok);
      const problem = _takenProblem(taken, wrk, this.#options.connections);
      if (problem !== undefined) {
        this.#errors++;
        this.#problems.push(`round ${index + 1}: ${problem}`);
      }
    }
    const best = this.#best;
    if (best === undefined || wrk.ok / wrk.durationMs > best.ok / best.durationMs) {
      this.#best = { ...wrk, cpuMs };
    }
  }

  /** The check run, then the figures of the best round. */
  async finish(): Promise<HitResult> {
    const best = this.#best;
    if (best === undefined) throw new Error("Cannot run the hit scenario: no rounds");
    const { rig, preload, connections } = this.#options;
    const expected = rig.target.hitBody ?? HIT_MESSAGE;
    const checked = await this.run(1, expected);
    this.#errors += checked.wrk.mismatched;
    const checks = [...this.#problems];
    if (preload === "lpush" && checks.length === 0) {
      checks.push(
        `no list ran dry; messages taken minus 200s counted, by round: ${
          this.#cutOff.join(", ")
        } ` +
          `(answers cut off by the end of the run and not given back, at most ${connections})`,
      );
    }
    checks.push(
      `${checked.wrk.matched} of ${checked.wrk.requests} answers in a check run were 200 ${
        JSON.stringify(expected)
      }`,
    );
    const result: HitResult = {
      name: rig.target.name,
      uids: this.#options.uids,
      reqPerSec: best.ok / (best.durationMs / 1000),
      p50: best.p50,
      p99: best.p99,
      errors: this.#errors,
      cpuMsPer1k: best.ok > 0 ? (best.cpuMs / best.ok) * 1000 : NaN,
      clientCpuPct: best.cpuPct,
      clientBound: best.cpuPct > CLIENT_BOUND_PCT,
      check: checks.join("; "),
    };
    this.#options.log(
      `  ${this.#label}: ${Math.round(result.reqPerSec)} req/s, p50 ${
        result.p50.toFixed(2)
      } ms, p99 ${result.p99.toFixed(2)} ms, errors ${result.errors}, server CPU ${
        result.cpuMsPer1k.toFixed(1)
      } ms/1k, wrk CPU ${result.clientCpuPct.toFixed(0)}%${
        result.clientBound ? " (client-bound)" : ""
      }; ${result.check}`,
    );
    return result;
  }
}

/** Messages taken from the lists during one run, and the shortest list after it. */
interface _Taken {
  taken: number;
  shortest: number;
}

/**
 * The lists `Q/MSG<prefix>0..n-1` of the hit scenario: in Redis, or in the
 * server's memory store (reached through the library).
 */
class _Queues {
  readonly #port: number;
  readonly #lists: TargetLists | undefined;
  readonly #keys: string[];

  constructor(rig: Rig, uids: number) {
    this.#port = rig.redis.port;
    this.#lists = rig.target.lists;
    this.#keys = Array.from({ length: uids }, (_, i) => `Q/MSG${PREFIX}${i}`);
  }

  /**
   * Tops every list up to what a run of `durationS` at {@linkcode RATE_BOUND}
   * could take, with `LPUSH`es of 1,000 messages, 20 per write (or through
   * the library, in memory). Returns the messages queued in all after it.
   */
  async fill(durationS: number): Promise<number> {
    const perList = Math.ceil((RATE_BOUND * durationS) / this.#keys.length) + 1_000;
    if (this.#lists !== undefined) {
      const lengths = await this.#lists.fill({
        prefix: PREFIX,
        uids: this.#keys.length,
        each: perList,
        message: HIT_MESSAGE,
      });
      return lengths.reduce((sum, n) => sum + n, 0);
    }
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
    let lengths: number[];
    if (this.#lists !== undefined) {
      lengths = await this.#lists.lengths(PREFIX, this.#keys.length);
    } else {
      const redis = await RespClient.connect({ port: this.#port });
      try {
        lengths = await this.#lengths(redis);
      } finally {
        redis.close();
      }
    }
    return {
      taken: before - lengths.reduce((sum, n) => sum + n, 0),
      shortest: Math.min(...lengths),
    };
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
