/**
 * How the Redis store applies the queue limits to the lists producers push
 * to themselves (`LPUSH`): after each push it hears of, and by a sweep of
 * the prefix after pushes it could not hear of.
 *
 * @module
 */
import { PushLimitsQueue } from "./push_limits_queue.ts";
import type { QueueLimits } from "./queue_limits.ts";
import type { RedisCommandRunner } from "./redis_command_runner.ts";
import type { RedisCommands } from "./redis_connection.ts";
import { LimitsSweep, type ScannableNode } from "./redis_limits_sweep.ts";
import { LIMIT } from "./redis_scripts.ts";

/** Options of {@linkcode ListLimits}. */
export interface ListLimitsOptions {
  /** The list key prefix. */
  readonly keyPrefix: string;
  /** The limits in force. */
  readonly limits: QueueLimits;
  /** The command connection. */
  readonly client: Pick<RedisCommands, "eval" | "expire">;
  /** Runs each command under the store's deadline. */
  readonly runner: RedisCommandRunner;
  /** The nodes that hold the prefix's keys, connected, for a sweep. */
  readonly nodes: () => Promise<readonly ScannableNode[]>;
}

/**
 * Applies the queue limits to lists pushed by others, a bounded number at
 * a time; nothing while no limit is set.
 *
 * @example
 * ```ts
 * import { QueueLimits } from "./queue_limits.ts";
 * import { RedisCommandRunner } from "./redis_command_runner.ts";
 * import { RedisDiagnosis } from "./redis_diagnosis.ts";
 * import { ListLimits } from "./redis_list_limits.ts";
 * const expired: string[] = [];
 * const lists = new ListLimits({
 *   keyPrefix: "Q/MSG",
 *   limits: new QueueLimits({ queueTtlSeconds: 60 }, "RedisStore"),
 *   client: {
 *     eval: () => Promise.resolve(0),
 *     expire: (key) => Promise.resolve(expired.push(key)),
 *   },
 *   runner: new RedisCommandRunner({
 *     timeoutMs: 1500,
 *     diagnosis: new RedisDiagnosis(() => {}),
 *     typeOf: () => Promise.resolve("none"),
 *   }),
 *   nodes: () => Promise.resolve([]),
 * });
 * lists.pushed("42");
 * await lists.close();
 * console.log(expired); // [ "Q/MSG42" ]
 * ```
 */
export class ListLimits {
  readonly #options: ListLimitsOptions;
  /** The limits of pushes by producers, applied a bounded number at a time. */
  readonly #pushLimits: PushLimitsQueue;
  /** The limits of lists pushed while notifications were off, which no push applied. */
  readonly #sweep: LimitsSweep;

  /** Applies nothing yet. */
  constructor(options: ListLimitsOptions) {
    this.#options = options;
    this.#pushLimits = new PushLimitsQueue({ apply: (uid) => this.#limit(uid) });
    this.#sweep = new LimitsSweep({
      keyPrefix: options.keyPrefix,
      nodes: options.nodes,
      limits: this.#pushLimits,
    });
  }

  /** Applies the limits to the list of `uid`, which someone pushed to. */
  pushed(uid: string): void {
    if (this.#options.limits.active) this.#pushLimits.pushed(uid);
  }

  /** Applies the limits to every list of the prefix, after pushes no store heard. */
  sweep(): void {
    if (this.#options.limits.active) this.#sweep.start();
  }

  /** Stops sweeping, and applies the limits of the pushes heard. */
  async close(): Promise<void> {
    await this.#sweep.close();
    await this.#pushLimits.idle();
  }

  /**
   * Applies the queue limits after a push by someone else: a plain EXPIRE
   * when there is no trim to do, which costs Redis less than a script.
   */
  #limit(uid: string): Promise<void> {
    const { keyPrefix, limits, client, runner } = this.#options;
    const key = keyPrefix + uid;
    const { ttlSeconds, max } = limits;
    const limit = max === 0
      ? () => client.expire(key, ttlSeconds).then(() => 0)
      : () => client.eval(LIMIT, { keys: [key], arguments: [String(ttlSeconds), String(max)] });
    return runner.run("limit", limit).then(
      (dropped) => limits.trimmed(uid, Number(dropped)),
      () => {}, // the next push tries again
    );
  }
}
