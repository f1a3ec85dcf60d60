/**
 * A spy on any store, for tests: it records when each pop or take happened
 * (on the test's clock) and what it returned, the messages pushed back and
 * the waiters being watched, and can pause one pop or take after the real
 * one came back, to force the "client left while its message was in
 * flight" race. Everything else goes to the store untouched, so a spy on a
 * {@linkcode MemoryStore} still answers `size`, and a spy keeps up with
 * every method the store interface gains.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "../src/store/memory.ts";
 * import { FakeClock } from "./fake_clock.ts";
 * import { spyOn } from "./spy_store.ts";
 * const store = spyOn(new MemoryStore(), new FakeClock());
 * await store.publish("42", "hi");
 * await store.pop("42");
 * console.log(store.pops); // [{ uid: "42", at: 0, message: "hi" }]
 * console.log(store.size("42")); // 0
 * ```
 *
 * @module
 */
import { type Clock, systemClock } from "../src/clock.ts";
import type { LeasedMessage, MessageStore, TakeOptions, Waiter } from "../src/store/types.ts";

/** One pop or take seen by a spy. */
export interface PopRecord {
  /** The uid popped. */
  uid: string;
  /** When, in ms since the spy was created, on its clock. */
  at: number;
  /** What the pop returned (for a take, the message taken). */
  message: string | null;
}

/** What a spy adds to the store it watches. */
export interface StoreSpy {
  /** Every pop and take, in the order they started. */
  readonly pops: PopRecord[];
  /** Messages pushed back, in order. */
  readonly pushedBack: { uid: string; message: string }[];
  /** Waiters currently watched through the spy. */
  readonly watching: number;
  /** Times (ms since creation) of every pop of `uid`. */
  popTimes(uid: string): number[];
  /**
   * Pauses the next pop or take once the real one has come back. `paused`
   * resolves with what it popped; the pop returns only after `release()`.
   */
  pauseNextPop(): { paused: Promise<string | null>; release: () => void };
}

/** A store of type `S` with a {@linkcode StoreSpy} on it. */
export type SpiedStore<S extends MessageStore> = S & StoreSpy;

/**
 * Puts a spy on `store`, timing its pops on `clock`.
 *
 * @param clock The clock pop times are read from. @default {systemClock}
 */
export function spyOn<S extends MessageStore>(store: S, clock: Clock = systemClock): SpiedStore<S> {
  const spy = new _Spy(store, clock);
  return new Proxy(store, {
    get(target, key) {
      if (key in spy) {
        const own = Reflect.get(spy, key, spy);
        return typeof own === "function" ? own.bind(spy) : own;
      }
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as SpiedStore<S>;
}

/** The spy's own state and the store methods it listens to. */
class _Spy implements StoreSpy {
  readonly pops: PopRecord[] = [];
  readonly pushedBack: { uid: string; message: string }[] = [];
  readonly #store: MessageStore;
  readonly #clock: Clock;
  readonly #start: number;
  readonly #watching = new Set<Waiter>();
  #gate: { paused: (message: string | null) => void; release: Promise<void> } | undefined;

  constructor(store: MessageStore, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
    this.#start = clock.now();
  }

  get watching(): number {
    return this.#watching.size;
  }

  popTimes(uid: string): number[] {
    return this.pops.filter((pop) => pop.uid === uid).map((pop) => pop.at);
  }

  pauseNextPop(): { paused: Promise<string | null>; release: () => void } {
    let release!: () => void;
    let paused!: (message: string | null) => void;
    const pausedPromise = new Promise<string | null>((resolve) => (paused = resolve));
    const releasePromise = new Promise<void>((resolve) => (release = resolve));
    this.#gate = { paused, release: releasePromise };
    return { paused: pausedPromise, release };
  }

  pop(uid: string): Promise<string | null> {
    return this.#record(uid, () => this.#store.pop(uid), (message) => message);
  }

  take(uid: string, options: TakeOptions): Promise<LeasedMessage | null> {
    return this.#record(uid, () => this.#store.take(uid, options), (leased) => leased?.message);
  }

  pushBack(uid: string, message: string): Promise<void> {
    this.pushedBack.push({ uid, message });
    return this.#store.pushBack(uid, message);
  }

  watch(uid: string, waiter: Waiter): void {
    this.#watching.add(waiter);
    this.#store.watch(uid, waiter);
  }

  unwatch(uid: string, waiter: Waiter): void {
    this.#watching.delete(waiter);
    this.#store.unwatch(uid, waiter);
  }

  /** Records one pop or take, and holds it at the gate if one is set. */
  async #record<T>(
    uid: string,
    run: () => Promise<T>,
    messageOf: (result: T) => string | null | undefined,
  ): Promise<T> {
    const record: PopRecord = { uid, at: this.#clock.now() - this.#start, message: null };
    this.pops.push(record);
    const result = await run();
    record.message = messageOf(result) ?? null;
    const gate = this.#gate;
    if (gate !== undefined) {
      this.#gate = undefined;
      gate.paused(record.message);
      await gate.release;
    }
    return result;
  }
}
