/**
 * What every store shares about leases in at-least-once mode: the bound on
 * messages in flight, and how a released lease is marked.
 *
 * @module
 */
import { OPTION_SPECS } from "../option_defaults.ts";
import type { TakeOptions } from "./types.ts";

/**
 * Subtracted from a lease's deadline to release it: the lease is then due
 * at once, ahead of every running one, and released leases keep their
 * order. Larger than any deadline in milliseconds, and exact in a double
 * and in Redis's `%.17g` scores.
 *
 * @example
 * ```ts
 * import { RELEASED } from "./leases.ts";
 * console.log(Date.now() + 60_000 - RELEASED < 0); // true
 * ```
 */
export const RELEASED = 2 ** 50;

/**
 * The bound on messages in flight of `options`, else the default
 * `maxInFlight` of {@linkcode OPTION_SPECS}, checked: a whole number of at
 * least 1, else a RangeError.
 *
 * @example
 * ```ts
 * import { maxInFlightOf } from "./leases.ts";
 * console.log(maxInFlightOf({ leaseMs: 1000, now: 0, id: "a" })); // 16
 * ```
 */
export function maxInFlightOf(options: TakeOptions): number {
  const max = options.maxInFlight ?? OPTION_SPECS.maxInFlight.defaultValue;
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(
      `Cannot take: "maxInFlight" must be a whole number of at least 1, got ${max}`,
    );
  }
  return max;
}
