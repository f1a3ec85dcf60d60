/**
 * Reads a long-poll answer of stream delivery,
 * `{"messages":[{"id":"<ms>-<seq>","data":<message>}…],"next":"<id>"[,"reset":true]}`,
 * keeping each message's exact text as the server wrote it.
 *
 * @module
 */
import { splitJsonArray, splitJsonObject } from "./json_array.ts";

/** A stream answer, read. */
export interface StreamAnswer {
  /** Each message's exact JSON text, oldest first. */
  readonly messages: readonly string[];
  /** Each message's id, in the same order. */
  readonly ids: readonly string[];
  /** The cursor to read on from. */
  readonly next: string;
  /** True when the cursor was older than the history keeps: the app reloads its state. */
  readonly reset: boolean;
}

/**
 * Reads `body`, or returns null when it is not a stream answer.
 *
 * @example
 * ```ts
 * import { readStreamAnswer } from "./stream_answer.ts";
 * const body = '{"messages":[{"id":"5-0","data":{"n":1.0}},{"id":"5-1","data":"plain"}],"next":"5-1"}';
 * console.log(readStreamAnswer(body));
 * // { messages: [ '{"n":1.0}', '"plain"' ], ids: [ "5-0", "5-1" ], next: "5-1", reset: false }
 * console.log(readStreamAnswer('{"stop":1}')); // null
 * ```
 */
export function readStreamAnswer(body: string): StreamAnswer | null {
  const members = splitJsonObject(body);
  const list = splitJsonArray(members?.get("messages") ?? "");
  const next = _string(members?.get("next"));
  if (members === null || list === null || next === undefined) return null;
  const messages: string[] = [];
  const ids: string[] = [];
  for (const element of list) {
    const entry = splitJsonObject(element);
    const id = _string(entry?.get("id"));
    const data = entry?.get("data");
    if (id === undefined || data === undefined) return null;
    ids.push(id);
    messages.push(data);
  }
  return { messages, ids, next, reset: members.get("reset") === "true" };
}

/** The value of a JSON string's text, or undefined when it is not one. */
function _string(text: string | undefined): string | undefined {
  if (text === undefined || !text.startsWith('"')) return undefined;
  return JSON.parse(text);
}
