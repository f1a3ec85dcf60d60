/**
 * The queue limits of a Redis key prefix as one store-wide truth: kept in
 * Redis, set by the first process that asks for some, and adopted by every
 * other process on the prefix.
 *
 * @module
 */
import type { QueueLimits, QueueLimitValues } from "./queue_limits.ts";
import { sideKey } from "./redis_keys.ts";

/** Options of {@linkcode SharedQueueLimits}. */
export interface SharedQueueLimitsOptions {
  /** The list key prefix whose limits they are. */
  readonly keyPrefix: string;
  /** The limits this process applies: those asked for, until those in force are known. */
  readonly limits: QueueLimits;
  /** Where a mismatch is said, each time the limits in force change. */
  readonly onWarning: (message: string) => void;
}

/**
 * Runs the claim script (`CLAIM_LIMITS`) on the limits hash: KEYS, then
 * ARGV. Resolves what the script returns.
 */
export type ClaimLimits = (key: string, args: [string, string]) => Promise<unknown>;

/**
 * Keeps a process's {@linkcode QueueLimits} equal to those in force on
 * Redis. Each {@linkcode SharedQueueLimits.claim} writes the limits asked
 * for (or, without any, those adopted before) where Redis keeps none, so
 * the first process to ask sets them, then adopts what Redis keeps. Limits
 * asked for that differ from those in force are a
 * {@linkcode SharedQueueLimits.conflict}: those in force still apply.
 *
 * @example
 * ```ts
 * import { QueueLimits } from "./queue_limits.ts";
 * import { SharedQueueLimits } from "./redis_queue_limits.ts";
 * const limits = new QueueLimits({ queueMax: 5 }, "RedisStore");
 * const shared = new SharedQueueLimits({ keyPrefix: "Q/MSG", limits, onWarning: () => {} });
 * await shared.claim(() => Promise.resolve(["3600", "0"])); // kept by another process
 * console.log(limits.inForce); // { ttlSeconds: 3600, max: 0 }
 * console.log(shared.conflict?.startsWith("Cannot apply the queue limits")); // true
 * ```
 */
export class SharedQueueLimits {
  /** The hash that keeps them: `{<prefix>}\x1flimits`, fields `ttl` and `max`. */
  readonly key: string;
  readonly #options: SharedQueueLimitsOptions;
  #known = false;
  #conflict: string | undefined;

  /** Reads nothing yet: see {@linkcode SharedQueueLimits.claim}. */
  constructor(options: SharedQueueLimitsOptions) {
    this.#options = options;
    this.key = sideKey(options.keyPrefix, "limits");
  }

  /** True once the limits in force were read from Redis. */
  get known(): boolean {
    return this.#known;
  }

  /**
   * Why the limits asked for can't apply (they differ from those in force),
   * or why those in force can't be read. Undefined when they match, or none
   * were asked for.
   */
  get conflict(): string | undefined {
    return this.#conflict;
  }

  /** Writes the limits asked for where Redis keeps none, then adopts those it keeps. */
  async claim(run: ClaimLimits): Promise<void> {
    const { limits } = this.#options;
    const wanted = limits.requested ?? (this.#known ? limits.inForce : undefined);
    const args: [string, string] = wanted === undefined
      ? ["", ""]
      : [String(wanted.ttlSeconds), String(wanted.max)];
    const kept = await run(this.key, args);
    // None kept, and none asked for: none are in force.
    if (kept === null || kept === undefined) {
      this.#known = true;
      return;
    }
    const inForce = this.#parse(kept as (string | null)[]);
    if (inForce === undefined) return;
    const changed = !this.#known || !_same(inForce, limits.inForce);
    this.#known = true;
    limits.adopt(inForce);
    const requested = limits.requested;
    const conflict = requested === undefined || _same(requested, inForce)
      ? undefined
      : this.#conflictOf(requested, inForce);
    if (conflict !== undefined && (changed || this.#conflict === undefined)) {
      this.#options.onWarning(conflict);
    }
    this.#conflict = conflict;
  }

  /** The limits `kept`, or undefined (said as the conflict) when they are not whole numbers. */
  #parse(kept: (string | null)[]): QueueLimitValues | undefined {
    const [ttl, max] = kept.map((field) => Number(field ?? "0"));
    if ([ttl, max].every((value) => Number.isInteger(value) && value >= 0)) {
      return { ttlSeconds: ttl, max };
    }
    const reason = `Cannot read the queue limits: ${JSON.stringify(this.key)} holds ` +
      `ttl "${kept[0]}" and max "${kept[1]}", not whole numbers; set them with HSET`;
    if (this.#conflict !== reason) this.#options.onWarning(reason);
    this.unreadable(reason);
    return undefined;
  }

  /**
   * Says why the limits in force can't be read (such as a key of the wrong
   * type, which the store warns about itself), as the conflict.
   */
  unreadable(reason: string): void {
    this.#conflict = reason;
  }

  #conflictOf(requested: QueueLimitValues, inForce: QueueLimitValues): string {
    const quoted = `$'${
      this.key.replaceAll("\\", "\\\\").replaceAll("'", "\\'").replaceAll("\x1f", "\\x1f")
    }'`;
    return `Cannot apply the queue limits: this process was given ${_describe(requested)}, ` +
      `but those in force for prefix "${this.#options.keyPrefix}" are ${_describe(inForce)} ` +
      `(0 is off), and every process on the prefix applies those. Start it with the same ` +
      `limits or none, or change them for every process with: redis-cli HSET ${quoted} ` +
      `ttl ${requested.ttlSeconds} max ${requested.max}`;
  }
}

function _describe(limits: QueueLimitValues): string {
  return `TTL "${limits.ttlSeconds}" and max "${limits.max}"`;
}

function _same(a: QueueLimitValues, b: QueueLimitValues): boolean {
  return a.ttlSeconds === b.ttlSeconds && a.max === b.max;
}
