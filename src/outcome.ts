import { HttpError } from "./http_error.ts";
import type { LeasedMessage, StreamRead } from "./store/types.ts";

/**
 * What a poll takes from the store: a message, a batch of them (oldest
 * first, `max=`), a leased one (at-least-once), or in stream delivery what
 * it read after its cursor (entries, or a reset).
 */
export type Taken = string | readonly string[] | LeasedMessage | StreamRead;

/**
 * True when `taken` is a leased message (at-least-once), not a plain
 * message or a batch.
 *
 * @example
 * ```ts
 * import { isLeased } from "./outcome.ts";
 * console.log(isLeased("hi"), isLeased({ id: "a1", message: "hi", deliveries: 1 })); // false true
 * ```
 */
export function isLeased(taken: Taken): taken is LeasedMessage {
  return typeof taken === "object" && "deliveries" in taken;
}

/**
 * True when `taken` is a read of a uid's history (stream delivery).
 *
 * @example
 * ```ts
 * import { isStreamRead } from "./outcome.ts";
 * console.log(isStreamRead(["hi"]), isStreamRead({ entries: [], next: "5-0", reset: true })); // false true
 * ```
 */
export function isStreamRead(taken: Taken): taken is StreamRead {
  return typeof taken === "object" && !Array.isArray(taken) && "entries" in taken;
}

/**
 * How a hold ended:
 * - `message`: a message was taken for a client still there;
 * - `timeout`: the hold ran its schedule out, or reached the client's `wait`;
 * - `drain`: the server is shutting down;
 * - `superseded`: a newer poll of the same uid took its place;
 * - `gone`: the client left (a message taken meanwhile went back);
 * - `error`: the hold could not go on.
 *
 * @example
 * ```ts
 * import type { Outcome } from "./outcome.ts";
 * const outcome: Outcome = { end: "message", taken: '{"hi":1}' };
 * console.log(outcome.end); // message
 * ```
 */
export type Outcome =
  | { readonly end: "message"; readonly taken: Taken }
  | { readonly end: "timeout" | "drain" | "superseded" | "gone" }
  | { readonly end: "error"; readonly error: unknown };

/** The names of the ends of a hold. */
export type End = Outcome["end"];

/** What an end means on the wire, and which counter it moves. */
export interface EndSpec {
  /** The counter of `Metrics` it adds one to, if any. */
  readonly metric: "delivered" | "timeouts" | "drained" | "superseded" | "abandoned" | undefined;
  /**
   * What the answer holds: the message, the stop code, an error with its
   * status, or nothing (the client is gone).
   */
  readonly answer: "message" | "stop" | "error" | "none";
  /** For an end that is always the same error: that error. */
  readonly error?: HttpError;
}

/**
 * Every end of a hold, with its answer and counter, in one table.
 *
 * @example
 * ```ts
 * import { ENDS } from "./outcome.ts";
 * console.log(ENDS.superseded.error?.status, ENDS.timeout.answer); // 409 stop
 * ```
 */
export const ENDS: { readonly [E in End]: EndSpec } = Object.freeze({
  message: { metric: "delivered", answer: "message" },
  timeout: { metric: "timeouts", answer: "stop" },
  drain: { metric: "drained", answer: "stop" },
  superseded: {
    metric: "superseded",
    answer: "error",
    error: new HttpError(409, 'Cannot hold: a newer poll of the same "uid" took its place'),
  },
  gone: { metric: "abandoned", answer: "none" },
  error: { metric: undefined, answer: "error" },
});

/**
 * The outcomes that carry nothing but their end, made once.
 *
 * @example
 * ```ts
 * import { PLAIN_OUTCOMES } from "./outcome.ts";
 * console.log(PLAIN_OUTCOMES.timeout.end); // timeout
 * ```
 */
export const PLAIN_OUTCOMES = Object.freeze({
  timeout: { end: "timeout" } as const,
  drain: { end: "drain" } as const,
  superseded: { end: "superseded" } as const,
  gone: { end: "gone" } as const,
});
