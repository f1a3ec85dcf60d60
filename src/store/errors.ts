/**
 * Errors about what a store holds, as opposed to whether it answers: each
 * knows the HTTP answer it deserves, and none is cured by retrying.
 *
 * @module
 */
import { HttpError } from "../http_error.ts";

/**
 * A message whose stored bytes are not valid UTF-8, so it can't be
 * delivered as text unchanged. It stays in the store, first in line,
 * byte for byte. Status 502: the store handed over something unusable.
 *
 * @example
 * ```ts
 * import { MessageEncodingError } from "./errors.ts";
 * const error = new MessageEncodingError("42");
 * console.log(error.status, error.message); // 502 Cannot deliver: the message of "42" is not valid UTF-8
 * ```
 */
export class MessageEncodingError extends HttpError {
  /** The uid whose next message it is. */
  readonly uid: string;

  /** Creates the error for the next message of `uid`. */
  constructor(uid: string) {
    super(502, `Cannot deliver: the message of "${uid}" is not valid UTF-8`);
    this.name = "MessageEncodingError";
    this.uid = uid;
  }
}
