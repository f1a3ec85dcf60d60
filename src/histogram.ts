/**
 * A Prometheus histogram: counts of observations at or under each bucket's
 * bound, their sum and their count, rendered in text exposition format.
 *
 * @example
 * ```ts
 * import { Histogram } from "./histogram.ts";
 * const latency = new Histogram([0.001, 0.01, 0.1]);
 * latency.observe(0.004);
 * latency.observe(0.2);
 * console.log(latency.render("wake_seconds").join("\n"));
 * // wake_seconds_bucket{le="0.001"} 0
 * // wake_seconds_bucket{le="0.01"} 1
 * // wake_seconds_bucket{le="0.1"} 1
 * // wake_seconds_bucket{le="+Inf"} 2
 * // wake_seconds_sum 0.204
 * // wake_seconds_count 2
 * ```
 */
export class Histogram {
  /** Upper bounds of the buckets, ascending, without `+Inf`. */
  readonly bounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  /** Creates an empty histogram with these bucket bounds (ascending). */
  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.#counts = new Array(bounds.length).fill(0);
  }

  /** Number of observations. */
  get count(): number {
    return this.#count;
  }

  /** Counts one observation of `value`. */
  observe(value: number): void {
    this.#sum += value;
    this.#count++;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]) {
        this.#counts[i]++;
        return;
      }
    }
  }

  /** The sample lines of `name`, with `labels` (such as `end="message"`) on each. */
  render(name: string, labels = ""): string[] {
    const prefix = labels === "" ? "" : `${labels},`;
    const lines: string[] = [];
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.#counts[i];
      lines.push(`${name}_bucket{${prefix}le="${this.bounds[i]}"} ${cumulative}`);
    }
    lines.push(`${name}_bucket{${prefix}le="+Inf"} ${this.#count}`);
    const suffix = labels === "" ? "" : `{${labels}}`;
    lines.push(`${name}_sum${suffix} ${Number(this.#sum.toPrecision(12))}`);
    lines.push(`${name}_count${suffix} ${this.#count}`);
    return lines;
  }
}
