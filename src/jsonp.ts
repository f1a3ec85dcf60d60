/** The callback names JSONP accepts: a plain JS identifier path. */
const CALLBACK_PATTERN = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$/;

/** Longest callback name accepted. */
export const MAX_CALLBACK_LENGTH = 128;

/**
 * True when `name` is safe to call in a JSONP answer: an identifier path
 * such as `cb` or `app.on_message`, at most 128 characters.
 *
 * @example
 * ```ts
 * import { isValidCallback } from "./jsonp.ts";
 * console.log(isValidCallback("app.onMessage")); // true
 * console.log(isValidCallback("alert(1)//")); // false
 * ```
 */
export function isValidCallback(name: string): boolean {
  return name.length <= MAX_CALLBACK_LENGTH && CALLBACK_PATTERN.test(name);
}

/**
 * Wraps a message as a JSONP script: `/**\/name(<message>);`. A message that
 * is not valid JSON, or nested more than 512 levels deep, is passed as a
 * JSON string, so the script always parses.
 * U+2028 and U+2029 are escaped for older engines. `name` must have passed
 * {@linkcode isValidCallback}. `meta`, when given, is a second argument, such
 * as the delivery id in at-least-once mode.
 *
 * @example
 * ```ts
 * import { wrapJsonp } from "./jsonp.ts";
 * console.log(wrapJsonp("cb", '{"hi":1}')); // /**\/cb({"hi":1});
 * console.log(wrapJsonp("cb", "plain text")); // /**\/cb("plain text");
 * ```
 */
export function wrapJsonp(name: string, message: string, meta?: object): string {
  return wrapJsonpValue(name, toJsonValue(message), meta);
}

/**
 * Like {@linkcode wrapJsonp}, for a value already made safe with
 * {@linkcode toJsonValue} (or an array of such values, a batch).
 *
 * @example
 * ```ts
 * import { toJsonValue, wrapJsonpValue } from "./jsonp.ts";
 * const batch = `[${["{\"n\":1}", "two"].map(toJsonValue).join(",")}]`;
 * console.log(wrapJsonpValue("cb", batch)); // /**\/cb([{"n":1},"two"]);
 * ```
 */
export function wrapJsonpValue(name: string, json: string, meta?: object): string {
  const args = meta === undefined ? json : `${json},${JSON.stringify(meta)}`;
  return `/**/${name}(${args.replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029")});`;
}

/**
 * A message as a JSON value safe to put in a script: the message itself
 * when it is valid JSON nested at most 512 levels deep, else the message as
 * a JSON string.
 *
 * @example
 * ```ts
 * import { toJsonValue } from "./jsonp.ts";
 * console.log(toJsonValue('{"hi":1}'), toJsonValue("plain")); // {"hi":1} "plain"
 * ```
 */
export function toJsonValue(message: string): string {
  return _isJson(message) ? message : JSON.stringify(message);
}

/**
 * Deepest nesting a message may have to be passed as a value. V8 parses
 * JSON far deeper than it parses a script, so a deeper message would make
 * the script fail; such a message goes as a string instead.
 */
const MAX_NESTING = 512;

function _isJson(text: string): boolean {
  try {
    JSON.parse(text);
  } catch {
    return false;
  }
  return _nesting(text) <= MAX_NESTING;
}

/** The deepest nesting of arrays and objects in valid JSON `text`. */
function _nesting(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 0x5c) i++; // a backslash: skip the escaped character
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) inString = true;
    else if (code === 0x5b || code === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (code === 0x5d || code === 0x7d) depth--;
  }
  return deepest;
}
