/**
 * Percentiles of latency samples, for the bench and the tests that time
 * wakes.
 *
 * @module
 */

/** Summary of latency samples, in ms. */
export interface LatencySummary {
  /** Number of samples. */
  count: number;
  /** Median. */
  p50: number;
  /** 99th percentile. */
  p99: number;
  /** Largest sample. */
  max: number;
}

/**
 * Summarizes samples with nearest-rank percentiles; all figures are NaN when
 * there are no samples.
 *
 * @example
 * ```ts
 * import { summarize } from "./stats.ts";
 * const summary = summarize([3, 1, 2]);
 * console.log(summary.p50, summary.max); // 2 3
 * ```
 */
export function summarize(samples: readonly number[]): LatencySummary {
  if (samples.length === 0) return { count: 0, p50: NaN, p99: NaN, max: NaN };
  const sorted = Float64Array.from(samples).sort();
  return {
    count: sorted.length,
    p50: _rank(sorted, 0.5),
    p99: _rank(sorted, 0.99),
    max: sorted[sorted.length - 1],
  };
}

/**
 * The nearest-rank `quantile` (0.99 for the 99th percentile) of `samples`;
 * NaN when there are none.
 *
 * @example
 * ```ts
 * import { percentile } from "./stats.ts";
 * console.log(percentile([5, 1, 4, 2, 3], 0.9)); // 5
 * ```
 */
export function percentile(samples: readonly number[], quantile: number): number {
  if (samples.length === 0) return NaN;
  return _rank(Float64Array.from(samples).sort(), quantile);
}

function _rank(sorted: Float64Array, quantile: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(quantile * sorted.length) - 1));
  return sorted[index];
}
