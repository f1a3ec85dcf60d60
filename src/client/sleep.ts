/**
 * A wait that ends early when its signal aborts.
 *
 * @module
 */

import { clampTimerDelay } from "../timer_delay.ts";

/**
 * Resolves after `ms` milliseconds (at most about 24.8 days, the longest a
 * timer honours), or as soon as `signal` aborts.
 *
 * @example
 * ```ts
 * import { sleep } from "./sleep.ts";
 * const stop = new AbortController();
 * const started = Date.now();
 * setTimeout(() => stop.abort(), 10);
 * await sleep(60_000, stop.signal);
 * console.log(Date.now() - started < 1000); // true
 * ```
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, clampTimerDelay(ms));
    signal.addEventListener("abort", done);
  });
}
