/**
 * The one clamp of every delay given to a timer. `setTimeout` keeps its
 * delay in a signed 32-bit integer: a longer one (such as a `Retry-After`
 * of 2,147,484 s or more, or a backoff grown to `Infinity`) fires after
 * 1 ms, and a loop waiting on it spins.
 *
 * @module
 */

/**
 * The longest delay `setTimeout` honours, in milliseconds: about 24.8 days.
 *
 * @example
 * ```ts
 * import { MAX_TIMER_DELAY_MS } from "./timer_delay.ts";
 * console.log(MAX_TIMER_DELAY_MS); // 2147483647
 * ```
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * `ms` as a delay a timer honours: at most {@linkcode MAX_TIMER_DELAY_MS},
 * and 0 for a negative delay or NaN.
 *
 * @example
 * ```ts
 * import { clampTimerDelay } from "./timer_delay.ts";
 * console.log(clampTimerDelay(99_999_999_000), clampTimerDelay(Infinity)); // 2147483647 2147483647
 * console.log(clampTimerDelay(250), clampTimerDelay(Number.NaN)); // 250 0
 * ```
 */
export function clampTimerDelay(ms: number): number {
  return ms > 0 ? Math.min(ms, MAX_TIMER_DELAY_MS) : 0;
}
