/**
 * Whether a uid holds a poll now, and since when.
 *
 * @example
 * ```ts
 * import type { PresenceInfo } from "@longpoll/redis-longpoll";
 * const info: PresenceInfo = { present: true, since: 0 };
 * console.log(info.present); // true
 * ```
 */
export interface PresenceInfo {
  /** True while at least one poll of the uid is held, in any process. */
  readonly present: boolean;
  /** Since when, in milliseconds since the epoch (the earliest process's). */
  readonly since?: number;
}

/**
 * Where held polls are announced, so producers can ask whether a user is
 * connected right now (to fall back to a mobile push or an email when not).
 * The handler calls `enter` when a uid's first poll in this process is held
 * and `leave` once its last one has ended and `presenceLinger` has passed
 * without a new one: one call per transition, never on a hit's path.
 *
 * @example
 * ```ts
 * import { MemoryPresence } from "./presence.ts";
 * const presence = new MemoryPresence();
 * presence.enter("42", 1_700_000_000_000);
 * console.log(await presence.lookup("42")); // { present: true, since: 1700000000000 }
 * presence.leave("42");
 * console.log(await presence.lookup("42")); // { present: false }
 * ```
 */
export interface Presence {
  /** The first poll of `uid` in this process is held, since `since` (ms since the epoch). */
  enter(uid: string, since: number): void;
  /** The last poll of `uid` in this process ended, and no new one came within the linger. */
  leave(uid: string): void;
  /** Whether `uid` holds a poll now, in any process sharing this presence. */
  lookup(uid: string): Promise<PresenceInfo>;
}

/**
 * Presence within one process: what the in-memory store's server knows.
 *
 * @example
 * ```ts
 * import { MemoryPresence } from "./presence.ts";
 * const presence = new MemoryPresence();
 * console.log(await presence.lookup("42")); // { present: false }
 * ```
 */
export class MemoryPresence implements Presence {
  readonly #since = new Map<string, number>();

  enter(uid: string, since: number): void {
    this.#since.set(uid, since);
  }

  leave(uid: string): void {
    this.#since.delete(uid);
  }

  lookup(uid: string): Promise<PresenceInfo> {
    const since = this.#since.get(uid);
    return Promise.resolve(since === undefined ? { present: false } : { present: true, since });
  }
}
