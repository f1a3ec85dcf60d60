/**
 * The one rule for a failed store operation: an error that knows its
 * answer (an {@linkcode HttpError}, or a {@linkcode StoreError} of a known
 * kind) is answered as it is; anything else is an outage, reported to the
 * store's health and answered 503 with `Retry-After`, or ridden out by a
 * held poll. Stores say what went wrong with a kind; only this module turns
 * a kind into an HTTP status.
 *
 * @module
 */
import { HttpError } from "./http_error.ts";

/**
 * What a store error is about, as opposed to whether the store answers:
 * `wrong-type`, a key of the wrong type; `encoding`, a message that is not
 * valid UTF-8. Neither is cured by retrying.
 *
 * @example
 * ```ts
 * import type { StoreErrorKind } from "./store_failure.ts";
 * const kind: StoreErrorKind = "wrong-type";
 * console.log(kind); // wrong-type
 * ```
 */
export type StoreErrorKind = "wrong-type" | "encoding";

/** The HTTP status each kind of store error is answered with: the store holds something unusable. */
const _STATUS_OF_KIND: Readonly<Record<StoreErrorKind, number>> = {
  "wrong-type": 502,
  "encoding": 502,
};

/**
 * An error about what a store holds. It carries a kind; the HTTP layer
 * decides the answer.
 *
 * @example
 * ```ts
 * import { StoreError } from "./store_failure.ts";
 * const error = new StoreError("encoding", 'Cannot deliver: the message of "42" is not valid UTF-8');
 * console.log(error.kind, error.status); // encoding 502
 * ```
 */
export class StoreError extends Error {
  /** What went wrong. */
  readonly kind: StoreErrorKind;

  /** Creates the error. */
  constructor(kind: StoreErrorKind, message: string) {
    super(message);
    this.name = "StoreError";
    this.kind = kind;
  }

  /** The HTTP status the server answers it with. */
  get status(): number {
    return _STATUS_OF_KIND[this.kind];
  }
}

/** What a failed store operation was for; it names the 503. */
export type StoreAction = "poll" | "stream events" | "publish" | "read presence";

const _UNAVAILABLE: Readonly<Record<StoreAction, string>> = {
  poll: "Cannot poll: the message store is unavailable",
  "stream events": "Cannot stream events: the message store is unavailable",
  publish: "Cannot publish: the message store is unavailable",
  "read presence": "Cannot read presence: the store is unavailable",
};

/**
 * The answer a store failure deserves when it is no outage; undefined for
 * an outage, which is reported to `health` first.
 *
 * @example
 * ```ts
 * import { knownAnswerOrOutage, StoreError } from "./store_failure.ts";
 * const health = { failed: (error: unknown) => console.log("outage:", String(error)) };
 * const known = knownAnswerOrOutage(new StoreError("wrong-type", "Cannot pop: wrong type"), health);
 * console.log(known?.status); // 502
 * console.log(knownAnswerOrOutage(new Error("ECONNREFUSED"), health)); // undefined
 * ```
 */
export function knownAnswerOrOutage(
  error: unknown,
  health: { failed(error: unknown): void },
): HttpError | undefined {
  if (error instanceof HttpError) return error;
  if (error instanceof StoreError) return new HttpError(error.status, error.message);
  health.failed(error);
  return undefined;
}

/**
 * The answer to a failed store operation: its known answer, or for an
 * outage (reported to `health`) a 503 with `Retry-After`.
 *
 * @example
 * ```ts
 * import { storeFailureAnswer } from "./store_failure.ts";
 * const health = { failed: () => {} };
 * const answer = storeFailureAnswer(new Error("ECONNREFUSED"), {
 *   action: "publish",
 *   health,
 *   retryAfter: "1",
 * });
 * console.log(answer.status, answer.message); // 503 Cannot publish: the message store is unavailable
 * ```
 */
export function storeFailureAnswer(
  error: unknown,
  { action, health, retryAfter }: {
    readonly action: StoreAction;
    readonly health: { failed(error: unknown): void };
    readonly retryAfter: string;
  },
): HttpError {
  return knownAnswerOrOutage(error, health) ??
    new HttpError(503, _UNAVAILABLE[action], { "Retry-After": retryAfter });
}
