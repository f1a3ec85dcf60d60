import type { Clock } from "./clock.ts";
import type { Metrics } from "./metrics.ts";
import type { Delivery } from "./option_defaults.ts";
import { isLeased, type Taken } from "./outcome.ts";
import type { MessageStore } from "./store/types.ts";
import { StreamTaker } from "./stream_taker.ts";
import type { Taker, TakeSubject } from "./taker.ts";
import type { TimerTask, TimerWheel } from "./timer_wheel.ts";

/** Options of {@linkcode createTaker}. */
export interface TakerOptions {
  /** The store. */
  readonly store: MessageStore;
  /** Lease messages until acknowledged, instead of popping them. */
  readonly atLeastOnce: boolean;
  /** At-least-once: how long a client has to acknowledge, in milliseconds. */
  readonly leaseMs: number;
  /** At-least-once: most messages of a uid in flight. */
  readonly maxInFlight: number;
  /** The timers, for lease expiry. */
  readonly wheel: TimerWheel;
  /** The clock, for lease deadlines. */
  readonly clock: Clock;
  /** The counters (`pushedBack`, `redelivered`). */
  readonly metrics: Metrics;
  /**
   * `stream`: read each uid's history after the poll's cursor instead.
   * @default {"queue"}
   */
  readonly delivery?: Delivery;
  /** The cap on `max=`; in stream delivery, the entries of a read when the poll sets no `max`. */
  readonly maxBatch: number;
  /** Wakes the polls held for a uid, when one of its leases runs out. */
  readonly wake: (uid: string) => void;
}

/**
 * Makes the {@linkcode Taker} for a handler: plain pops (`pop`, `pushBack`),
 * at-least-once leases (`take`, `release`), which also wake a uid's held
 * polls when the earliest lease handed out here for it runs out, so the
 * message is delivered again, or in stream delivery reads after a cursor
 * (`readStream`), which consume nothing.
 *
 * @example
 * ```ts
 * import { createTaker } from "./leases.ts";
 * import { Metrics } from "./metrics.ts";
 * import { MemoryStore } from "./store/memory.ts";
 * import { TimerWheel } from "./timer_wheel.ts";
 * import { systemClock } from "./clock.ts";
 * const store = new MemoryStore();
 * const taker = createTaker({
 *   store,
 *   atLeastOnce: false,
 *   leaseMs: 60_000,
 *   maxInFlight: 16,
 *   maxBatch: 32,
 *   wheel: new TimerWheel(),
 *   clock: systemClock,
 *   metrics: new Metrics(),
 *   wake: () => {},
 * });
 * await store.publish("42", "hi");
 * console.log(await taker.take({ uid: "42", ack: undefined })); // hi
 * ```
 */
export function createTaker(options: TakerOptions): Taker {
  if (options.delivery === "stream") {
    return new StreamTaker(options.store, options.maxBatch);
  }
  return options.atLeastOnce ? new _LeaseTaker(options) : new _PopTaker(options);
}

class _PopTaker implements Taker {
  readonly #store: MessageStore;
  readonly #metrics: Metrics;

  constructor(options: TakerOptions) {
    this.#store = options.store;
    this.#metrics = options.metrics;
  }

  take({ uid, max }: TakeSubject): Promise<Taken | null> {
    if (max === undefined) return this.#store.pop(uid);
    return this.#store.popMany(uid, max).then((batch) => batch.length === 0 ? null : batch);
  }

  async giveBack(uid: string, taken: Taken): Promise<void> {
    // Newest first, so that the oldest is first in line again.
    const messages = typeof taken === "string" ? [taken] : [...taken as string[]].reverse();
    for (const message of messages) {
      await this.#store.pushBack(uid, message);
      this.#metrics.pushedBack++;
    }
  }

  delivered(): void {}
}

class _LeaseTaker implements Taker {
  readonly #options: TakerOptions;
  readonly #expiries = new Map<string, _LeaseExpiry>();

  constructor(options: TakerOptions) {
    this.#options = options;
  }

  take({ uid, ack, max }: TakeSubject): Promise<Taken | null> {
    const { store, leaseMs, maxInFlight, clock } = this.#options;
    return store.take(uid, {
      ack,
      leaseMs,
      maxInFlight,
      count: max,
      now: clock.now(),
      id: crypto.randomUUID(),
    });
  }

  async giveBack(uid: string, taken: Taken): Promise<void> {
    if (!isLeased(taken)) return;
    await this.#options.store.release(uid, taken.id);
    this.#options.metrics.pushedBack++;
  }

  delivered(uid: string, taken: Taken): void {
    if (isLeased(taken) && taken.deliveries > 1) this.#options.metrics.redelivered++;
    if (this.#expiries.has(uid)) return;
    const expiry = new _LeaseExpiry(uid, this);
    this.#expiries.set(uid, expiry);
    this.#options.wheel.schedule(expiry, this.#options.leaseMs);
  }

  expired(expiry: _LeaseExpiry): void {
    this.#expiries.delete(expiry.uid);
    this.#options.wake(expiry.uid);
  }
}

/**
 * One per uid at most, so memory follows the uids, not the deliveries; a
 * later lease of the same uid is picked up by that wake's pop, or at the
 * latest by the hold's next scheduled poll.
 */
class _LeaseExpiry implements TimerTask {
  _slot?: number;
  constructor(readonly uid: string, readonly owner: _LeaseTaker) {}
  onTimer(): void {
    this.owner.expired(this);
  }
}
