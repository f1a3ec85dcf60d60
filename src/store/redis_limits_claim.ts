/**
 * How the Redis store keeps to the queue limits in force for its prefix:
 * it claims them once connected, and again on a timer, so a change made in
 * Redis reaches every process.
 *
 * @module
 */
import { KeyTypeError } from "./errors.ts";
import type { QueueLimits } from "./queue_limits.ts";
import type { RedisCommandRunner } from "./redis_command_runner.ts";
import type { RedisCommands } from "./redis_connection.ts";
import { SharedQueueLimits } from "./redis_queue_limits.ts";
import { CLAIM_LIMITS } from "./redis_scripts.ts";

/** Options of {@linkcode LimitsClaim}. */
export interface LimitsClaimOptions {
  /** The list key prefix whose limits they are. */
  readonly keyPrefix: string;
  /** The limits this process applies, kept equal to those in force. */
  readonly limits: QueueLimits;
  /** The command connection. */
  readonly client: Pick<RedisCommands, "eval">;
  /** Runs each command under the store's deadline. */
  readonly runner: RedisCommandRunner;
  /** Where a mismatch with the limits in force is said. */
  readonly onWarning: (message: string) => void;
  /**
   * Milliseconds between two claims.
   * @default {30000}
   */
  readonly checkMs?: number;
}

/**
 * Claims the queue limits in force: now and then, and whenever asked, one
 * claim at a time.
 *
 * @example
 * ```ts
 * import { QueueLimits } from "./queue_limits.ts";
 * import { RedisCommandRunner } from "./redis_command_runner.ts";
 * import { RedisDiagnosis } from "./redis_diagnosis.ts";
 * import { LimitsClaim } from "./redis_limits_claim.ts";
 * const limits = new QueueLimits({}, "RedisStore");
 * const claim = new LimitsClaim({
 *   keyPrefix: "Q/MSG",
 *   limits,
 *   client: { eval: () => Promise.resolve(["60", "5"]) }, // kept by another process
 *   runner: new RedisCommandRunner({
 *     timeoutMs: 1500,
 *     diagnosis: new RedisDiagnosis(() => {}),
 *     typeOf: () => Promise.resolve("none"),
 *   }),
 *   onWarning: console.warn,
 * });
 * await claim.claim();
 * console.log(claim.known, limits.inForce); // true { ttlSeconds: 60, max: 5 }
 * await claim.close();
 * ```
 */
export class LimitsClaim {
  readonly #options: LimitsClaimOptions;
  /** The limits in force for the prefix, kept in Redis, the same for every process. */
  readonly #shared: SharedQueueLimits;
  readonly #timer: ReturnType<typeof setInterval>;
  #claiming: Promise<void> | undefined;

  /** Claims every `checkMs` from now on, until closed. */
  constructor(options: LimitsClaimOptions) {
    this.#options = options;
    const { keyPrefix, limits, onWarning } = options;
    this.#shared = new SharedQueueLimits({ keyPrefix, limits, onWarning });
    this.#timer = setInterval(() => this.claim(), options.checkMs ?? 30_000);
  }

  /** True once the limits in force were read from Redis. */
  get known(): boolean {
    return this.#shared.known;
  }

  /**
   * Why the limits asked for can't apply, or why those in force can't be
   * read: see {@linkcode SharedQueueLimits.conflict}.
   */
  get conflict(): string | undefined {
    return this.#shared.conflict;
  }

  /**
   * Reads the queue limits in force for the prefix, first writing this
   * store's where Redis keeps none; one read at a time. Never rejects.
   */
  claim(): Promise<void> {
    const { client, runner } = this.#options;
    const shared = this.#shared;
    return this.#claiming ??= runner.run(
      "read the queue limits",
      () =>
        shared.claim((key, args) => client.eval(CLAIM_LIMITS, { keys: [key], arguments: args })),
      { expect: [[shared.key, "hash"]] },
    )
      .catch((error) => {
        // Unusable until someone fixes it; anything else, the next check tries again.
        if (error instanceof KeyTypeError) shared.unreadable(error.message);
      })
      .finally(() => (this.#claiming = undefined));
  }

  /** Stops the timer, and waits for the claim in flight. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#claiming;
  }
}
