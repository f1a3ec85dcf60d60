/**
 * The queue limits a store applies after pushes it only hears about (a
 * producer's own `LPUSH`), with bounded work in flight.
 *
 * @module
 */

/** Options of {@linkcode PushLimitsQueue}. */
export interface PushLimitsQueueOptions {
  /** Applies the limits to one uid's queue; a failure is the caller's to report or ignore. */
  readonly apply: (uid: string) => Promise<void>;
  /**
   * Most uids whose limits are being applied at once: enough to keep up
   * with the pushes one Redis takes (256 applied 259,000 TTLs in 6 s; 64
   * had not within 8 s), few enough that a flood costs a set of uids, not commands.
   * @default {256}
   */
  readonly maxInFlight?: number;
}

/**
 * Applies the limits of each uid that was pushed to, at most `maxInFlight`
 * at a time. A uid pushed to again before its turn is applied once; one
 * pushed to while its limits are being applied is applied once more after,
 * so the last push always counts. A flood of pushes to many uids then costs
 * a set of uids waiting, not a command each: at 300,000 pushes in a second,
 * one command each took the process from 120 MiB to 1.5 GiB.
 *
 * @example
 * ```ts
 * import { PushLimitsQueue } from "./push_limits_queue.ts";
 * const applied: string[] = [];
 * const queue = new PushLimitsQueue({
 *   apply: (uid) => Promise.resolve(void applied.push(uid)),
 *   maxInFlight: 1,
 * });
 * queue.pushed("a");
 * queue.pushed("b");
 * queue.pushed("b");
 * await queue.idle();
 * console.log(applied); // [ "a", "b" ]
 * ```
 */
export class PushLimitsQueue {
  readonly #apply: (uid: string) => Promise<void>;
  readonly #maxInFlight: number;
  /** Uids whose limits are due, oldest push first. */
  readonly #due = new Set<string>();
  readonly #inFlight = new Set<string>();
  #whenIdle: (() => void) | undefined;

  /** Creates an empty queue. */
  constructor(options: PushLimitsQueueOptions) {
    this.#apply = options.apply;
    this.#maxInFlight = options.maxInFlight ?? 256;
  }

  /** Says that `uid` was pushed to: its limits are applied soon. */
  pushed(uid: string): void {
    this.#due.add(uid);
    this.#next();
  }

  /** Resolves once nothing is due or in flight. */
  idle(): Promise<void> {
    if (this.#due.size === 0 && this.#inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const before = this.#whenIdle;
      this.#whenIdle = () => {
        before?.();
        resolve();
      };
    });
  }

  #next(): void {
    for (const uid of this.#due) {
      if (this.#inFlight.size >= this.#maxInFlight) return;
      // In flight already: it goes again once that is done.
      if (this.#inFlight.has(uid)) continue;
      this.#due.delete(uid);
      this.#inFlight.add(uid);
      this.#apply(uid).catch(() => {}).finally(() => {
        this.#inFlight.delete(uid);
        this.#next();
        if (this.#due.size === 0 && this.#inFlight.size === 0) this.#settled();
      });
    }
  }

  #settled(): void {
    const whenIdle = this.#whenIdle;
    this.#whenIdle = undefined;
    whenIdle?.();
  }
}
