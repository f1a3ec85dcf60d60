/**
 * A fake {@linkcode Clock} for tests, so a 945 s hold runs in milliseconds
 * and every poll time can be asserted exactly.
 *
 * Time stands still until the test moves it with {@linkcode FakeClock.advance},
 * {@linkcode FakeClock.advanceTo}, {@linkcode FakeClock.next} or
 * {@linkcode FakeClock.runUntil}. Timers fire only then, in order of due time
 * (ties in order of creation), each with {@linkcode FakeClock.now} set to its
 * own due time. After each timer the event loop gets one real turn, so the
 * promise chains a timer starts (a store pop, a response) finish before the
 * next timer fires, and before `advance` returns.
 *
 * @example
 * ```ts
 * import { FakeClock } from "./fake_clock.ts";
 * const clock = new FakeClock();
 * const fired: number[] = [];
 * clock.setTimeout(() => fired.push(clock.elapsed), 15_000);
 * await clock.advance(20_000);
 * console.log(fired); // [15000]
 * ```
 *
 * @module
 */
import type { Clock } from "../src/clock.ts";

/**
 * Where a {@linkcode FakeClock} starts by default: 2023-11-14T22:13:20Z, a
 * round number of seconds (and of the timer wheel's 10 ms slots), so waits
 * land on exact times.
 */
export const FAKE_EPOCH = 1_700_000_000_000;

interface _Timer {
  readonly id: number;
  readonly due: number;
  readonly callback: () => void;
}

/** Options of {@linkcode FakeClock.runUntil}. */
export interface RunUntilOptions {
  /**
   * Most timers to fire before giving up with an error.
   * @default {10000}
   */
  limit?: number;
  /** What is awaited, for the error message. */
  what?: string;
}

/** A {@linkcode Clock} whose time moves only when the test says so. */
export class FakeClock implements Clock {
  /** The time the clock was created at, in ms since the epoch. */
  readonly start: number;
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, _Timer>();

  /** Creates a clock standing at `start` (ms since the epoch). */
  constructor(start: number = FAKE_EPOCH) {
    this.start = start;
    this.#now = start;
  }

  /** The current fake time, in ms since the epoch. */
  now(): number {
    return this.#now;
  }

  /** Milliseconds since the clock was created. */
  get elapsed(): number {
    return this.#now - this.start;
  }

  /** Schedules `callback` at `now() + ms`; a negative or NaN `ms` counts as 0. */
  setTimeout(callback: () => void, ms: number): number {
    const id = this.#nextId++;
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    this.#timers.set(id, { id, due: this.#now + delay, callback });
    return id;
  }

  /** Cancels a timer; unknown or already fired ids are ignored. */
  clearTimeout(id: unknown): void {
    this.#timers.delete(id as number);
  }

  /** Number of timers waiting to fire. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Due time of the earliest pending timer, or undefined when there is none. */
  get nextDue(): number | undefined {
    return this.#earliest()?.due;
  }

  /**
   * Moves time forward by `ms`, firing every timer due by then (including
   * those that the fired timers schedule within the window), in order.
   */
  advance(ms: number): Promise<void> {
    return this.advanceTo(this.#now + ms);
  }

  /** Moves time forward to `time` (ms since the epoch), like {@linkcode FakeClock.advance}. */
  async advanceTo(time: number): Promise<void> {
    if (time < this.#now) {
      throw new RangeError(`Cannot move the fake clock back from ${this.#now} to ${time}`);
    }
    await settle();
    for (;;) {
      const timer = this.#earliest();
      if (timer === undefined || timer.due > time) break;
      await this.#fire(timer);
    }
    this.#now = time;
    await settle();
  }

  /**
   * Jumps to the earliest pending timer and fires it. Resolves to false when
   * no timer is pending (time does not move then).
   */
  async next(): Promise<boolean> {
    await settle();
    const timer = this.#earliest();
    if (timer === undefined) return false;
    await this.#fire(timer);
    return true;
  }

  /**
   * Fires timers one by one, jumping time to each, until `predicate` holds.
   * Throws when no timer is left, or after `limit` timers, with the
   * predicate still false.
   */
  async runUntil(predicate: () => boolean, options: RunUntilOptions = {}): Promise<void> {
    const { limit = 10_000, what = "the condition" } = options;
    await settle();
    for (let fired = 0; !predicate(); fired++) {
      if (fired >= limit) {
        throw new Error(`Cannot reach ${what}: still false after ${limit} timers`);
      }
      if (!await this.next()) {
        throw new Error(
          `Cannot reach ${what}: no timer is pending at ${this.elapsed} ms on the fake clock`,
        );
      }
    }
  }

  #earliest(): _Timer | undefined {
    let earliest: _Timer | undefined;
    for (const timer of this.#timers.values()) {
      if (
        earliest === undefined || timer.due < earliest.due ||
        (timer.due === earliest.due && timer.id < earliest.id)
      ) earliest = timer;
    }
    return earliest;
  }

  async #fire(timer: _Timer): Promise<void> {
    this.#timers.delete(timer.id);
    this.#now = Math.max(this.#now, timer.due);
    timer.callback();
    await settle();
  }
}

/**
 * Lets the event loop run one real turn, so every promise chain that is
 * ready (microtasks, resolved store calls) runs to its next real wait.
 */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Lets the event loop run, turn by turn, until `predicate` holds: for work
 * that waits on the runtime rather than on timers, such as Web Crypto.
 * Throws after `turns` turns. It never depends on how fast the machine is,
 * only on the work finishing.
 */
export async function until(
  predicate: () => boolean,
  what = "the condition",
  turns = 2_000,
): Promise<void> {
  for (let turn = 0; !predicate(); turn++) {
    if (turn >= turns) throw new Error(`Cannot reach ${what}: still false after ${turns} turns`);
    await settle();
  }
}
