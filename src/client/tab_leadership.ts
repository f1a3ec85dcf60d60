/**
 * Which tab polls: of the tabs that share one uid's messages, one leads and
 * polls, and when it goes away another takes over. The Web Locks API
 * decides where there is one (the browser frees a closed or crashed tab's
 * lock at once); elsewhere an election over a `BroadcastChannel` does.
 *
 * @module
 */
import { leadWithChannel } from "./channel_leadership.ts";
import { leadWithLock, type Locks } from "./lock_leadership.ts";

/** Options of {@linkcode electLeader}. */
export interface LeadershipOptions {
  /** Names the group: of the candidates with the same name, one leads at a time. */
  readonly name: string;
  /**
   * Runs while this candidate leads; the leadership is given up once its
   * promise settles. `lost` aborts when the leadership is lost before
   * (the candidacy ended, or another leader turned up). `takeover` is true
   * when another candidate led before this one.
   */
  readonly lead: (lost: AbortSignal, takeover: boolean) => Promise<void>;
  /** Ends the candidacy, and the leadership if held. */
  readonly signal: AbortSignal;
}

/**
 * Enters the election of `options.name` as a candidate.
 *
 * @example
 * ```ts
 * import { electLeader } from "./tab_leadership.ts";
 * const stop = new AbortController();
 * const { promise, resolve } = Promise.withResolvers<boolean>();
 * electLeader({
 *   name: "example election",
 *   signal: stop.signal,
 *   lead: (lost, takeover) => {
 *     resolve(takeover);
 *     return new Promise((done) => lost.addEventListener("abort", () => done()));
 *   },
 * });
 * console.log(await promise); // false
 * stop.abort();
 * ```
 */
export function electLeader(options: LeadershipOptions): void {
  const locks = (globalThis.navigator as { locks?: Locks } | undefined)?.locks;
  if (locks === undefined) leadWithChannel(options);
  else leadWithLock(locks, options);
}
