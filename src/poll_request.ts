import { clip, HttpError } from "./http_error.ts";
import { callbackProblem } from "./jsonp.ts";
import type { ResolvedOptions } from "./options.ts";
import { requestTarget } from "./request_target.ts";
import { formatStreamId, parseStreamId } from "./stream_id.ts";
import { validateUid } from "./uid.ts";

/** A poll, as read from its request: plain values, no `Request` or `URL`. */
export interface PollRequest {
  /** The uid whose queue is polled. */
  readonly uid: string;
  /** `sign`, as given. */
  readonly sign: string | null;
  /** `exp`, as given. */
  readonly exp: string | null;
  /** The JSONP callback, or null for a plain JSON answer. */
  readonly callback: string | null;
  /** The CORS origin to allow in the answer, or null. */
  readonly cors: string | null;
  /** At-least-once: the delivery id this poll acknowledges. */
  readonly ack: string | undefined;
  /** The longest hold the client waits for, in milliseconds, or undefined. */
  readonly waitMs: number | undefined;
  /** Most messages in one answer (`max=`, capped by `maxBatch`), or undefined for one. */
  readonly max: number | undefined;
  /** True for HEAD: check the request, consume nothing. */
  readonly headOnly: boolean;
  /**
   * Stream delivery: the cursor to read after (`0-0` for the history
   * kept), or undefined to read from now; a poll from now learns its
   * cursor at its first read, which sets it here.
   */
  since?: string;
}

/** What the responder needs to answer a request that failed before it was read. */
export interface AnswerFormat {
  /** The JSONP callback, once known to be valid. */
  callback: string | null;
  /** The CORS origin to allow. */
  cors: string | null;
  /** `max=`: every delivery is a JSON array. */
  max?: number;
  /**
   * Stream delivery: the poll's cursor, once known; the stop answer
   * carries it as `next`.
   */
  since?: string;
}

/** The methods a poll route allows, for `Allow` headers. */
export const POLL_METHODS = "GET, HEAD, OPTIONS";

/** The format of an answer outside a poll: plain JSON, no JSONP, no CORS. */
export const PLAIN_FORMAT: AnswerFormat = Object.freeze({ callback: null, cors: null });

const ACK_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const WAIT_PATTERN = /^\d{1,6}(\.\d{1,3})?$/;

/**
 * Reads a poll from its request, or throws the {@linkcode HttpError} that
 * says what is wrong: 405 for a method other than GET and HEAD, 414 for an
 * overlong query, 400 for a bad uid, callback, ack, wait or cursor, for a
 * cursor in queue delivery, and for `ack` in stream delivery. `format` is
 * filled in as soon as the callback is known, so the error can be answered
 * through JSONP.
 *
 * @example
 * ```ts
 * import { parsePollRequest } from "./poll_request.ts";
 * import { resolveOptions } from "./options.ts";
 * import { MemoryStore } from "./store/memory.ts";
 * const options = resolveOptions({ store: new MemoryStore() });
 * const format = { callback: null, cors: null };
 * const poll = parsePollRequest(new Request("http://x/?uid=42&jsonCallback=cb"), {
 *   options,
 *   format,
 * });
 * console.log(poll.uid, poll.callback, format.callback); // 42 cb cb
 * ```
 */
export function parsePollRequest(
  request: Request,
  context: {
    readonly options: ResolvedOptions;
    readonly format: AnswerFormat;
    /** The query, when the caller has read the request target already. */
    readonly query?: string;
    /**
     * Stream delivery: `Last-Event-ID` (what a reconnecting EventSource
     * sends), which wins over `since` when not empty.
     */
    readonly lastEventId?: string | null;
  },
): PollRequest {
  const { options, format } = context;
  const method = request.method;
  if (method !== "GET" && method !== "HEAD") {
    throw new HttpError(405, `Cannot poll with method "${clip(method)}": use GET`, {
      Allow: POLL_METHODS,
    });
  }
  const query = _queryOf(context.query ?? requestTarget(request).query, options.maxQueryLength);
  const { params } = options;
  const callback = query.get(params.callback);
  if (callback !== null) {
    const problem = callbackProblem(callback);
    if (problem !== undefined) {
      throw new HttpError(400, `Cannot poll: "${params.callback}" ${problem}`);
    }
    format.callback = callback;
  }
  const uid = validateUid(query.get(params.uid), {
    name: params.uid,
    maxBytes: options.maxUidBytes,
  });
  return {
    uid,
    sign: query.get(params.sign),
    exp: query.get(params.exp),
    callback,
    cors: format.cors,
    ack: options.atLeastOnce ? _ackOf(query.get(params.ack), params.ack) : undefined,
    waitMs: _waitOf(query.get(params.wait), params.wait),
    max: _maxOf(query.get(params.max), { name: params.max, cap: options.maxBatch }),
    headOnly: method === "HEAD",
    since: _cursorOf(query, { options, lastEventId: context.lastEventId }),
  };
}

/**
 * Reads `text` as a cursor of stream delivery, or throws a 400
 * {@linkcode HttpError} naming `source`: the id as the stores take it, or
 * `0`, which reads all that the history keeps.
 *
 * @example
 * ```ts
 * import { readCursor } from "./poll_request.ts";
 * console.log(readCursor("0", "since"), readCursor("1733300000000-2", "since")); // 0 1733300000000-2
 * try {
 *   readCursor("-1", "since");
 * } catch (error) {
 *   console.log((error as Error).message);
 *   // Cannot read "since": expected a stream id such as "1733300000000-0", or 0 for the start
 * }
 * ```
 */
export function readCursor(text: string, source: string): string {
  if (text === "0") return text;
  try {
    return formatStreamId(parseStreamId(text, source));
  } catch (error) {
    throw new HttpError(400, (error as Error).message);
  }
}

/**
 * The poll's cursor: `Last-Event-ID` when given, else `since`; `since` in
 * queue delivery and `ack` in stream delivery are refused.
 */
function _cursorOf(
  query: URLSearchParams,
  { options, lastEventId }: { options: ResolvedOptions; lastEventId?: string | null },
): string | undefined {
  const { params } = options;
  const since = query.get(params.since);
  if (options.delivery !== "stream") {
    if (since === null) return undefined;
    throw new HttpError(400, `Cannot read "${params.since}": cursors need DELIVERY=stream`);
  }
  if (query.has(params.ack)) {
    throw new HttpError(
      400,
      `Cannot read "${params.ack}": stream delivery acknowledges by cursor ("${params.since}")`,
    );
  }
  if (lastEventId !== undefined && lastEventId !== null && lastEventId !== "") {
    return readCursor(lastEventId, "Last-Event-ID");
  }
  return since === null ? undefined : readCursor(since, params.since);
}

/**
 * The CORS origin to allow for `request`, from the allowlist: the request's
 * own origin when listed, `*` when the list has it, null otherwise.
 *
 * @example
 * ```ts
 * import { allowedOrigin } from "./poll_request.ts";
 * const request = new Request("http://x/", { headers: { Origin: "https://a.example" } });
 * console.log(allowedOrigin(request, new Set(["https://a.example"]))); // https://a.example
 * ```
 */
export function allowedOrigin(request: Request, allowlist: ReadonlySet<string>): string | null {
  if (allowlist.size === 0) return null;
  const origin = request.headers.get("origin");
  if (origin === null) return null;
  if (allowlist.has(origin)) return origin;
  return allowlist.has("*") ? "*" : null;
}

function _queryOf(query: string, maxQueryLength: number): URLSearchParams {
  if (query.length > maxQueryLength) {
    throw new HttpError(414, `Cannot poll: the query is longer than ${maxQueryLength} characters`);
  }
  return new URLSearchParams(query);
}

function _ackOf(ack: string | null, name: string): string | undefined {
  if (ack === null || ack === "") return undefined;
  if (!ACK_PATTERN.test(ack)) {
    throw new HttpError(400, `Cannot poll: "${name}" is not a delivery id`);
  }
  return ack;
}

function _maxOf(max: string | null, { name, cap }: { name: string; cap: number }) {
  if (max === null) return undefined;
  if (!/^\d{1,9}$/.test(max) || Number(max) < 1) {
    throw new HttpError(
      400,
      `Cannot poll: "${name}" must be a whole number of 1 or more, got "${clip(max)}"`,
    );
  }
  return Math.min(Number(max), cap);
}

function _waitOf(wait: string | null, name: string): number | undefined {
  if (wait === null) return undefined;
  const seconds = Number(wait);
  if (!WAIT_PATTERN.test(wait) || seconds <= 0) {
    throw new HttpError(
      400,
      `Cannot poll: "${name}" must be a number of seconds above 0, got "${clip(wait)}"`,
    );
  }
  return seconds * 1000;
}
