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
