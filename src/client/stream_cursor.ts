/**
 * Where a client is in its uid's stream: the id of the last message the
 * page handled, kept in `sessionStorage` under `longpoll:<uid>:since` so a
 * reload resumes after it, with no loss and no duplicate.
 *
 * @module
 */
import { compareStreamIds, parseStreamId, type StreamId } from "../stream_id.ts";

/** The part of the Web Storage API a cursor uses. */
export interface CursorStorage {
  /** The value under `key`, or null. */
  getItem(key: string): string | null;
  /** Keeps `value` under `key`. */
  setItem(key: string, value: string): void;
}

/** A client's place in its uid's stream. */
export interface StreamCursor {
  /** The id of the last message handled, or of the history's newest after a reset; undefined: from now. */
  readonly last: string | undefined;
  /** True when `id` comes after {@linkcode StreamCursor.last} (or nothing was handled yet). */
  isNew(id: string): boolean;
  /** Moves on to `id` when it comes after where the cursor is. */
  advance(id: string): void;
  /** Moves to `id` even backwards: after a reset, the history's newest id. */
  reset(id: string): void;
}

/**
 * Opens the cursor of `uid` kept in `storage` (the page's `sessionStorage`
 * by default). A stored value that is not a stream id is ignored, and a
 * storage that throws (a sandboxed frame, a full quota) only loses the
 * resume after a reload.
 *
 * @example
 * ```ts
 * import { openStreamCursor } from "./stream_cursor.ts";
 * const cursor = openStreamCursor("42", sessionStorage);
 * cursor.advance("1733300000000-0");
 * cursor.advance("1733299999999-5"); // older: ignored
 * console.log(cursor.last, sessionStorage.getItem("longpoll:42:since")); // 1733300000000-0 1733300000000-0
 * console.log(openStreamCursor("42", sessionStorage).isNew("1733300000000-0")); // false
 * ```
 */
export function openStreamCursor(uid: string, storage?: CursorStorage): StreamCursor {
  const key = `longpoll:${uid}:since`;
  const store = storage ?? _sessionStorage();
  let last: string | undefined;
  try {
    const stored = store?.getItem(key) ?? undefined;
    if (stored !== undefined && _read(stored) !== undefined) last = stored;
  } catch {
    // no storage here: no resume after a reload
  }
  const save = (id: string) => {
    last = id;
    try {
      store?.setItem(key, id);
    } catch {
      // as above
    }
  };
  return {
    get last() {
      return last;
    },
    isNew: (id) => _isAfter(id, last),
    advance(id) {
      if (_isAfter(id, last)) save(id);
    },
    reset: save,
  };
}

/** The page's `sessionStorage`, or undefined where it is missing or refused. */
function _sessionStorage(): CursorStorage | undefined {
  try {
    return (globalThis as { sessionStorage?: CursorStorage }).sessionStorage;
  } catch {
    return undefined;
  }
}

/** True when `id` comes after `last`, or nothing came yet; false when `id` is not a stream id. */
function _isAfter(id: string, last: string | undefined): boolean {
  const read = _read(id);
  if (read === undefined) return false;
  return last === undefined || compareStreamIds(read, _read(last)!) > 0;
}

function _read(id: string): StreamId | undefined {
  try {
    return parseStreamId(id, "since");
  } catch {
    return undefined;
  }
}
