/**
 * A seeded pseudo-random number generator for tests that draw their input at
 * random: the same seed gives the same draws, so a failing run can be
 * replayed from the seed it printed.
 *
 * @module
 */

/**
 * Mulberry32: 32 bits of state, fast, and good enough to pick test inputs
 * (not for anything secret).
 *
 * @example
 * ```ts
 * import { Prng } from "./prng.ts";
 * const a = new Prng(42);
 * const b = new Prng(42);
 * console.log(a.next() === b.next()); // true
 * console.log(a.int(10) < 10, ["x", "y"].includes(a.pick(["x", "y"]))); // true true
 * ```
 */
export class Prng {
  #state: number;

  /** Starts from `seed` (any number; only its low 32 bits count). */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A number in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A whole number in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A whole number in [low, high], both included. */
  range(low: number, high: number): number {
    return low + this.int(high - low + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One of `items`, each as likely. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** Shuffles `items` in place (Fisher-Yates). */
  shuffle<T>(items: T[]): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
  }

  /** Calls one of the makers, picked with probability in proportion to its weight. */
  weighted<T>(choices: readonly (readonly [weight: number, make: () => T])[]): T {
    const total = choices.reduce((sum, [weight]) => sum + weight, 0);
    let roll = this.next() * total;
    for (const [weight, make] of choices) {
      if ((roll -= weight) < 0) return make();
    }
    return choices[choices.length - 1][1]();
  }
}
