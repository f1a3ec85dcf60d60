/**
 * Why Redis refuses the store, said plainly: a connection refused for its
 * credentials, a Redis that can't be reached (no network permission, a
 * wrong URL), or a key of the wrong type, each reported once.
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
  #everConnected = false;
  #reportedFirstFailure = false;
  readonly #sentinelName: string | undefined;
  #primaryUnknown = false;

  /**
   * Warnings go to `onWarning`; with Redis Sentinel, `sentinelName` is the
   * name the primary is asked for, named when no Sentinel knows it.
   */
  constructor(onWarning: (message: string) => void, sentinelName?: string) {
    this.#onWarning = onWarning;
    this.#sentinelName = sentinelName;
  }

  /** Why the last connection attempt failed; undefined once connected. */
  get reason(): string | undefined {
    return this.#reason;
  }

  /** True when the last attempt failed because no Sentinel monitors a primary of that name. */
  get primaryUnknown(): boolean {
    return this.#primaryUnknown;
  }

  /** A connection is up: no reason to report any more. */
  connected(): void {
    this.#reason = undefined;
    this.#primaryUnknown = false;
    this.#everConnected = true;
  }

  /**
   * Notes why a connection failed. Credentials refused are warned about
   * once; so is the first failure before any connection (a wrong URL, a
   * missing `--allow-net`), so that a store that never connects says why.
   */
  connectionFailed(error: unknown): void {
    const message = messageOf(error);
    const auth = _authProblem(message);
    const unknown = this.#sentinelName !== undefined && /No such master/i.test(message);
    this.#primaryUnknown = unknown;
    this.#reason = unknown
      ? `Cannot connect to Redis: no Sentinel monitors a primary named "${this.#sentinelName}" (${message})`
      : `Cannot connect to Redis: ${auth ?? _reachProblem(error, message) ?? message}`;
    if (auth !== undefined) {
      if (this.#reportedAuth) return;
      this.#reportedAuth = true;
      this.#reportedFirstFailure = true;
      return this.#onWarning(this.#reason);
    }
    if (this.#everConnected || this.#reportedFirstFailure) return;
    this.#reportedFirstFailure = true;
    this.#onWarning(`${this.#reason}; it keeps trying, and polls get 503 meanwhile`);
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

/**
 * Why Redis can't be reached, for the usual mistakes: no network
 * permission (Deno's `NotCapable`), nothing listening, an unknown host; or
 * undefined for any other error.
 */
function _reachProblem(error: unknown, message: string): string | undefined {
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
  if (name === "NotCapable" || /^Requires net access/.test(message)) {
    return `the runtime denies network access; run Deno with --allow-net (${message})`;
  }
  if (code === "ECONNREFUSED") {
    return `nothing listens there; check the URL, and that Redis runs (${message})`;
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return `the host name is unknown; check the URL (${message})`;
  }
  return undefined;
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
