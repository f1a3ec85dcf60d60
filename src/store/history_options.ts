/**
 * The bounds of a uid's history in stream delivery, shared by the stores:
 * how many messages it keeps, and how long it lives after its last one.
 *
 * @module
 */
import { parseStreamId, type StreamId } from "../stream_id.ts";
import type { StreamReadOptions } from "./types.ts";

/**
 * Options of a store's history (`new MemoryStore({ history })`,
 * `new RedisStore({ history })`): a store made with one delivers by
 * stream, keeping each uid's messages for every reader of the uid.
 *
 * @example
 * ```ts
 * import { type HistoryOptions, MemoryStore } from "@longpoll/redis-longpoll";
 * const history: HistoryOptions = { max: 1000, ttlSeconds: 86_400 };
 * await new MemoryStore({ history }).close();
 * ```
 */
export interface HistoryOptions {
  /** Most messages kept per uid: each new one beyond it drops the oldest (`HISTORY_MAX`). */
  readonly max: number;
  /** Seconds a uid's history lives after its last message (`HISTORY_TTL`). */
  readonly ttlSeconds: number;
}

/**
 * The range of each history option, whole numbers from `min` to `max`:
 * the stores check them, and so do the settings `HISTORY_MAX` and
 * `HISTORY_TTL`.
 *
 * @example
 * ```ts
 * import { HISTORY_RANGES } from "./history_options.ts";
 * console.log(HISTORY_RANGES.max); // { min: 1, max: 1000000 }
 * ```
 */
export const HISTORY_RANGES: Readonly<
  Record<keyof HistoryOptions, { readonly min: number; readonly max: number }>
> = Object.freeze({
  max: { min: 1, max: 1_000_000 },
  ttlSeconds: { min: 1, max: 31_536_000 },
});

/**
 * `history` when each option is a whole number in its range; throws a
 * RangeError naming the first one out of it, and the store (`owner`).
 *
 * @example
 * ```ts
 * import { checkHistory } from "./history_options.ts";
 * console.log(checkHistory({ max: 10, ttlSeconds: 60 }, "MemoryStore")); // { max: 10, ttlSeconds: 60 }
 * try {
 *   checkHistory({ max: 0, ttlSeconds: 60 }, "MemoryStore");
 * } catch (error) {
 *   console.log((error as Error).message);
 *   // Cannot create MemoryStore: "history.max" must be a whole number from 1 to 1000000, got 0
 * }
 * ```
 */
export function checkHistory(history: HistoryOptions, owner: string): HistoryOptions {
  for (const name of ["max", "ttlSeconds"] as const) {
    const value = history[name];
    const { min, max } = HISTORY_RANGES[name];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(
        `Cannot create ${owner}: "history.${name}" must be a whole number from ${min} to ${max}, got ${value}`,
      );
    }
  }
  return { max: history.max, ttlSeconds: history.ttlSeconds };
}

/**
 * The cursor of `options`, read (undefined: from now; `"start"` for `0`,
 * all that is kept), once its count is
 * checked: throws a RangeError on a count that is not a whole number of
 * at least 1, and a TypeError on a cursor that is not a stream id.
 *
 * @example
 * ```ts
 * import { cursorOf } from "./history_options.ts";
 * console.log(cursorOf({ after: "0", count: 10 }), cursorOf({ after: undefined, count: 1 })); // start undefined
 * try {
 *   cursorOf({ after: "0-0", count: 0 });
 * } catch (error) {
 *   console.log((error as Error).message); // Cannot read a stream: "count" must be a whole number of at least 1, got 0
 * }
 * ```
 */
export function cursorOf(options: StreamReadOptions): StreamId | "start" | undefined {
  if (!Number.isInteger(options.count) || options.count < 1) {
    throw new RangeError(
      `Cannot read a stream: "count" must be a whole number of at least 1, got ${options.count}`,
    );
  }
  if (options.after === undefined) return undefined;
  return options.after === "0" ? "start" : parseStreamId(options.after, "after");
}
