/**
 * The wire protocol, shared by the server and the browser client: query
 * parameter names, the stop code, the header names, and what each status
 * means. Nothing here depends on a runtime.
 *
 * @example
 * ```ts
 * import { DEFAULT_PARAMS, DEFAULT_STOP_CODE, HEADER } from "./protocol.ts";
 * console.log(DEFAULT_PARAMS.callback, DEFAULT_STOP_CODE, HEADER.stop);
 * // jsonCallback {"stop":1} X-Stop
 * ```
 *
 * @module
 */

/**
 * Names of the query parameters of a poll.
 *
 * @example
 * ```ts
 * import { createLongPollHandler, MemoryStore, type ParamNames } from "@longpoll/redis-longpoll";
 * const params: Partial<ParamNames> = { uid: "user", callback: "cb" };
 * const handler = createLongPollHandler({ store: new MemoryStore(), params });
 * console.log(handler.held); // 0
 * ```
 */
export interface ParamNames {
  /**
   * The user's id, whose queue is polled.
   * @default {"uid"}
   */
  readonly uid: string;
  /**
   * The signature of the uid.
   * @default {"sign"}
   */
  readonly sign: string;
  /**
   * The signature's expiry, in unix seconds.
   * @default {"exp"}
   */
  readonly exp: string;
  /**
   * The JSONP callback name.
   * @default {"jsonCallback"}
   */
  readonly callback: string;
  /**
   * In at-least-once mode, the id of the last message received, acknowledged.
   * @default {"ack"}
   */
  readonly ack: string;
  /**
   * The longest hold, in seconds, the client will wait for: the server
   * answers (with the stop code, when nothing came) before that time, so a
   * client with a timeout never abandons a poll the server would answer.
   * Optional; the server caps it at its own longest hold.
   * @default {"wait"}
   */
  readonly wait: string;
  /**
   * The most messages the client takes in one answer. With it, every
   * delivery is a JSON array of up to that many messages, oldest first (a
   * message that is not JSON is an element as a JSON string), with one ack
   * id for the whole array in at-least-once mode. Optional; the server caps
   * it.
   * @default {"max"}
   */
  readonly max: string;
  /**
   * Stream delivery: the cursor, the id of the last message received
   * (`<ms>-<seq>`), or `0` for the history kept; without it a poll reads
   * from now. Every answer says where to read on from.
   * @default {"since"}
   */
  readonly since: string;
}

/**
 * The parameter names of protocol v1, the original service's.
 *
 * @example
 * ```ts
 * import { DEFAULT_PARAMS } from "./protocol.ts";
 * console.log(DEFAULT_PARAMS.uid); // uid
 * ```
 */
export const DEFAULT_PARAMS: ParamNames = Object.freeze({
  uid: "uid",
  sign: "sign",
  exp: "exp",
  callback: "jsonCallback",
  ack: "ack",
  wait: "wait",
  max: "max",
  since: "since",
});

/**
 * The body that ends a hold with nothing to deliver. Unlike the original
 * service's `{'stop':1}`, it is valid JSON.
 *
 * @example
 * ```ts
 * import { DEFAULT_STOP_CODE } from "./protocol.ts";
 * console.log(JSON.parse(DEFAULT_STOP_CODE).stop); // 1
 * ```
 */
export const DEFAULT_STOP_CODE = '{"stop":1}';

/**
 * How messages are delivered unless told otherwise, by the handler and by
 * the browser client alike: `"queue"`, each message to one poll of its uid.
 *
 * @example
 * ```ts
 * import { DEFAULT_DELIVERY } from "./protocol.ts";
 * console.log(DEFAULT_DELIVERY); // queue
 * ```
 */
export const DEFAULT_DELIVERY = "queue";

/**
 * Header names of the protocol, as sent.
 *
 * @example
 * ```ts
 * import { HEADER } from "./protocol.ts";
 * console.log(HEADER.redelivered); // X-Redelivered
 * ```
 */
export const HEADER: {
  /** At-least-once: the id the next poll acknowledges with `ack=`. */
  readonly ackId: "X-Ack-Id";
  /** At-least-once: `true` when the message was handed out before. */
  readonly redelivered: "X-Redelivered";
  /**
   * `true` on the stop answer (the hold ran out, or the server drains), so a
   * client tells it from a message whose body equals the stop code. Absent
   * from a message, and from an answer whose headers left before its
   * outcome was known (`earlyHeaders`).
   */
  readonly stop: "X-Stop";
  /** Stream delivery: `true` on the reset answer (messages after the cursor may be gone). */
  readonly reset: "X-Reset";
  /** Stream delivery: the cursor the next poll sends as `since`. */
  readonly nextSince: "X-Next-Since";
} = Object.freeze({
  /** At-least-once: the id the next poll acknowledges with `ack=`. */
  ackId: "X-Ack-Id" as const,
  /** At-least-once: `true` when the message was handed out before. */
  redelivered: "X-Redelivered" as const,
  /** `true` on the stop answer. */
  stop: "X-Stop" as const,
  /** Stream delivery: `true` on the reset answer. */
  reset: "X-Reset" as const,
  /** Stream delivery: the cursor to poll from next. */
  nextSince: "X-Next-Since" as const,
});

/**
 * The second argument of the JSONP callback on the stop answer, so a page
 * tells the stop from a message whose body equals the stop code (a
 * message's second argument, in at-least-once mode, is `{ack, redelivered}`).
 *
 * @example
 * ```ts
 * import { JSONP_STOP_META } from "./protocol.ts";
 * console.log(JSON.stringify(JSONP_STOP_META)); // {"stop":true}
 * ```
 */
export const JSONP_STOP_META: { readonly stop: true } = Object.freeze({ stop: true as const });

/**
 * Stream delivery: the second argument of the JSONP callback on the reset
 * answer, so a page tells it from an answer with no messages.
 *
 * @example
 * ```ts
 * import { JSONP_RESET_META } from "./protocol.ts";
 * console.log(JSON.stringify(JSONP_RESET_META)); // {"reset":true}
 * ```
 */
export const JSONP_RESET_META: { readonly reset: true } = Object.freeze({ reset: true as const });

/**
 * What each status of a poll's answer means to a client.
 *
 * @example
 * ```ts
 * import { STATUS } from "./protocol.ts";
 * console.log(STATUS.superseded); // 409
 * ```
 */
export const STATUS: { readonly [Name in StatusName]: number } = Object.freeze({
  /** A message, or the stop code. */
  ok: 200,
  /** The request itself is wrong (uid, callback, exp, ack); retrying can't help. */
  badRequest: 400,
  /** The signature is missing, wrong or expired. */
  forbidden: 403,
  /** The method is not GET, HEAD or OPTIONS. */
  methodNotAllowed: 405,
  /** A newer poll of the same uid took this one's place. */
  superseded: 409,
  /** The query is too long. */
  uriTooLong: 414,
  /** Stream delivery: the uid holds `MAX_STREAMS_PER_UID` polls and streams already. */
  tooManyStreams: 429,
  /** Over capacity, or the store is unreachable: retry after `Retry-After`. */
  unavailable: 503,
});

/** The names of {@linkcode STATUS}. */
export type StatusName =
  | "ok"
  | "badRequest"
  | "forbidden"
  | "methodNotAllowed"
  | "superseded"
  | "uriTooLong"
  | "tooManyStreams"
  | "unavailable";

/**
 * Statuses a client should not retry: the request itself is refused.
 *
 * @example
 * ```ts
 * import { REFUSED_STATUSES } from "./protocol.ts";
 * console.log(REFUSED_STATUSES.has(403), REFUSED_STATUSES.has(503)); // true false
 * ```
 */
export const REFUSED_STATUSES: ReadonlySet<number> = new Set([400, 401, 403, 404, 405, 414]);
