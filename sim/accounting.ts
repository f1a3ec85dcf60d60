/**
 * Exactly-once accounting of a simulation run: what the producer pushed
 * against what the users got, message by message, and the wake latency
 * (push to arrival) before, during and after the fault.
 *
 * @module
 */
import { type LatencySummary, summarize } from "../testing/stats.ts";
import type { ClientLog } from "./clients.ts";
import type { ProducerLog } from "./producer.ts";

/** When the fault began and when it was healed (or the replica promoted), unix ms. */
export interface FaultWindow {
  faultAt: number;
  healAt: number;
}

/** The figures of one run. */
export interface RunFigures {
  /** Pushes a replica acknowledged. */
  acknowledged: number;
  /** Pushes that may or may not have reached Redis: neither lost nor duplicated when missing or there. */
  uncertain: number;
  /** Acknowledged pushes the app never got. */
  lost: number[];
  /** Answers beyond the first of a message, marked `X-Redelivered: true`. */
  duplicatesMarked: number;
  /** Answers beyond the first of a message, not marked. */
  duplicatesUnmarked: number;
  /** Messages the client handed to the app more than once. */
  duplicatesInApp: number;
  /**
   * Messages pushed during the fault and delivered after the heal (the
   * uncertain pushes that went through included): how many, and ms from the
   * heal to the first and to the last of them (NaN when there were none).
   */
  stuck: { count: number; firstMs: number; lastMs: number };
  /** Push-to-arrival latency of first arrivals, by when the message was pushed, in ms. */
  wake: { before: LatencySummary; during: LatencySummary; after: LatencySummary };
}

/**
 * Sets the users' log against the producer's log.
 *
 * @example
 * ```ts
 * import { account } from "./accounting.ts";
 * const figures = account(
 *   { acked: [[1, 0, 1000], [2, 0, 5000], [3, 1, 9000]], uncertain: [[4, 2, 4500]] },
 *   { wire: [[1, 1002, 0], [2, 7000, 0], [2, 7100, 1]], app: [[1, 1002, 0], [2, 7000, 0]] },
 *   { faultAt: 4000, healAt: 6000 },
 * );
 * console.log(figures.lost, figures.duplicatesMarked, figures.stuck.firstMs); // [ 3 ] 1 1000
 * ```
 */
export function account(produced: ProducerLog, got: ClientLog, window: FaultWindow): RunFigures {
  const wireSeen = new Map<number, number>();
  let duplicatesMarked = 0;
  let duplicatesUnmarked = 0;
  for (const [id, at, redelivered] of got.wire) {
    if (!wireSeen.has(id)) wireSeen.set(id, at);
    else if (redelivered) duplicatesMarked++;
    else duplicatesUnmarked++;
  }
  const appSeen = new Map<number, number>();
  let duplicatesInApp = 0;
  for (const [id, at] of got.app) {
    if (appSeen.has(id)) duplicatesInApp++;
    else appSeen.set(id, at);
  }
  const lost: number[] = [];
  const samples = { before: [] as number[], during: [] as number[], after: [] as number[] };
  const stuck: number[] = [];
  for (const [id, , pushedAt] of produced.acked) {
    const at = appSeen.get(id);
    if (at === undefined) {
      lost.push(id);
      continue;
    }
    const phase = pushedAt < window.faultAt
      ? "before"
      : pushedAt < window.healAt
      ? "during"
      : "after";
    samples[phase].push(at - pushedAt);
  }
  for (const [id, , pushedAt] of [...produced.acked, ...produced.uncertain]) {
    const at = appSeen.get(id);
    const during = pushedAt >= window.faultAt && pushedAt < window.healAt;
    if (at !== undefined && during && at > window.healAt) stuck.push(at - window.healAt);
  }
  return {
    acknowledged: produced.acked.length,
    uncertain: produced.uncertain.length,
    lost,
    duplicatesMarked,
    duplicatesUnmarked,
    duplicatesInApp,
    stuck: {
      count: stuck.length,
      firstMs: stuck.length === 0 ? NaN : Math.min(...stuck),
      lastMs: stuck.length === 0 ? NaN : Math.max(...stuck),
    },
    wake: {
      before: summarize(samples.before),
      during: summarize(samples.during),
      after: summarize(samples.after),
    },
  };
}
