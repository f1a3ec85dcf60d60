/**
 * What a candidate of a tab election brings: the group's name, what to run
 * while it leads, and when its candidacy ends. Every way of electing a
 * leader (`electLeader`, and the Web Locks and `BroadcastChannel` ways it
 * picks from) takes these.
 *
 * @example
 * ```ts
 * import type { LeadershipOptions } from "./leadership_options.ts";
 * const stop = new AbortController();
 * const options: LeadershipOptions = {
 *   name: "inbox of 42",
 *   signal: stop.signal,
 *   lead: (lost) => new Promise((done) => lost.addEventListener("abort", () => done())),
 * };
 * console.log(options.name); // inbox of 42
 * ```
 */
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
