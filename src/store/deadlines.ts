/**
 * Deadlines for store commands: a command not answered in time fails, and
 * what it brings back later is handed to a callback, so it can be undone.
 * One interval timer serves every command in flight, not a timer each.
 *
 * @module
 */

interface _Pending {
  readonly startedAt: number;
  readonly fail: () => void;
  late: boolean;
}

const CHECK_EVERY_MS = 100;

/**
 * Runs commands under one deadline.
 *
 * @example
 * ```ts
 * import { Deadlines } from "./deadlines.ts";
 * const deadlines = new Deadlines({ timeoutMs: 50, what: "the store" });
 * const slow = new Promise<string>((resolve) => setTimeout(() => resolve("late"), 300));
 * try {
 *   await deadlines.run("pop", () => slow, (value) => console.log("came back:", value));
 * } catch (error) {
 *   console.log((error as Error).message); // Cannot pop: the store did not answer within 50 ms
 * }
 * await slow;
 * deadlines.close();
 * ```
 */
export class Deadlines {
  readonly #timeoutMs: number;
  readonly #what: string;
  readonly #pending = new Set<_Pending>();
  #timer: ReturnType<typeof setInterval> | undefined;

  /** `what` names the store in the error message, such as "Redis". */
  constructor(options: { timeoutMs: number; what: string }) {
    this.#timeoutMs = options.timeoutMs;
    this.#what = options.what;
  }

  /**
   * Runs `command`; rejects once `timeoutMs` pass without an answer. A value
   * that comes back after that goes to `onLate`, and a late failure is
   * dropped, since the caller was told already.
   */
  run<T>(action: string, command: () => Promise<T>, onLate?: (value: T) => void): Promise<T> {
    return new Promise((resolve, reject) => {
      const pending: _Pending = {
        startedAt: Date.now(),
        late: false,
        fail: () =>
          reject(
            new Error(
              `Cannot ${action}: ${this.#what} did not answer within ${this.#timeoutMs} ms`,
            ),
          ),
      };
      this.#track(pending);
      command().then(
        (value) => {
          this.#pending.delete(pending);
          if (!pending.late) resolve(value);
          else onLate?.(value);
        },
        (error) => {
          this.#pending.delete(pending);
          if (!pending.late) reject(error);
        },
      );
    });
  }

  /** Stops the timer; commands still in flight keep their promises. */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #track(pending: _Pending): void {
    this.#pending.add(pending);
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#expire(), CHECK_EVERY_MS);
  }

  #expire(): void {
    const now = Date.now();
    for (const pending of this.#pending) {
      if (pending.late || now - pending.startedAt < this.#timeoutMs) continue;
      pending.late = true;
      pending.fail();
    }
    if (this.#pending.size === 0) this.close();
  }
}
