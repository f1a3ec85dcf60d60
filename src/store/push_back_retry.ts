/**
 * Messages the store took out of Redis and must put back on its own (a pop
 * answered after its deadline, a message refused as invalid UTF-8): each
 * is pushed back with a backoff until Redis takes it, and reported lost
 * only if the store closes first.
 *
 * @module
 */
import { exponentialBackoff } from "../backoff.ts";
import { messageOf } from "./redis_connection.ts";

/** Options of {@linkcode PushBackRetry}. */
export interface PushBackRetryOptions {
  /** Puts `message` back at the head of the queue of `uid`, once. */
  push(uid: string, message: Uint8Array): Promise<void>;
  /** Told each time a message is back. */
  onPushedBack(uid: string): void;
  /** Told when a message could not be put back before closing. */
  onLost(uid: string, message: string, error: unknown): void;
  /** Where the line about a lost message goes. */
  onWarning(message: string): void;
}

const LOSSY = new TextDecoder();

/**
 * Retries push-backs: 50 ms doubling to 2 s between attempts.
 *
 * @example
 * ```ts
 * import { PushBackRetry } from "./push_back_retry.ts";
 * let refusals = 2;
 * const retry = new PushBackRetry({
 *   push: () => refusals-- > 0 ? Promise.reject(new Error("OOM")) : Promise.resolve(),
 *   onPushedBack: (uid) => console.log("back:", uid), // back: 42
 *   onLost: () => {},
 *   onWarning: console.warn,
 * });
 * await retry.start("42", new TextEncoder().encode("hi"));
 * await retry.close();
 * ```
 */
export class PushBackRetry {
  readonly #options: PushBackRetryOptions;
  readonly #running = new Set<Promise<void>>();
  readonly #closing = new AbortController();

  /** Starts nothing yet. */
  constructor(options: PushBackRetryOptions) {
    this.#options = options;
  }

  /** Pushes `message` back until Redis takes it; resolves then, or once it is reported lost. */
  start(uid: string, message: Uint8Array): Promise<void> {
    const job = this.#run(uid, message).finally(() => this.#running.delete(job));
    this.#running.add(job);
    return job;
  }

  /** Gives every message still refused one last attempt, then reports the rest lost. */
  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.all([...this.#running]);
  }

  async #run(uid: string, message: Uint8Array): Promise<void> {
    const delay = exponentialBackoff({ base: 50, max: 2000, jitter: 0.2 });
    for (let attempt = 0;; attempt++) {
      try {
        await this.#options.push(uid, message);
        return this.#options.onPushedBack(uid);
      } catch (error) {
        if (this.#closing.signal.aborted) {
          const why = messageOf(error).replace(/^Cannot push back: /, "");
          this.#options.onWarning(
            `Cannot push back a message of "${uid}" before closing: ${why}; it is lost`,
          );
          return this.#options.onLost(uid, LOSSY.decode(message), error);
        }
        await _sleep(delay(attempt), this.#closing.signal);
      }
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function _sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
