/**
 * Why Redis refuses the store, said plainly: a connection refused for its
 * credentials, or a key of the wrong type, each reported once.
 *
 * @module
 */
import { KeyTypeError } from "./errors.ts";
import { messageOf } from "./redis_connection.ts";

/** A key and the Redis type the store needs it to hold (or not to exist). */
export type ExpectedType = readonly [key: string, type: "list" | "hash" | "zset"];

const MAX_REPORTED_KEYS = 1000;

/**
 * Turns Redis's refusals into clear errors and warnings.
 *
 * @example
 * ```ts
 * import { RedisDiagnosis } from "./redis_diagnosis.ts";
 * const diagnosis = new RedisDiagnosis(console.warn);
 * diagnosis.connectionFailed(new Error("NOAUTH Authentication required."));
 * console.log(diagnosis.reason); // Cannot connect to Redis: it needs a password, and none was given (NOAUTH Authentication required.)
 * ```
 */
export class RedisDiagnosis {
  readonly #onWarning: (message: string) => void;
  readonly #reportedKeys = new Set<string>();
  #reason: string | undefined;
  #reportedAuth = false;

  /** Warnings go to `onWarning`. */
  constructor(onWarning: (message: string) => void) {
    this.#onWarning = onWarning;
  }

  /** Why the last connection attempt failed; undefined once connected. */
  get reason(): string | undefined {
    return this.#reason;
  }

  /** A connection is up: no reason to report any more. */
  connected(): void {
    this.#reason = undefined;
  }

  /** Notes why a connection failed; credentials refused are warned about once. */
  connectionFailed(error: unknown): void {
    const message = messageOf(error);
    const auth = _authProblem(message);
    this.#reason = `Cannot connect to Redis: ${auth ?? message}`;
    if (auth === undefined || this.#reportedAuth) return;
    this.#reportedAuth = true;
    this.#onWarning(this.#reason);
  }

  /**
   * The error for a WRONGTYPE refusal of `action`: the first of `expected`
   * whose type (read with `typeOf`) is wrong, as a {@linkcode KeyTypeError}
   * warned about once per key; undefined when none is found.
   */
  async wrongType(
    action: string,
    expected: readonly ExpectedType[],
    typeOf: (key: string) => Promise<string>,
  ): Promise<KeyTypeError | undefined> {
    for (const [key, type] of expected) {
      const actual = await typeOf(key);
      if (actual === "none" || actual === type) continue;
      const error = new KeyTypeError(action, key, { actual, expected: type });
      if (!this.#reportedKeys.has(key)) {
        if (this.#reportedKeys.size >= MAX_REPORTED_KEYS) this.#reportedKeys.clear();
        this.#reportedKeys.add(key);
        this.#onWarning(`${error.message}; every call on it fails until it is removed`);
      }
      return error;
    }
    return undefined;
  }
}

/** What a refusal of credentials means, or undefined for any other error. */
function _authProblem(message: string): string | undefined {
  if (message.startsWith("NOAUTH")) {
    return `it needs a password, and none was given (${message})`;
  }
  if (message.startsWith("WRONGPASS")) {
    return `it refused the user name or password (${message})`;
  }
  if (/AUTH.*without any password configured/i.test(message)) {
    return `a password was given, but it has none set (${message})`;
  }
  return undefined;
}
