/**
 * The queue limits of lists pushed while keyspace notifications were off:
 * no store heard those pushes, so a sweep of the prefix finds them.
 *
 * @module
 */

/** A node whose keys can be scanned: a Redis, or a master of a cluster. */
export interface ScannableNode {
  /** `SCAN cursor MATCH pattern COUNT n TYPE type`. */
  scan(
    cursor: string,
    options: { MATCH: string; COUNT: number; TYPE: string },
  ): Promise<{ cursor: string | number; keys: string[] }>;
}

/** Options of {@linkcode LimitsSweep}. */
export interface LimitsSweepOptions {
  /** The list key prefix to sweep. */
  readonly keyPrefix: string;
  /** The nodes that hold the prefix's keys, connected. */
  readonly nodes: () => Promise<readonly ScannableNode[]>;
  /**
   * Where each uid found goes to get its limits, a bounded number at a
   * time, such as a `PushLimitsQueue`.
   */
  readonly limits: { pushed(uid: string): void; idle(): Promise<void> };
  /**
   * Keys asked of a node per SCAN: the lists of one page get their limits
   * before the next page is asked for.
   * @default {200}
   */
  readonly pageSize?: number;
  /**
   * Milliseconds between two pages, so a sweep of a large prefix leaves
   * Redis room for the polls.
   * @default {5}
   */
  readonly pauseMs?: number;
}

/**
 * Sweeps the lists of the prefix, a page at a time and paced, giving each
 * its limits (a fresh TTL, and the trim of `queueMax`). One sweep runs at a
 * time; one asked for meanwhile runs after it. A node that fails ends the
 * sweep: the next one asked for starts over.
 *
 * @example
 * ```ts
 * import { LimitsSweep } from "./redis_limits_sweep.ts";
 * const keys = ["Q/MSGa", "Q/MSGb"];
 * const node = { scan: () => Promise.resolve({ cursor: "0", keys }) };
 * const found: string[] = [];
 * const sweep = new LimitsSweep({
 *   keyPrefix: "Q/MSG",
 *   nodes: () => Promise.resolve([node]),
 *   limits: { pushed: (uid) => void found.push(uid), idle: () => Promise.resolve() },
 * });
 * await sweep.start();
 * console.log(found, sweep.swept); // [ "a", "b" ] 2
 * ```
 */
export class LimitsSweep {
  readonly #options: LimitsSweepOptions;
  readonly #match: string;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #swept = 0;

  /** Sweeps nothing yet: see {@linkcode LimitsSweep.start}. */
  constructor(options: LimitsSweepOptions) {
    this.#options = options;
    this.#match = `${options.keyPrefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
  }

  /** How many lists the sweeps found, in all. */
  get swept(): number {
    return this.#swept;
  }

  /** Starts a sweep, or one more after the one running; resolves when they are done. */
  start(): Promise<void> {
    if (this.#running !== undefined) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#run().catch(() => {}).finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** Stops sweeping after the page in hand. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#running;
  }

  async #run(): Promise<void> {
    do {
      this.#again = false;
      for (const node of await this.#options.nodes()) await this.#sweep(node);
    } while (this.#again && !this.#closed);
  }

  async #sweep(node: ScannableNode): Promise<void> {
    const { keyPrefix, limits, pageSize = 200, pauseMs = 5 } = this.#options;
    let cursor = "0";
    do {
      if (this.#closed) return;
      const page = await node.scan(cursor, { MATCH: this.#match, COUNT: pageSize, TYPE: "list" });
      cursor = String(page.cursor);
      for (const key of page.keys) limits.pushed(key.slice(keyPrefix.length));
      this.#swept += page.keys.length;
      await limits.idle();
      if (cursor !== "0") await new Promise((resolve) => setTimeout(resolve, pauseMs));
    } while (cursor !== "0");
  }
}
