/**
 * Leader election with the Web Locks API: the leader holds a lock named
 * after the group; the others queue for it. The browser frees the lock of a
 * tab that closes or crashes, and hands it to the next in the queue at once.
 *
 * @module
 */
import type { LeadershipOptions } from "./leadership_options.ts";

/** The part of the Web Locks API's `LockManager` (`navigator.locks`) used here. */
export interface Locks {
  /** Runs `callback` while holding the lock `name`; it is freed once the callback's promise settles. */
  request(
    name: string,
    options: { ifAvailable?: boolean; signal?: AbortSignal },
    callback: (lock: object | null) => Promise<void> | undefined,
  ): Promise<unknown>;
}

/**
 * Leads while holding the lock `options.name` of `locks`; queues for it
 * while another holds it.
 *
 * @example
 * ```ts
 * import { leadWithLock, type Locks } from "./lock_leadership.ts";
 * const stop = new AbortController();
 * const led: string[] = [];
 * const candidate = (name: string) =>
 *   leadWithLock((navigator as unknown as { locks: Locks }).locks, {
 *     name: "example lock",
 *     signal: stop.signal,
 *     lead: (lost) => {
 *       led.push(name);
 *       return new Promise((done) => lost.addEventListener("abort", () => done()));
 *     },
 *   });
 * candidate("first");
 * candidate("second");
 * await new Promise((resolve) => setTimeout(resolve, 20));
 * console.log(led); // [ "first" ]
 * stop.abort();
 * ```
 */
export function leadWithLock(locks: Locks, options: LeadershipOptions): void {
  const { name, signal } = options;
  const ignore = () => {};
  // First without queueing, so a tab that finds no leader knows it takes over from nobody.
  locks.request(name, { ifAvailable: true }, (lock) => {
    if (lock !== null) return signal.aborted ? undefined : options.lead(signal, false);
    if (!signal.aborted) {
      locks.request(name, { signal }, () => options.lead(signal, true)).catch(ignore);
    }
    return undefined;
  }).catch(ignore);
}
