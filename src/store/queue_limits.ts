/**
 * Bounds on a uid's queue, shared by the stores: how long it lives after
 * its last push, and how many messages it keeps.
 *
 * @module
 */

/**
 * Options of {@linkcode QueueLimits}, shared by the stores' options.
 *
 * @example
 * ```ts
 * import { MemoryStore, type QueueLimitOptions } from "@longpoll/redis-longpoll";
 * const options: QueueLimitOptions = { queueMax: 1000, queueTtlSeconds: 3600 };
 * await new MemoryStore(options).close();
 * ```
 */
export interface QueueLimitOptions {
  /**
   * Seconds after its last push that a uid's queue expires. What is in
   * flight for the uid in at-least-once mode lives that long after its last
   * take, plus the lease, so a leased message is never dropped before its
   * lease runs out. Off when not given.
   */
  queueTtlSeconds?: number;
  /**
   * Most messages kept in a uid's queue: a push that makes it longer drops
   * the oldest beyond the limit, and tells `onTrimmed`. Messages in flight
   * don't count. Off when not given.
   */
  queueMax?: number;
  /**
   * Told how many of a uid's oldest messages a push dropped over
   * `queueMax`, to count them.
   * @default {a function that does nothing}
   */
  onTrimmed?: (uid: string, dropped: number) => void;
}

/** A pair of queue limits; 0 means off. */
export interface QueueLimitValues {
  /** Seconds a queue lives after its last push; 0 for ever. */
  readonly ttlSeconds: number;
  /** Most messages a queue keeps; 0 for no limit. */
  readonly max: number;
}

/**
 * The checked limits; 0 means off. A store shared by several processes
 * may {@linkcode QueueLimits.adopt} those in force on it, so that every
 * process applies the same.
 *
 * @example
 * ```ts
 * import { QueueLimits } from "./queue_limits.ts";
 * const limits = new QueueLimits({ queueTtlSeconds: 3600 }, "MemoryStore");
 * console.log(limits.ttlSeconds, limits.max, limits.sideTtlSeconds(60_000)); // 3600 0 3660
 * limits.adopt({ ttlSeconds: 0, max: 5 });
 * console.log(limits.ttlSeconds, limits.max, limits.requested); // 0 5 { ttlSeconds: 3600, max: 0 }
 * ```
 */
export class QueueLimits {
  /**
   * The limits the options asked for (an unset one is off), or undefined
   * when they set neither.
   */
  readonly requested: QueueLimitValues | undefined;
  #inForce: QueueLimitValues;
  readonly #onTrimmed: (uid: string, dropped: number) => void;

  /** Checks `options`; `owner` names the store in the error. */
  constructor(options: QueueLimitOptions, owner: string) {
    const ttlSeconds = _whole(options.queueTtlSeconds, "queueTtlSeconds", owner);
    const max = _whole(options.queueMax, "queueMax", owner);
    const given = options.queueTtlSeconds !== undefined || options.queueMax !== undefined;
    this.requested = given ? { ttlSeconds, max } : undefined;
    this.#inForce = { ttlSeconds, max };
    this.#onTrimmed = options.onTrimmed ?? (() => {});
  }

  /** Seconds a queue lives after its last push; 0 for ever. */
  get ttlSeconds(): number {
    return this.#inForce.ttlSeconds;
  }

  /** Most messages a queue keeps; 0 for no limit. */
  get max(): number {
    return this.#inForce.max;
  }

  /** The limits applied now. */
  get inForce(): QueueLimitValues {
    return this.#inForce;
  }

  /** True when either limit is on. */
  get active(): boolean {
    return this.ttlSeconds > 0 || this.max > 0;
  }

  /** Applies `limits` from now on, whatever the options asked for. */
  adopt(limits: QueueLimitValues): void {
    this.#inForce = { ttlSeconds: limits.ttlSeconds, max: limits.max };
  }

  /** Seconds what is in flight lives after a take with `leaseMs`; 0 for ever. */
  sideTtlSeconds(leaseMs: number): number {
    return this.ttlSeconds === 0 ? 0 : this.ttlSeconds + Math.ceil(leaseMs / 1000);
  }

  /** Reports `dropped` messages of `uid` trimmed, if any. */
  trimmed(uid: string, dropped: number): void {
    if (dropped > 0) this.#onTrimmed(uid, dropped);
  }
}

function _whole(value: number | undefined, name: string, owner: string): number {
  if (value === undefined) return 0;
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot create ${owner}: "${name}" must be a whole number of at least 1, got ${value}`,
    );
  }
  return value;
}
