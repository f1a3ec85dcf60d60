import type { Waiter } from "./types.ts";

/**
 * The map from uid to the polls waiting on it, shared by the stores. A wake
 * costs one map lookup, whatever the number of polls held.
 *
 * @example
 * ```ts
 * import { WaiterRegistry } from "./waiters.ts";
 * const waiters = new WaiterRegistry();
 * waiters.add("42", { wake: () => console.log("woken") });
 * waiters.wake("42"); // logs "woken"
 * ```
 */
export class WaiterRegistry {
  readonly #byUid = new Map<string, Waiter | Set<Waiter>>();

  /** Number of uids with at least one waiter. */
  get uidCount(): number {
    return this.#byUid.size;
  }

  /** Adds `waiter` for `uid`. */
  add(uid: string, waiter: Waiter): void {
    const current = this.#byUid.get(uid);
    if (current === undefined) this.#byUid.set(uid, waiter);
    else if (current instanceof Set) current.add(waiter);
    else if (current !== waiter) this.#byUid.set(uid, new Set([current, waiter]));
  }

  /** Removes `waiter` for `uid`; unknown pairs are ignored. */
  delete(uid: string, waiter: Waiter): void {
    const current = this.#byUid.get(uid);
    if (current === waiter) this.#byUid.delete(uid);
    else if (current instanceof Set) {
      current.delete(waiter);
      if (current.size === 0) this.#byUid.delete(uid);
    }
  }

  /** True when `uid` has a waiter. */
  has(uid: string): boolean {
    return this.#byUid.has(uid);
  }

  /** Wakes every waiter of `uid`. */
  wake(uid: string): void {
    const current = this.#byUid.get(uid);
    if (current === undefined) return;
    if (current instanceof Set) { for (const waiter of [...current]) waiter.wake(); }
    else current.wake();
  }

  /** Wakes every waiter of the uids for which `check` holds, e.g. those on a new master. */
  wakeWhere(check: (uid: string) => boolean): void {
    for (const uid of [...this.#byUid.keys()]) if (check(uid)) this.wake(uid);
  }

  /** Wakes every waiter of every uid, e.g. after a gap in notifications. */
  wakeAll(): void {
    for (const uid of [...this.#byUid.keys()]) this.wake(uid);
  }
}
