import type { Presence, PresenceInfo } from "./presence.ts";
import type { TimerTask, TimerWheel } from "./timer_wheel.ts";

/** Options of {@linkcode LingeringPresence}. */
export interface LingeringPresenceOptions {
  /** How long a uid stays present after its last poll ends, in milliseconds. */
  readonly lingerMs: number;
  /** The wheel that tells when a linger is over. */
  readonly wheel: TimerWheel;
}

/**
 * Presence that keeps a uid present for a while after its last poll ends.
 * A long-polling client holds no poll between an answer and its next poll,
 * so without this a user reading messages would leave and enter again at
 * every message: the uid would flicker out for lookups, its "since" would
 * restart at each poll, and a shared presence would be written twice per
 * message. Here an exit is held back for `lingerMs`; a poll of the uid in
 * that time cancels it, and nothing is sent at all. The exits held back
 * when their time comes go out in one turn, so a presence that batches a
 * turn's exits sends them together.
 *
 * @example
 * ```ts
 * import { LingeringPresence } from "./presence_linger.ts";
 * import { MemoryPresence } from "./presence.ts";
 * import { TimerWheel } from "./timer_wheel.ts";
 * const wheel = new TimerWheel();
 * const presence = new LingeringPresence(new MemoryPresence(), { lingerMs: 50, wheel });
 * presence.enter("42", 1_700_000_000_000);
 * presence.leave("42");
 * presence.enter("42", 1_700_000_009_000); // back within the linger: still since the first
 * console.log(await presence.lookup("42")); // { present: true, since: 1700000000000 }
 * presence.leave("42");
 * await new Promise((resolve) => setTimeout(resolve, 100));
 * console.log(await presence.lookup("42")); // { present: false }
 * ```
 */
export class LingeringPresence implements Presence {
  readonly #inner: Presence;
  readonly #options: LingeringPresenceOptions;
  /** The exits held back, by uid. */
  readonly #lingering = new Map<string, _Exit>();

  /** Wraps `inner`, which hears of an exit only once its linger is over. */
  constructor(inner: Presence, options: LingeringPresenceOptions) {
    this.#inner = inner;
    this.#options = options;
  }

  enter(uid: string, since: number): void {
    const exit = this.#lingering.get(uid);
    if (exit === undefined) return this.#inner.enter(uid, since);
    this.#lingering.delete(uid);
    this.#options.wheel.cancel(exit);
  }

  leave(uid: string): void {
    const exit = new _Exit(uid, this.#expire);
    this.#lingering.set(uid, exit);
    this.#options.wheel.schedule(exit, this.#options.lingerMs);
  }

  lookup(uid: string): Promise<PresenceInfo> {
    return this.#inner.lookup(uid);
  }

  /** Sends every exit held back now, as a handler that stops holding polls should. */
  flush(): void {
    for (const exit of this.#lingering.values()) {
      this.#options.wheel.cancel(exit);
      this.#inner.leave(exit.uid);
    }
    this.#lingering.clear();
  }

  /** An exit's linger is over: the uid has not polled again. */
  readonly #expire = (exit: _Exit): void => {
    if (this.#lingering.get(exit.uid) !== exit) return;
    this.#lingering.delete(exit.uid);
    this.#inner.leave(exit.uid);
  };
}

/** One uid's exit, held back on the wheel. */
class _Exit implements TimerTask {
  _slot?: number;

  constructor(readonly uid: string, readonly expire: (exit: _Exit) => void) {}

  onTimer(): void {
    this.expire(this);
  }
}
