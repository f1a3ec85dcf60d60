/**
 * How the Redis store runs each command: under its deadline, with a
 * failure said as `Cannot <action>: Redis failed: <why>`, and a key of the
 * wrong type named.
 *
 * @module
 */
import { Deadlines } from "./deadlines.ts";
import type { ExpectedType, RedisDiagnosis } from "./redis_diagnosis.ts";
import { messageOf } from "./redis_connection.ts";

/** Options of {@linkcode RedisCommandRunner}. */
export interface RedisCommandRunnerOptions {
  /** Most milliseconds a command may take before it fails. */
  readonly timeoutMs: number;
  /** What explains a WRONGTYPE refusal. */
  readonly diagnosis: RedisDiagnosis;
  /** `TYPE key`, to find the key of the wrong type. */
  readonly typeOf: (key: string) => Promise<string>;
}

/** Options of one {@linkcode RedisCommandRunner.run}. */
export interface RunOptions<T> {
  /** Takes what the command brings back after its deadline. */
  readonly onLate?: (value: T) => void;
  /** The keys it touches and their types, to name the wrong one on WRONGTYPE. */
  readonly expect?: readonly ExpectedType[];
}

/**
 * Runs the store's commands under one deadline.
 *
 * @example
 * ```ts
 * import { RedisCommandRunner } from "./redis_command_runner.ts";
 * import { RedisDiagnosis } from "./redis_diagnosis.ts";
 * const runner = new RedisCommandRunner({
 *   timeoutMs: 1500,
 *   diagnosis: new RedisDiagnosis(() => {}),
 *   typeOf: () => Promise.resolve("string"),
 * });
 * const wrongType = () => Promise.reject(new Error("WRONGTYPE Operation against a key"));
 * const expect = [["Q/MSG42", "list"]] as const;
 * await runner.run("pop", wrongType, { expect }).catch((error) => console.log(error.message)); // Cannot pop: "Q/MSG42" holds a string, not a list
 * await runner.run("pop", () => Promise.reject(new Error("OOM")))
 *   .catch((error) => console.log(error.message)); // Cannot pop: Redis failed: OOM
 * runner.close();
 * ```
 */
export class RedisCommandRunner {
  readonly #deadlines: Deadlines;
  readonly #options: RedisCommandRunnerOptions;

  /** Runs nothing yet. */
  constructor(options: RedisCommandRunnerOptions) {
    this.#options = options;
    this.#deadlines = new Deadlines({ timeoutMs: options.timeoutMs, what: "Redis" });
  }

  /**
   * Runs `command` under the deadline; its failure reads
   * `Cannot <action>: Redis failed: <why>`, or names the key of the wrong
   * type (a `KeyTypeError`) when `expect` finds it.
   */
  run<T>(action: string, command: () => Promise<T>, options: RunOptions<T> = {}): Promise<T> {
    return this.#deadlines.run(action, async () => {
      try {
        return await command();
      } catch (error) {
        if (options.expect !== undefined && /^WRONGTYPE/.test(messageOf(error))) {
          const explained = await this.#options.diagnosis.wrongType(
            action,
            options.expect,
            this.#options.typeOf,
          ).catch(() => undefined);
          if (explained !== undefined) throw explained;
        }
        throw _storeError(action, error);
      }
    }, options.onLate);
  }

  /** Stops the deadline timer; commands still in flight keep their promises. */
  close(): void {
    this.#deadlines.close();
  }
}

function _storeError(action: string, cause: unknown): Error {
  return new Error(`Cannot ${action}: Redis failed: ${messageOf(cause)}`, { cause });
}
