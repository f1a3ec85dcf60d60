/**
 * The body of a poll's answer in stream delivery (protocol v1.2): one JSON
 * object with the messages read after the poll's cursor, each with its id,
 * and the cursor to poll from next; through JSONP the same object as the
 * callback's argument.
 *
 * @module
 */
import { toJsonText, toJsonValue, wrapJsonpValue } from "./jsonp.ts";
import { JSONP_RESET_META, JSONP_STOP_META } from "./protocol.ts";
import type { StreamRead } from "./store/types.ts";

/** How {@linkcode streamAnswerBody} writes a body. */
export interface StreamAnswerFormat {
  /** The JSONP callback, or null for plain JSON. */
  readonly callback: string | null;
  /** The answer ends a hold with nothing read: the stop. */
  readonly stop: boolean;
  /** Turns a stored message into the JSON text delivered (`parseLiteral`'s rule), before it is made safe. */
  readonly asJson: (message: string) => string;
}

/**
 * The answer to `read`: `{"messages":[{"id","data"}…],"next"}`, with
 * `"reset":true` for a reset. `data` is the message as JSON when it is
 * JSON, else a JSON string. Through JSONP: `/**\/cb(<object>);`, with a
 * second argument `{"stop":true}` for the stop and `{"reset":true}` for a
 * reset.
 *
 * @example
 * ```ts
 * import { streamAnswerBody } from "./stream_answer.ts";
 * const read = { entries: [{ id: "5-0", message: '{"hi":1}' }], next: "5-0", reset: false };
 * const asJson = (message: string) => message;
 * console.log(streamAnswerBody(read, { callback: null, stop: false, asJson }));
 * // {"messages":[{"id":"5-0","data":{"hi":1}}],"next":"5-0"}
 * const stop = { entries: [], next: "5-0", reset: false };
 * console.log(streamAnswerBody(stop, { callback: "cb", stop: true, asJson }));
 * // /**\/cb({"messages":[],"next":"5-0"},{"stop":true});
 * ```
 */
export function streamAnswerBody(read: StreamRead, format: StreamAnswerFormat): string {
  const { callback, asJson } = format;
  const asData = callback === null ? toJsonText : toJsonValue;
  const messages = read.entries.map((entry) =>
    `{"id":"${entry.id}","data":${asData(asJson(entry.message))}}`
  );
  const reset = read.reset ? ',"reset":true' : "";
  const body = `{"messages":[${messages.join(",")}],"next":"${read.next}"${reset}}`;
  if (callback === null) return body;
  const meta = read.reset ? JSONP_RESET_META : format.stop ? JSONP_STOP_META : undefined;
  return wrapJsonpValue(callback, body, meta);
}
