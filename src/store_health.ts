import type { Clock } from "./clock.ts";
import type { Logger } from "./logger.ts";
import type { Metrics } from "./metrics.ts";

/**
 * Tells the log when the message store stops answering and when it is
 * back, one line each, instead of one line per failed operation: an outage
 * with thousands of held polls stays two lines, the second with the count
 * of what failed in between.
 *
 * @example
 * ```ts
 * import { StoreHealth } from "./store_health.ts";
 * import { createLogger } from "./logger.ts";
 * import { systemClock } from "./clock.ts";
 * const lines: string[] = [];
 * const health = new StoreHealth({
 *   logger: createLogger({ write: (_level, line) => lines.push(line) }),
 *   clock: systemClock,
 * });
 * health.failed(new Error("connection refused"));
 * health.failed(new Error("connection refused"));
 * health.succeeded();
 * console.log(lines.length); // 2
 * ```
 */
export class StoreHealth {
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #metrics: Metrics | undefined;
  #downSince: number | undefined;
  #failures = 0;

  /** Starts out healthy; failures are counted in `metrics.storeErrors` when given. */
  constructor(
    options: { readonly logger: Logger; readonly clock: Clock; readonly metrics?: Metrics },
  ) {
    this.#logger = options.logger;
    this.#clock = options.clock;
    this.#metrics = options.metrics;
  }

  /** True between a failure and the next success. */
  get down(): boolean {
    return this.#downSince !== undefined;
  }

  /** A store operation failed. The first failure of an outage is logged. */
  failed(error: unknown): void {
    this.#failures++;
    if (this.#metrics !== undefined) this.#metrics.storeErrors++;
    if (this.#downSince !== undefined) return;
    this.#downSince = this.#clock.now();
    this.#logger.warn(
      `Cannot reach the message store: ${
        error instanceof Error ? error.message : String(error)
      }; polls get 503 until it is back`,
    );
  }

  /** A store operation succeeded; after an outage, says so with the count of failures. */
  succeeded(): void {
    if (this.#downSince === undefined) return;
    const seconds = (this.#clock.now() - this.#downSince) / 1000;
    this.#logger.info(`The message store is back after ${seconds.toFixed(1)} s`, {
      failed: this.#failures,
    });
    this.#downSince = undefined;
    this.#failures = 0;
  }
}
