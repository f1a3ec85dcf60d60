/**
 * Which tab polls: of the tabs that share one uid's messages, one leads and
 * polls, and when it goes away another takes over. The Web Locks API
 * decides where there is one (the browser frees a closed or crashed tab's
 * lock at once); elsewhere an election over a `BroadcastChannel` does.
 *
 * @module
 */
import { leadWithChannel } from "./channel_leadership.ts";
import type { LeadershipOptions } from "./leadership_options.ts";
import { leadWithLock, type Locks } from "./lock_leadership.ts";

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
