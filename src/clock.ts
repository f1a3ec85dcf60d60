/**
 * The time source and the one native timer the library uses. Inject a fake
 * one to run a 945 s hold in milliseconds.
 *
 * @example
 * ```ts
 * import { systemClock } from "./clock.ts";
 * const id = systemClock.setTimeout(() => console.log("tick"), 10);
 * systemClock.clearTimeout(id);
 * console.log(typeof systemClock.now()); // "number"
 * ```
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` once, `ms` milliseconds from now. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer returned by {@linkcode Clock.setTimeout}. */
  clearTimeout(id: unknown): void;
}

/**
 * The real clock: `Date.now` and the runtime's `setTimeout`.
 *
 * @example
 * ```ts
 * import { systemClock } from "./clock.ts";
 * console.log(systemClock.now() > 0); // true
 * ```
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (id) => clearTimeout(id as number),
};

/**
 * The longest delay a runtime timer takes, 2^31 - 1 ms (24.8 days): a longer
 * one fires after 1 ms, so a timer re-armed for a far deadline would spin.
 * Every delay that may come from a setting or a request is capped to it;
 * a timer that fires early finds nothing due and arms again.
 *
 * @example
 * ```ts
 * import { MAX_TIMER_MS } from "./clock.ts";
 * const thirtyDays = 30 * 86_400_000;
 * console.log(Math.min(thirtyDays, MAX_TIMER_MS)); // 2147483647
 * ```
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
