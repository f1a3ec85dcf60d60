import type { Backoff } from "./backoff.ts";
import type { Taker, TakeSubject } from "./taker.ts";
import { type Outcome, PLAIN_OUTCOMES, type Taken } from "./outcome.ts";
import type { MessageStore, Waiter } from "./store/types.ts";
import { knownAnswerOrOutage } from "./store_failure.ts";
import type { TimerTask, TimerWheel } from "./timer_wheel.ts";

/** When a hold polls again, and when it gives up. */
export interface HoldSchedule {
  /** Wait before scheduled poll number `attempt + 1`, in milliseconds. */
  readonly backoff: Backoff;
  /** The hold ends when the next wait would exceed this, in milliseconds. */
  readonly maxWaitMs: number;
}

/**
 * What a hold depends on: taking messages, hearing about them, its timers
 * and its schedule. Shared by every hold of a handler.
 */
export interface HoldDeps {
  /** Takes and gives back messages. */
  readonly taker: Taker;
  /** Wakes the hold when its uid may have a message. */
  readonly store: Pick<MessageStore, "watch" | "unwatch">;
  /** The shared timer of every hold's next scheduled poll. */
  readonly wheel: TimerWheel;
  /** The schedule. */
  readonly schedule: HoldSchedule;
  /** Told how the store's operations went: failures the hold rides out, and successes. */
  readonly storeHealth: {
    /** An operation failed. */
    failed(error: unknown): void;
    /** An operation succeeded. */
    succeeded(): void;
  };
}

/** What a hold waits for: a uid, and what the client asked of the hold. */
export interface HoldSubject extends TakeSubject {
  /** The longest hold the client waits for, in milliseconds. */
  readonly waitMs: number | undefined;
}

/**
 * One poll held for one uid, after its first pop found nothing. It pops
 * whenever the store wakes it, and on the schedule (15, 30, 60… s after
 * the start by default) as a safety net, until it resolves to an
 * {@linkcode Outcome}: a message, the end of the schedule or of the
 * client's `wait`, a drain, a newer poll of the uid, the client leaving, or
 * an error. A message taken after the client left goes back to the head of
 * the queue.
 *
 * @example
 * ```ts
 * import { Hold } from "./hold.ts";
 * import { exponentialBackoff } from "./backoff.ts";
 * import { createTaker } from "./leases.ts";
 * import { Metrics } from "./metrics.ts";
 * import { MemoryStore } from "./store/memory.ts";
 * import { TimerWheel } from "./timer_wheel.ts";
 * import { systemClock } from "./clock.ts";
 * const store = new MemoryStore();
 * const wheel = new TimerWheel();
 * const taker = createTaker({
 *   store,
 *   atLeastOnce: false,
 *   leaseMs: 60_000,
 *   maxInFlight: 16,
 *   maxBatch: 32,
 *   wheel,
 *   clock: systemClock,
 *   metrics: new Metrics(),
 *   wake: () => {},
 * });
 * const hold = new Hold({
 *   taker,
 *   store,
 *   wheel,
 *   schedule: { backoff: exponentialBackoff({ base: 15_000 }), maxWaitMs: 900_000 },
 *   storeHealth: { failed: console.error, succeeded: () => {} },
 * }, { uid: "42", ack: undefined, waitMs: undefined });
 * const outcome = hold.start({ woken: false });
 * await store.publish("42", "hi");
 * console.log(await outcome); // { end: "message", taken: "hi" }
 * ```
 */
export class Hold implements Waiter, TimerTask, EventListenerObject {
  /** What the hold waits for. */
  readonly subject: HoldSubject;
  /** @internal */
  _slot?: number;
  /** When the hold started, by `performance.now()`. */
  readonly startedAt: number = performance.now();
  /** When the store last woke it, by `performance.now()`; undefined if never. */
  wokenAt: number | undefined;
  readonly #deps: HoldDeps;
  readonly #signal: AbortSignal | undefined;
  #resolve: ((outcome: Outcome) => void) | undefined;
  #attempt = 0;
  #deadline = Infinity;
  #popping = false;
  #wokenWhilePopping = false;
  #timerDue = false;
  #stopping = false;
  #superseded = false;
  #ended = false;

  /** Creates a hold; nothing happens until {@linkcode Hold.start}. */
  constructor(deps: HoldDeps, subject: HoldSubject, signal?: AbortSignal) {
    this.#deps = deps;
    this.subject = subject;
    this.#signal = signal;
  }

  /**
   * Starts holding: watches the uid and schedules the next poll. `firstPop`
   * says whether a wake came in while the caller's first pop was out, in
   * which case it pops again at once.
   */
  start(firstPop: { readonly woken: boolean }): Promise<Outcome> {
    const outcome = new Promise<Outcome>((resolve) => (this.#resolve = resolve));
    if (this.#signal?.aborted) {
      this.#end(PLAIN_OUTCOMES.gone);
      return outcome;
    }
    const { store, wheel } = this.#deps;
    store.watch(this.subject.uid, this);
    this.#signal?.addEventListener("abort", this);
    if (this.subject.waitMs !== undefined) {
      this.#deadline = wheel.clock.now() + this.subject.waitMs;
    }
    this.#timerDue = true;
    if (firstPop.woken) this.#poll();
    else this.#foundNothing(false);
    return outcome;
  }

  /** The store says a message may be there: pop now (during a drain: end at once). */
  wake(): void {
    if (this.#ended) return;
    this.wokenAt = performance.now();
    this.#popSoon();
  }

  #popSoon(): void {
    if (this.#stopping) return this.drain();
    if (this.#popping) this.#wokenWhilePopping = true;
    else this.#poll();
  }

  /** The scheduled poll is due. */
  onTimer(): void {
    if (this.#ended) return;
    if (this.#deps.wheel.clock.now() >= this.#deadline) return this.#end(PLAIN_OUTCOMES.timeout);
    this.#timerDue = true;
    this.#popSoon();
  }

  /** The client has gone (its request signal aborted). */
  handleEvent(): void {
    this.abandon();
  }

  /** The client has gone: stop polling; a message taken from now on goes back. */
  abandon(): void {
    if (!this.#ended) this.#end(PLAIN_OUTCOMES.gone);
  }

  /** Ends the hold as superseded: a newer poll of the uid replaces it. */
  supersede(): void {
    if (this.#ended) return;
    if (this.#popping) this.#superseded = true;
    else this.#end(PLAIN_OUTCOMES.superseded);
  }

  /**
   * Pops nothing more on the schedule: the hold waits for
   * {@linkcode Hold.drain}, or ends at once when woken, since its message
   * is better taken by another process.
   */
  stopPolling(): void {
    if (this.#ended) return;
    this.#stopping = true;
    this.#deps.wheel.cancel(this);
  }

  /** Ends the hold with `drain`, once a pop in flight has come back. */
  drain(): void {
    if (this.#ended) return;
    this.#stopping = true;
    if (!this.#popping) this.#end(PLAIN_OUTCOMES.drain);
  }

  /** Pops once; a failure past the store (a bug) is reported, never left unhandled. */
  #poll(): void {
    this.#pollOnce().catch((error) => this.#deps.storeHealth.failed(error));
  }

  async #pollOnce(): Promise<void> {
    this.#popping = true;
    let taken: Taken | null;
    try {
      taken = await this.#deps.taker.take(this.subject);
    } catch (error) {
      this.#popping = false;
      if (this.#ended) return;
      // An error that knows its answer (a key of the wrong type, say) ends the
      // hold with it; any other is an outage the hold rides out.
      const known = knownAnswerOrOutage(error, this.#deps.storeHealth);
      if (known !== undefined) return this.#end({ end: "error", error: known });
      return this.#foundNothing(false);
    }
    this.#popping = false;
    this.#deps.storeHealth.succeeded();
    if (taken !== null) {
      if (this.#ended) return this.#giveBack(taken);
      return this.#end({ end: "message", taken });
    }
    if (!this.#ended) this.#foundNothing(true);
  }

  #foundNothing(popAgainIfWoken: boolean): void {
    if (this.#stopping) return this.#end(PLAIN_OUTCOMES.drain);
    if (this.#superseded) return this.#end(PLAIN_OUTCOMES.superseded);
    if (this.#wokenWhilePopping && popAgainIfWoken) {
      this.#wokenWhilePopping = false;
      return this.#poll();
    }
    this.#wokenWhilePopping = false;
    if (this.#timerDue) this.#scheduleNext();
  }

  #scheduleNext(): void {
    this.#timerDue = false;
    const { wheel, schedule } = this.#deps;
    const wait = schedule.backoff(this.#attempt++);
    if (wait > schedule.maxWaitMs) return this.#end(PLAIN_OUTCOMES.timeout);
    const untilDeadline = this.#deadline - wheel.clock.now();
    wheel.schedule(this, Math.min(wait, untilDeadline));
  }

  async #giveBack(taken: Taken): Promise<void> {
    try {
      await this.#deps.taker.giveBack(this.subject.uid, taken);
    } catch (error) {
      this.#deps.storeHealth.failed(error);
    }
  }

  #end(outcome: Outcome): void {
    this.#ended = true;
    const { wheel, store } = this.#deps;
    wheel.cancel(this);
    store.unwatch(this.subject.uid, this);
    this.#signal?.removeEventListener("abort", this);
    this.#resolve!(outcome);
  }
}
