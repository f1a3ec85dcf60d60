/**
 * Errors about what a store holds, as opposed to whether it answers: each
 * has a kind (see {@linkcode StoreError}), which the HTTP layer maps to an
 * answer, and none is cured by retrying.
 *
 * @module
 */
import { StoreError } from "../store_failure.ts";

/**
 * A message whose stored bytes are not valid UTF-8, so it can't be
 * delivered as text unchanged. It stays in the store, first in line,
 * byte for byte. Kind `encoding`.
 *
 * @example
 * ```ts
 * import { MessageEncodingError } from "./errors.ts";
 * const error = new MessageEncodingError("42");
 * console.log(error.kind, error.message); // encoding Cannot deliver: the message of "42" is not valid UTF-8
 * ```
 */
export class MessageEncodingError extends StoreError {
  /** The uid whose next message it is. */
  readonly uid: string;

  /** Creates the error for the next message of `uid`. */
  constructor(uid: string) {
    super("encoding", `Cannot deliver: the message of "${uid}" is not valid UTF-8`);
    this.name = "MessageEncodingError";
    this.uid = uid;
  }
}

/**
 * A key that holds another type than the store needs, such as a string
 * where a producer's list belongs (`SET Q/MSG42 x`). Every call on it
 * fails the same way until someone removes or renames it. Kind
 * `wrong-type`.
 *
 * @example
 * ```ts
 * import { KeyTypeError } from "./errors.ts";
 * const error = new KeyTypeError("pop", "Q/MSGwt", { actual: "string", expected: "list" });
 * console.log(error.message); // Cannot pop: "Q/MSGwt" holds a string, not a list
 * ```
 */
export class KeyTypeError extends StoreError {
  /** The key. */
  readonly key: string;
  /** Its Redis type, as `TYPE` names it (`string`, `hash`…). */
  readonly actual: string;
  /** The type the store needs there. */
  readonly expected: string;

  /** Creates the error for `action` (`pop`, `take`…) on `key`. */
  constructor(action: string, key: string, types: { actual: string; expected: string }) {
    super(
      "wrong-type",
      `Cannot ${action}: "${key}" holds ${_typeName(types.actual)}, not ${
        _typeName(types.expected)
      }`,
    );
    this.name = "KeyTypeError";
    this.key = key;
    this.actual = types.actual;
    this.expected = types.expected;
  }
}

const TYPE_NAMES: Record<string, string> = {
  string: "a string",
  list: "a list",
  hash: "a hash",
  set: "a set",
  zset: "a sorted set",
  stream: "a stream",
};

function _typeName(type: string): string {
  return TYPE_NAMES[type] ?? `a ${type}`;
}
