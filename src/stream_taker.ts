import type { Taker, TakeSubject } from "./taker.ts";
import type { Taken } from "./outcome.ts";
import type { MessageStore } from "./store/types.ts";

/**
 * The {@linkcode Taker} of stream delivery: a take reads the uid's history
 * after the poll's cursor (moving what waits in its queue into it first),
 * and consumes nothing, so there is nothing to give back. A read that
 * finds nothing takes nothing, and a read from now learns its cursor: the
 * poll then holds on the newest id, so what comes after it is delivered.
 *
 * @example
 * ```ts
 * import { StreamTaker } from "./stream_taker.ts";
 * import { isStreamRead } from "./outcome.ts";
 * import { MemoryStore } from "./store/memory.ts";
 * const store = new MemoryStore({ history: { max: 100, ttlSeconds: 60 } });
 * const taker = new StreamTaker(store, 32);
 * const poll = { uid: "42", ack: undefined, since: undefined as string | undefined };
 * console.log(await taker.take(poll), poll.since); // null 0-0
 * await store.publish("42", "hi");
 * const read = await taker.take(poll);
 * console.log(read !== null && isStreamRead(read) ? read.entries[0].message : read); // hi
 * ```
 */
export class StreamTaker implements Taker {
  readonly #store: MessageStore;
  readonly #maxBatch: number;

  /**
   * Reads `store`'s histories (it has `readStream`), at most `maxBatch`
   * entries at once when the poll sets no `max`.
   */
  constructor(store: MessageStore, maxBatch: number) {
    this.#store = store;
    this.#maxBatch = maxBatch;
  }

  /** Reads after `subject.since`: the entries or a reset, else null (and the cursor learned). */
  async take(subject: TakeSubject): Promise<Taken | null> {
    const read = await this.#store.readStream!(subject.uid, {
      after: subject.since,
      count: subject.max ?? this.#maxBatch,
    });
    if (read.reset || read.entries.length > 0) return read;
    subject.since = read.next;
    return null;
  }

  /** Nothing to give back: reading consumed nothing. */
  giveBack(): Promise<void> {
    return Promise.resolve();
  }

  /** Nothing to record: the next poll's cursor acknowledges. */
  delivered(): void {}
}
