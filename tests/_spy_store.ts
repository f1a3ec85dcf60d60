/**
 * A {@linkcode MemoryStore} for tests: it records when each pop
 * happened (on the test's clock) and what it returned, counts the waiters
 * being watched, and can pause one pop after the real pop came back, to
 * force the "client left while its message was in flight" race.
 *
 * @example
 * ```ts
 * import { FakeClock } from "./_fake_clock.ts";
 * import { SpyStore } from "./_spy_store.ts";
 * const clock = new FakeClock();
 * const store = new SpyStore(clock);
 * await store.pop("42");
 * console.log(store.pops); // [{ uid: "42", at: 0, message: null }]
 * ```
 *
 * @module
 */
import { type Clock, MemoryStore, type Waiter } from "../mod.ts";

/** One pop seen by a {@linkcode SpyStore}. */
export interface PopRecord {
  /** The uid popped. */
  uid: string;
  /** When, in ms since the spy was created, on its clock. */
  at: number;
  /** What the pop returned. */
  message: string | null;
}

/**
 * A {@linkcode MemoryStore} that records the pops and watches going through
 * it. It extends the real store rather than wrapping it, so it keeps up with
 * every method the store interface gains.
 */
export class SpyStore extends MemoryStore {
  /** Every pop, in the order they started. */
  readonly pops: PopRecord[] = [];
  /** Messages pushed back, in order. */
  readonly pushedBack: { uid: string; message: string }[] = [];
  readonly #clock: Clock;
  readonly #start: number;
  readonly #watching = new Set<Waiter>();
  #gate: { paused: (message: string | null) => void; release: Promise<void> } | undefined;

  /** Creates an empty store reading times from `clock`. */
  constructor(clock: Clock) {
    super();
    this.#clock = clock;
    this.#start = clock.now();
  }

  /** Times (ms since creation) of every pop of `uid`. */
  popTimes(uid: string): number[] {
    return this.pops.filter((pop) => pop.uid === uid).map((pop) => pop.at);
  }

  /** Waiters currently watched through this store. */
  get watching(): number {
    return this.#watching.size;
  }

  /**
   * Pauses the next pop once the real pop has come back. `paused` resolves
   * with what it popped; the pop returns only after `release()`.
   */
  pauseNextPop(): { paused: Promise<string | null>; release: () => void } {
    let release!: () => void;
    let paused!: (message: string | null) => void;
    const pausedPromise = new Promise<string | null>((resolve) => (paused = resolve));
    const releasePromise = new Promise<void>((resolve) => (release = resolve));
    this.#gate = { paused, release: releasePromise };
    return { paused: pausedPromise, release };
  }

  override async pop(uid: string): Promise<string | null> {
    const record: PopRecord = { uid, at: this.#clock.now() - this.#start, message: null };
    this.pops.push(record);
    record.message = await super.pop(uid);
    const gate = this.#gate;
    if (gate !== undefined) {
      this.#gate = undefined;
      gate.paused(record.message);
      await gate.release;
    }
    return record.message;
  }

  override pushBack(uid: string, message: string): Promise<void> {
    this.pushedBack.push({ uid, message });
    return super.pushBack(uid, message);
  }

  override watch(uid: string, waiter: Waiter): void {
    this.#watching.add(waiter);
    super.watch(uid, waiter);
  }

  override unwatch(uid: string, waiter: Waiter): void {
    this.#watching.delete(waiter);
    super.unwatch(uid, waiter);
  }
}
