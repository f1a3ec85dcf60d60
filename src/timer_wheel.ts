import { type Clock, systemClock } from "./clock.ts";
import { clampTimerDelay } from "./timer_delay.ts";

/**
 * Something a {@linkcode TimerWheel} can fire. The wheel stores its own
 * bookkeeping on the task, so scheduling allocates no closure.
 *
 * @example
 * ```ts
 * import type { TimerTask } from "./timer_wheel.ts";
 * const task: TimerTask = { onTimer: () => console.log("due") };
 * ```
 */
export interface TimerTask {
  /** Called once when the task is due. */
  onTimer(): void;
  /** @internal The slot the task sits in, or undefined while unscheduled. */
  _slot?: number;
}

/** Options of {@linkcode TimerWheel}. */
export interface TimerWheelOptions {
  /**
   * The time source and native timer.
   * @default {systemClock}
   */
  clock?: Clock;
  /**
   * Width of one slot in milliseconds: tasks due within the same slot fire
   * together, at most this late.
   * @default {10}
   */
  resolution?: number;
}

/**
 * Schedules many tasks on a single native timer. Tasks are grouped into
 * slots of `resolution` ms; only the earliest slot holds a runtime timer, so
 * 19,000 held polls cost one timer, not 19,000.
 *
 * @example
 * ```ts
 * import { TimerWheel } from "./timer_wheel.ts";
 * const wheel = new TimerWheel();
 * wheel.schedule({ onTimer: () => console.log("fired") }, 5);
 * await new Promise((resolve) => setTimeout(resolve, 30)); // logs "fired"
 * ```
 */
export class TimerWheel {
  readonly #clock: Clock;
  readonly #resolution: number;
  readonly #slots = new Map<number, Set<TimerTask>>();
  readonly #heap: number[] = [];
  #armedSlot = Infinity;
  #armedId: unknown = undefined;

  /** Creates an empty wheel. */
  constructor(options: TimerWheelOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#resolution = options.resolution ?? 10;
  }

  /** The clock this wheel reads. */
  get clock(): Clock {
    return this.#clock;
  }

  /** Number of tasks waiting to fire. */
  get size(): number {
    let size = 0;
    for (const slot of this.#slots.values()) size += slot.size;
    return size;
  }

  /** Fires `task.onTimer()` once, `delayMs` from now (rounded up to the slot). */
  schedule(task: TimerTask, delayMs: number): void {
    this.cancel(task);
    const now = this.#clock.now();
    // Never the slot being fired, so a task that reschedules itself cannot spin.
    const slot = Math.max(
      Math.ceil((now + Math.max(0, delayMs)) / this.#resolution),
      Math.floor(now / this.#resolution) + 1,
    );
    let tasks = this.#slots.get(slot);
    if (tasks === undefined) {
      tasks = new Set();
      this.#slots.set(slot, tasks);
      _heapPush(this.#heap, slot);
    }
    tasks.add(task);
    task._slot = slot;
    if (slot < this.#armedSlot) this.#arm(slot);
  }

  /** Unschedules `task`; a task that is not scheduled is left alone. */
  cancel(task: TimerTask): void {
    const slot = task._slot;
    if (slot === undefined) return;
    task._slot = undefined;
    const tasks = this.#slots.get(slot);
    if (tasks === undefined) return;
    tasks.delete(task);
    if (tasks.size === 0) this.#slots.delete(slot);
    // The last task gone: release the native timer, so nothing outlives the holds.
    if (this.#slots.size === 0) this.clear();
  }

  /** Drops every task and the native timer. */
  clear(): void {
    for (const tasks of this.#slots.values()) for (const task of tasks) task._slot = undefined;
    this.#slots.clear();
    this.#heap.length = 0;
    this.#disarm();
  }

  #arm(slot: number): void {
    this.#disarm();
    this.#armedSlot = slot;
    // A far slot (a long lease or wait) is reached in steps of the longest delay a timer takes.
    const delay = clampTimerDelay(slot * this.#resolution - this.#clock.now());
    this.#armedId = this.#clock.setTimeout(() => this.#fire(), delay);
  }

  #disarm(): void {
    if (this.#armedId !== undefined) this.#clock.clearTimeout(this.#armedId);
    this.#armedId = undefined;
    this.#armedSlot = Infinity;
  }

  #fire(): void {
    this.#armedId = undefined;
    this.#armedSlot = Infinity;
    const current = Math.floor(this.#clock.now() / this.#resolution);
    const heap = this.#heap;
    while (heap.length > 0 && heap[0] <= current) {
      const slot = _heapPop(heap);
      const tasks = this.#slots.get(slot);
      if (tasks === undefined) continue;
      this.#slots.delete(slot);
      for (const task of tasks) {
        if (task._slot !== slot) continue;
        task._slot = undefined;
        task.onTimer();
      }
    }
    while (heap.length > 0 && !this.#slots.has(heap[0])) _heapPop(heap);
    if (heap.length > 0 && heap[0] < this.#armedSlot) this.#arm(heap[0]);
  }
}

function _heapPush(heap: number[], value: number): void {
  let index = heap.push(value) - 1;
  while (index > 0) {
    const parent = (index - 1) >> 1;
    if (heap[parent] <= value) break;
    heap[index] = heap[parent];
    index = parent;
  }
  heap[index] = value;
}

function _heapPop(heap: number[]): number {
  const top = heap[0];
  const last = heap.pop()!;
  if (heap.length === 0) return top;
  let index = 0;
  for (;;) {
    const left = 2 * index + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const child = right < heap.length && heap[right] < heap[left] ? right : left;
    if (heap[child] >= last) break;
    heap[index] = heap[child];
    index = child;
  }
  heap[index] = last;
  return top;
}
