import type { Clock } from "./clock.ts";
import { HttpError } from "./http_error.ts";
import type { Presence } from "./presence.ts";

/** A held poll, or a Server-Sent Events stream, as the registry sees it. */
export interface HeldPoll {
  /** What it waits for. */
  readonly subject: { readonly uid: string };
  /** Ends it: a newer poll of the same uid took its place. */
  supersede(): void;
  /** Stops its scheduled polls, ahead of a drain. */
  stopPolling(): void;
  /** Ends it with the stop code. */
  drain(): void;
  /** Pops now: its uid may have a message. */
  wake(): void;
}

/** Options of {@linkcode HeldPolls}. */
export interface HeldPollsOptions {
  /** Most polls held at once; more are refused with 503. */
  readonly maxHeld: number;
  /** Most polls held at once per uid; a newer one supersedes the oldest. */
  readonly maxPollsPerUid: number;
  /**
   * Stream delivery: most polls and streams held at once per uid, each a
   * device; one more is refused with 429 by {@linkcode HeldPolls.checkRoom},
   * and none supersedes another. `maxPollsPerUid` is then unused.
   */
  readonly maxStreamsPerUid?: number;
  /** `Retry-After` of the 503 answer, as sent. */
  readonly retryAfter: string;
  /** Told the number held after every change. */
  readonly onCount: (held: number) => void;
  /** Told when a uid's first poll is held and when its last one ends. */
  readonly presence?: Presence;
  /** The clock, for the time a uid's first poll was held. */
  readonly clock: Clock;
}

/**
 * The registry of held polls, apart from the polls themselves: how many are
 * held, which are held per uid, the caps on both, and a drain that spreads
 * the stop answers over a window.
 *
 * @example
 * ```ts
 * import { HeldPolls } from "./held_polls.ts";
 * import { systemClock } from "./clock.ts";
 * const polls = new HeldPolls({
 *   maxHeld: 10,
 *   maxPollsPerUid: 1,
 *   retryAfter: "1",
 *   onCount: (held) => console.log("held", held),
 *   clock: systemClock,
 * });
 * const poll = {
 *   subject: { uid: "42" },
 *   supersede: () => console.log("superseded"),
 *   stopPolling: () => {},
 *   drain: () => {},
 *   wake: () => {},
 * };
 * polls.add(poll); // held 1
 * polls.add({ ...poll, supersede: () => {} }); // superseded, held 2
 * ```
 */
export class HeldPolls<P extends HeldPoll = HeldPoll> {
  readonly #options: HeldPollsOptions;
  /** A uid's one poll as it is, the usual case; its polls in order, oldest first, when several. */
  readonly #byUid = new Map<string, P | P[]>();
  #size = 0;
  #drained: (() => void) | undefined;

  /** Creates an empty registry. */
  constructor(options: HeldPollsOptions) {
    this.#options = options;
  }

  /** Polls held right now. */
  get size(): number {
    return this.#size;
  }

  /**
   * Throws a 503 {@linkcode HttpError} when one more poll would pass
   * `maxHeld`, and a 429 when one more of `uid` would pass
   * `maxStreamsPerUid`.
   */
  checkRoom(uid: string): void {
    if (this.#size >= this.#options.maxHeld) {
      throw new HttpError(503, "Cannot poll: the server holds too many polls", {
        "Retry-After": this.#options.retryAfter,
      });
    }
    const { maxStreamsPerUid } = this.#options;
    const held = this.#byUid.get(uid);
    const count = held === undefined ? 0 : Array.isArray(held) ? held.length : 1;
    if (maxStreamsPerUid !== undefined && count >= maxStreamsPerUid) {
      throw new HttpError(
        429,
        `Cannot hold: "uid" already has ${maxStreamsPerUid} streams open (MAX_STREAMS_PER_UID)`,
        { "Retry-After": this.#options.retryAfter },
      );
    }
  }

  /**
   * Adds `poll`; the oldest polls of its uid beyond `maxPollsPerUid` are
   * superseded, unless `maxStreamsPerUid` is set.
   */
  add(poll: P): void {
    this.#options.onCount(++this.#size);
    const uid = poll.subject.uid;
    const held = this.#byUid.get(uid);
    if (held === undefined) {
      this.#byUid.set(uid, poll);
      this.#options.presence?.enter(uid, this.#options.clock.now());
      return;
    }
    const siblings = Array.isArray(held) ? held : [held];
    siblings.push(poll);
    if (siblings !== held) this.#byUid.set(uid, siblings);
    if (this.#options.maxStreamsPerUid !== undefined) return;
    // The oldest go first; each leaves the list as it settles.
    for (const older of siblings.slice(0, siblings.length - this.#options.maxPollsPerUid)) {
      older.supersede();
    }
  }

  /** Removes `poll`, once it has its outcome; a poll not held is ignored. */
  delete(poll: P): void {
    const uid = poll.subject.uid;
    const held = this.#byUid.get(uid);
    if (held === poll) {
      this.#byUid.delete(uid);
      this.#options.presence?.leave(uid);
    } else {
      const index = Array.isArray(held) ? held.indexOf(poll) : -1;
      if (index === -1) return;
      const siblings = held as P[];
      siblings.splice(index, 1);
      if (siblings.length === 1) this.#byUid.set(uid, siblings[0]);
    }
    this.#options.onCount(--this.#size);
    if (this.#size === 0) this.#drained?.();
  }

  /** Wakes the polls held for `uid`. */
  wake(uid: string): void {
    const held = this.#byUid.get(uid);
    if (held === undefined) return;
    if (!Array.isArray(held)) return held.wake();
    // A copy: a wake may end any of them.
    for (const poll of [...held]) poll.wake();
  }

  /**
   * Stops every held poll's schedule, then ends them with the stop code,
   * spread over `windowMs` so clients don't all come back at once. Resolves
   * once none is held.
   */
  drain(windowMs: number, clock: Clock): Promise<void> {
    const held = [...this.#byUid.values()].flat() as P[];
    const done = held.length === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => (this.#drained = resolve));
    for (const poll of held) poll.stopPolling();
    _spread(held, windowMs, clock);
    return done;
  }
}

function _spread(polls: readonly HeldPoll[], windowMs: number, clock: Clock): void {
  if (windowMs <= 0 || polls.length <= 1) {
    for (const poll of polls) poll.drain();
    return;
  }
  const start = clock.now();
  let next = 0;
  const step = () => {
    const due = Math.ceil((polls.length * (clock.now() - start + 10)) / windowMs);
    for (; next < Math.min(due, polls.length); next++) polls[next].drain();
    if (next < polls.length) clock.setTimeout(step, 10);
  };
  step();
}
