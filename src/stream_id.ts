/**
 * Stream ids, the cursors of stream delivery: `<ms>-<seq>` as Redis stream
 * ids are written (decimal, no sign, no leading zeros but a lone `0`, each
 * part at most 15 digits), or `0` for the start. Read here for `since` and
 * `Last-Event-ID`, and by the stores for `after`.
 *
 * @module
 */

/**
 * A stream id read into its two parts.
 *
 * @example
 * ```ts
 * import type { StreamId } from "./stream_id.ts";
 * const id: StreamId = { ms: 1733300000000, seq: 0 };
 * console.log(id.ms); // 1733300000000
 * ```
 */
export interface StreamId {
  /** Milliseconds since the epoch, when the entry was added (as the store's clock had it). */
  readonly ms: number;
  /** The entry's place among those of the same millisecond. */
  readonly seq: number;
}

/**
 * The id before every entry: a cursor at it reads the whole history kept.
 *
 * @example
 * ```ts
 * import { START_ID } from "./stream_id.ts";
 * console.log(START_ID); // 0-0
 * ```
 */
export const START_ID = "0-0";

const _ID = /^(?:0|[1-9]\d{0,14})-(?:0|[1-9]\d{0,14})$/;

/**
 * Reads `text` as a stream id (`0` is `0-0`, the start); `source` names
 * where it came from in the TypeError thrown when it is not one.
 *
 * @example
 * ```ts
 * import { parseStreamId } from "./stream_id.ts";
 * console.log(parseStreamId("1733300000000-2", "since")); // { ms: 1733300000000, seq: 2 }
 * try {
 *   parseStreamId("01-2", "Last-Event-ID");
 * } catch (error) {
 *   console.log((error as Error).message);
 *   // Cannot read "Last-Event-ID": expected a stream id such as "1733300000000-0", or 0 for the start
 * }
 * ```
 */
export function parseStreamId(text: string, source: string): StreamId {
  if (text === "0") return { ms: 0, seq: 0 };
  if (!_ID.test(text)) {
    throw new TypeError(
      `Cannot read "${source}": expected a stream id such as "1733300000000-0", or 0 for the start`,
    );
  }
  const dash = text.indexOf("-");
  return { ms: Number(text.slice(0, dash)), seq: Number(text.slice(dash + 1)) };
}

/**
 * Writes `id` as `<ms>-<seq>`.
 *
 * @example
 * ```ts
 * import { formatStreamId } from "./stream_id.ts";
 * console.log(formatStreamId({ ms: 1733300000000, seq: 1 })); // 1733300000000-1
 * ```
 */
export function formatStreamId(id: StreamId): string {
  return `${id.ms}-${id.seq}`;
}

/**
 * Orders two ids: below 0 when `a` comes first, 0 when equal, above 0 when
 * `a` comes after `b`.
 *
 * @example
 * ```ts
 * import { compareStreamIds } from "./stream_id.ts";
 * const [a, b] = [{ ms: 5, seq: 10 }, { ms: 6, seq: 0 }];
 * console.log(compareStreamIds(a, b) < 0, compareStreamIds(b, b)); // true 0
 * ```
 */
export function compareStreamIds(a: StreamId, b: StreamId): number {
  return a.ms !== b.ms ? a.ms - b.ms : a.seq - b.seq;
}
