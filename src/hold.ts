import type { Backoff } from "./backoff.ts";
import type { LeasedMessage, Waiter } from "./store/types.ts";
import type { TimerTask, TimerWheel } from "./timer_wheel.ts";

/**
 * How a hold ended:
 * - `message`: a message was popped for a client still there;
 * - `timeout`: the next wait would exceed the maximum;
 * - `drain`: the server is shutting down;
 * - `superseded`: a newer poll of the same uid took its place;
 * - `gone`: the client left (any message popped meanwhile went back);
 * - `error`: the store failed on the first pop.
 */
export type HoldEnd = "message" | "timeout" | "drain" | "superseded" | "gone" | "error";

/** What a hold takes from the store: a message, or a leased one (at-least-once). */
export type Taken = string | LeasedMessage;

/**
 * What every hold of one handler shares: access to the store, the timers,
 * the schedule, and where the outcome goes.
 *
 * @example
 * ```ts
 * import type { HoldContext } from "./hold.ts";
 * import { exponentialBackoff } from "./backoff.ts";
 * import { MemoryStore } from "./store/memory.ts";
 * import { TimerWheel } from "./timer_wheel.ts";
 * const store = new MemoryStore();
 * const context: HoldContext = {
 *   take: (hold) => store.pop(hold.uid),
 *   giveBack: (hold, taken) => store.pushBack(hold.uid, taken as string),
 *   watch: (hold) => store.watch(hold.uid, hold),
 *   unwatch: (hold) => store.unwatch(hold.uid, hold),
 *   wheel: new TimerWheel(),
 *   backoff: exponentialBackoff({ base: 15_000 }),
 *   maxWaitMs: 900_000,
 *   settle: (_hold, end, message) => console.log(end, message),
 *   storeFailed: (error) => console.error(error),
 *   messageReturned: (uid) => console.log("returned a message of", uid),
 *   admit: () => undefined,
 * };
 * ```
 */
export interface HoldContext {
  /** Takes the hold's next message from the store, or null. */
  take(hold: Hold): Promise<Taken | null>;
  /** Returns a message taken for a client that has gone. */
  giveBack(hold: Hold, taken: Taken): Promise<void>;
  /** Starts waking `hold` when its uid may have a message. */
  watch(hold: Hold): void;
  /** Stops waking `hold`. */
  unwatch(hold: Hold): void;
  /** The shared timer for every hold's next scheduled poll. */
  readonly wheel: TimerWheel;
  /** Wait before scheduled poll number `attempt + 1`, in milliseconds. */
  readonly backoff: Backoff;
  /** The hold ends when the next wait would exceed this, in milliseconds. */
  readonly maxWaitMs: number;
  /** Receives the outcome, once per hold. */
  settle(hold: Hold, end: HoldEnd, payload?: string | unknown): void;
  /** Told about store failures that the hold rides out. */
  storeFailed(error: unknown): void;
  /** Told that a message popped for a departed client went back to its queue. */
  messageReturned(uid: string): void;
  /**
   * Asked once, when the first pop comes back empty: return undefined to
   * hold the poll, `"drain"` to end it with the stop code, or an error to
   * end it with that error.
   */
  admit(hold: Hold): "drain" | Error | undefined;
}

/**
 * One poll waiting for a message for one uid, on the seed's schedule: a pop
 * at once, then after each wait of the backoff (15, 30, 60… s), and a pop
 * whenever the store wakes it in between. It ends when the next wait would
 * exceed the maximum. A message popped after the client left goes back to
 * the head of the queue.
 *
 * @example
 * ```ts
 * import { Hold } from "./hold.ts";
 * import { exponentialBackoff } from "./backoff.ts";
 * import { MemoryStore } from "./store/memory.ts";
 * import { TimerWheel } from "./timer_wheel.ts";
 * const store = new MemoryStore();
 * const hold = new Hold({
 *   take: (hold) => store.pop(hold.uid),
 *   giveBack: (hold, taken) => store.pushBack(hold.uid, taken as string),
 *   watch: (hold) => store.watch(hold.uid, hold),
 *   unwatch: (hold) => store.unwatch(hold.uid, hold),
 *   wheel: new TimerWheel(),
 *   backoff: exponentialBackoff({ base: 15_000 }),
 *   maxWaitMs: 900_000,
 *   settle: (_hold, end, message) => console.log(end, message), // message hi
 *   storeFailed: () => {},
 *   messageReturned: () => {},
 *   admit: () => undefined,
 * }, "42");
 * hold.start();
 * await store.publish("42", "hi");
 * ```
 */
export class Hold implements Waiter, TimerTask, EventListenerObject {
  /** The uid this hold waits for. */
  readonly uid: string;
  /** @internal */
  _slot?: number;
  readonly #context: HoldContext;
  readonly #signal: AbortSignal | undefined;
  #attempt = 0;
  #popping = false;
  #wokenWhilePopping = false;
  #scheduledPollDue = false;
  #waiting = false;
  #draining = false;
  #superseded = false;
  #ended = false;

  /** Creates a hold; nothing happens until {@linkcode Hold.start}. */
  constructor(context: HoldContext, uid: string, signal?: AbortSignal) {
    this.#context = context;
    this.uid = uid;
    this.#signal = signal;
  }

  /** True once the first pop came back empty and the poll is being held. */
  get waiting(): boolean {
    return this.#waiting;
  }

  /** True once the outcome has been settled. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Watches the uid and makes the first pop; or, when the caller has made
   * that pop already and found nothing (`firstPop`), goes straight to
   * waiting, popping again only if a wake came in meanwhile.
   */
  start(firstPop?: { readonly woken: boolean }): void {
    if (this.#signal?.aborted) return this.#end("gone");
    this.#context.watch(this);
    this.#signal?.addEventListener("abort", this);
    this.#scheduledPollDue = true;
    if (firstPop === undefined) this.#poll();
    else {
      this.#wokenWhilePopping = firstPop.woken;
      this.#foundNothing();
    }
  }

  /** The store says a message may be there: pop now. */
  wake(): void {
    if (this.#ended || this.#draining) return;
    if (this.#popping) this.#wokenWhilePopping = true;
    else this.#poll();
  }

  /** The scheduled poll is due. */
  onTimer(): void {
    if (this.#ended || this.#draining) return;
    this.#scheduledPollDue = true;
    this.wake();
  }

  /** The client has gone (its request signal aborted). */
  handleEvent(): void {
    this.abandon();
  }

  /** The client has gone: stop polling; a message popped from now on goes back. */
  abandon(): void {
    if (!this.#ended) this.#end("gone");
  }

  /** Ends the hold with `superseded` (a newer poll of the uid replaces it). */
  supersede(): void {
    if (this.#ended) return;
    if (this.#popping) this.#superseded = true;
    else this.#end("superseded");
  }

  /**
   * Pops nothing more: the hold waits for {@linkcode Hold.drain} (a pop in
   * flight still delivers what it brings back).
   */
  stopPolling(): void {
    if (this.#ended) return;
    this.#draining = true;
    this.#context.wheel.cancel(this);
  }

  /** Ends the hold with `drain`, once any pop in flight has come back. */
  drain(): void {
    if (this.#ended) return;
    if (this.#popping) this.#draining = true;
    else this.#end("drain");
  }

  /** Pops once; a failure past the store (a bug) is reported, never left unhandled. */
  #poll(): void {
    this.#pollOnce().catch((error) => this.#context.storeFailed(error));
  }

  async #pollOnce(): Promise<void> {
    this.#popping = true;
    let message: Taken | null;
    try {
      message = await this.#context.take(this);
    } catch (error) {
      this.#popping = false;
      return this.#popFailed(error);
    }
    this.#popping = false;
    if (message !== null) {
      if (this.#ended) return this.#giveBack(message);
      return this.#end("message", message);
    }
    if (this.#ended) return;
    this.#foundNothing();
  }

  #foundNothing(): void {
    if (this.#draining) return this.#end("drain");
    if (this.#superseded) return this.#end("superseded");
    if (!this.#waiting) {
      const refusal = this.#context.admit(this);
      if (refusal === "drain") return this.#end("drain");
      if (refusal !== undefined) return this.#end("error", refusal);
      this.#waiting = true;
    }
    if (this.#wokenWhilePopping) {
      this.#wokenWhilePopping = false;
      return this.#poll();
    }
    if (this.#scheduledPollDue) this.#scheduleNext();
  }

  #popFailed(error: unknown): void {
    if (this.#ended) return;
    if (!this.#waiting) return this.#end("error", error);
    this.#context.storeFailed(error);
    if (this.#draining) return this.#end("drain");
    if (this.#scheduledPollDue) this.#scheduleNext();
  }

  #scheduleNext(): void {
    this.#scheduledPollDue = false;
    const wait = this.#context.backoff(this.#attempt++);
    if (wait > this.#context.maxWaitMs) return this.#end("timeout");
    this.#context.wheel.schedule(this, wait);
  }

  async #giveBack(taken: Taken): Promise<void> {
    try {
      await this.#context.giveBack(this, taken);
      this.#context.messageReturned(this.uid);
    } catch (error) {
      this.#context.storeFailed(error);
    }
  }

  #end(end: HoldEnd, payload?: unknown): void {
    this.#ended = true;
    this.#context.wheel.cancel(this);
    this.#context.unwatch(this);
    this.#signal?.removeEventListener("abort", this);
    this.#context.settle(this, end, payload);
  }
}
