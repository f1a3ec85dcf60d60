/**
 * One uid's history in the memory store: its entries oldest first, their
 * ids, and what the reset rule needs to know of the ones it dropped.
 *
 * @module
 */
import type { StreamEntry, StreamRead } from "./types.ts";
import { compareStreamIds, formatStreamId, START_ID, type StreamId } from "../stream_id.ts";

/**
 * What {@linkcode EntryLog.read} reads: after which id (undefined for from
 * now), how many entries and how many bytes at most (the first entry
 * always goes).
 *
 * @example
 * ```ts
 * import type { EntryLogRead } from "./entry_log.ts";
 * const read: EntryLogRead = { after: { ms: 0, seq: 0 }, count: 10, maxBytes: 65_536 };
 * console.log(read.count); // 10
 * ```
 */
export interface EntryLogRead {
  /** The cursor; `"start"` for all that is kept; undefined to read from now. */
  readonly after: StreamId | "start" | undefined;
  /** Most entries to read. */
  readonly count: number;
  /** Most bytes of messages to read, the first entry aside. */
  readonly maxBytes: number;
}

/**
 * A uid's entries, with ids `<ms>-<seq>` that grow strictly even when the
 * clock stands still or goes back, as Redis makes them for `XADD *`. A log
 * is made for its first entry and dropped when it expires. Once it trimmed
 * entries, a cursor older than the newest one trimmed is a reset, and so is
 * `0-0`; before, a cursor older than its first entry (from a log that
 * expired) is. A cursor newer than the newest entry is a reset too.
 *
 * @example
 * ```ts
 * import { EntryLog } from "./entry_log.ts";
 * const log = new EntryLog();
 * log.append("a", 5, 1);
 * log.append("b", 5, 1);
 * log.append("c", 4, 1); // the clock went back: still after 5-1
 * console.log(log.trimTo(2), log.newest); // 1 5-2
 * const after = { ms: 5, seq: 1 };
 * console.log(log.read({ after, count: 10, maxBytes: 100 }).entries); // [ { id: "5-2", message: "c" } ]
 * console.log(log.read({ after: { ms: 4, seq: 9 }, count: 10, maxBytes: 100 }).reset); // true
 * ```
 */
export class EntryLog {
  #entries: (_Entry | undefined)[] = [];
  #head = 0;
  #last: StreamId = { ms: 0, seq: 0 };
  /** The newest entry trimmed, once one is. */
  #lost: StreamId | undefined;

  /** Number of entries kept. */
  get length(): number {
    return this.#entries.length - this.#head;
  }

  /** The newest entry's id. */
  get newest(): string {
    return this.length === 0 ? START_ID : formatStreamId(this.#last);
  }

  /** Appends `message` of `bytes` bytes at time `now`; returns its id. */
  append(message: string, now: number, bytes: number): string {
    this.#last = now > this.#last.ms ? { ms: now, seq: 0 } : {
      ms: this.#last.ms,
      seq: this.#last.seq + 1,
    };
    const id = formatStreamId(this.#last);
    this.#entries.push({ id: this.#last, entry: { id, message }, bytes });
    return id;
  }

  /** Drops the oldest entries beyond `max`; returns how many. */
  trimTo(max: number): number {
    const dropped = Math.max(0, this.length - max);
    for (let i = 0; i < dropped; i++) {
      this.#lost = this.#entries[this.#head]!.id;
      this.#entries[this.#head++] = undefined;
    }
    if (this.#head >= 1024 && this.#head * 2 >= this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    return dropped;
  }

  /**
   * The entries after `read.after`, by the reset rule: `"start"` reads
   * every entry kept, never a reset; a cursor at `0-0` reads every entry,
   * unless some were trimmed; one older than what the log may have lost, or
   * newer than its newest entry, is a reset.
   */
  read(read: EntryLogRead): StreamRead {
    const { after } = read;
    if (after === undefined) return { entries: [], next: this.newest, reset: false };
    if (after === "start") {
      return this.#readFrom(this.#head, read.count, read.maxBytes, this.newest);
    }
    const fromStart = after.ms === 0 && after.seq === 0;
    const floor = this.#lost ?? this.#entries[this.#head]?.id;
    const reset = fromStart ? this.#lost !== undefined : floor === undefined ||
      compareStreamIds(after, this.#last) > 0 || compareStreamIds(after, floor) < 0;
    if (reset) return { entries: [], next: this.newest, reset: true };
    return this.#readFrom(
      this.#firstAfter(after),
      read.count,
      read.maxBytes,
      formatStreamId(after),
    );
  }

  /** Up to `count` entries from index `first`, within `maxBytes`; `next` says where to go on when none. */
  #readFrom(first: number, count: number, maxBytes: number, orNext: string): StreamRead {
    const entries: StreamEntry[] = [];
    let bytes = 0;
    for (let i = first; i < this.#entries.length; i++) {
      const record = this.#entries[i]!;
      if (entries.length === count) break;
      if (entries.length > 0 && bytes + record.bytes > maxBytes) break;
      entries.push(record.entry);
      bytes += record.bytes;
    }
    return { entries, next: entries.at(-1)?.id ?? orNext, reset: false };
  }

  /** The index of the first kept entry with an id after `after` (binary search). */
  #firstAfter(after: StreamId): number {
    let low = this.#head;
    let high = this.#entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareStreamIds(this.#entries[middle]!.id, after) <= 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/**
 * A read of a uid with no history: from now or from the start, nothing
 * and no reset; any other cursor is a reset, as its entries are gone.
 *
 * @example
 * ```ts
 * import { readWithoutLog } from "./entry_log.ts";
 * const read = readWithoutLog({ after: { ms: 7, seq: 0 }, count: 1, maxBytes: 1 });
 * console.log(read); // { entries: [], next: "0-0", reset: true }
 * ```
 */
export function readWithoutLog(read: EntryLogRead): StreamRead {
  const { after } = read;
  return {
    entries: [],
    next: START_ID,
    reset: after !== undefined && after !== "start" && (after.ms > 0 || after.seq > 0),
  };
}

interface _Entry {
  readonly id: StreamId;
  readonly entry: StreamEntry;
  readonly bytes: number;
}
