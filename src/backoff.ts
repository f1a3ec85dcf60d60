import { clampTimerDelay } from "./timer_delay.ts";

/**
 * A backoff: the delay in milliseconds before retry number `attempt`
 * (0 for the first retry).
 *
 * @example
 * ```ts
 * import { exponentialBackoff, type Backoff } from "./backoff.ts";
 * const backoff: Backoff = exponentialBackoff({ base: 15_000 });
 * console.log(backoff(0), backoff(1)); // 15000 30000
 * ```
 */
export type Backoff = (attempt: number) => number;

/** Options of {@linkcode exponentialBackoff}. */
export interface ExponentialBackoffOptions {
  /** Delay of the first retry, in milliseconds. */
  base: number;
  /**
   * Growth factor between two retries.
   * @default {2}
   */
  multiplier?: number;
  /**
   * Upper bound of any delay, in milliseconds; every delay is also clamped
   * to the longest a timer honours (about 24.8 days), so a delay that grows
   * without bound never wraps around to 1 ms.
   * @default {Infinity}
   */
  max?: number;
  /**
   * Share of the delay taken off at random, from 0 (none) to 1 (full jitter).
   * @default {0}
   */
  jitter?: number;
  /**
   * Source of randomness in [0, 1); inject a fixed one for deterministic tests.
   * @default {Math.random}
   */
  random?: () => number;
}

/**
 * Creates a {@linkcode Backoff} whose delays grow geometrically:
 * `min(max, base * multiplier ** attempt)`, less up to `jitter` of it at random.
 *
 * @example
 * ```ts
 * import { exponentialBackoff } from "./backoff.ts";
 * const reconnect = exponentialBackoff({ base: 50, max: 2_000, jitter: 0.5 });
 * const delay = reconnect(3); // between 200 and 400
 * console.log(delay >= 200 && delay <= 400); // true
 * ```
 */
export function exponentialBackoff(options: ExponentialBackoffOptions): Backoff {
  const { base, multiplier = 2, max = Infinity, jitter = 0, random = Math.random } = options;
  if (!(base >= 0)) throw new RangeError(`Cannot create backoff: "base" must be >= 0, got ${base}`);
  if (!(jitter >= 0 && jitter <= 1)) {
    throw new RangeError(`Cannot create backoff: "jitter" must be within [0, 1], got ${jitter}`);
  }
  return (attempt) => {
    const delay = clampTimerDelay(Math.min(max, base * multiplier ** attempt));
    return jitter === 0 ? delay : delay * (1 - jitter * random());
  };
}
