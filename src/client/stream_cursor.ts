/**
 * Where a client is in its uid's stream: the id of the last message the
 * page handled, kept in `sessionStorage` under `longpoll:<uid>:since` so a
 * reload resumes after it, with no loss and no duplicate. Stream ids are
 * `<ms>-<seq>`, compared as two numbers.
 *
 * @module
 */

/** Matches a stream id as cursors carry it: `<ms>-<seq>`, each part at most 15 digits. */
const _STREAM_ID = /^(0|[1-9]\d{0,14})-(0|[1-9]\d{0,14})$/;

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
 * Compares two stream ids: negative when `a` comes first, 0 when equal,
 * positive when `a` comes after; NaN when either is not a stream id.
 *
 * @example
 * ```ts
 * import { compareStreamIds } from "./stream_cursor.ts";
 * console.log(compareStreamIds("1733300000000-9", "1733300000001-0") < 0); // true
 * console.log(compareStreamIds("5-10", "5-9") > 0, compareStreamIds("5-0", "x")); // true NaN
 * ```
 */
export function compareStreamIds(a: string, b: string): number {
  const [, aMs, aSeq] = _STREAM_ID.exec(a) ?? [];
  const [, bMs, bSeq] = _STREAM_ID.exec(b) ?? [];
  if (aMs === undefined || bMs === undefined) return NaN;
  return Number(aMs) - Number(bMs) || Number(aSeq) - Number(bSeq);
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
    if (stored !== undefined && _STREAM_ID.test(stored)) last = stored;
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
    isNew: (id) => last === undefined || compareStreamIds(id, last) > 0,
    advance(id) {
      if (last === undefined || compareStreamIds(id, last) > 0) save(id);
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
