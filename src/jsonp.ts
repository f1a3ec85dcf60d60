/** The callback names JSONP accepts: a plain JS identifier path. */
const CALLBACK_PATTERN = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$/;

/** Longest callback name accepted. */
export const MAX_CALLBACK_LENGTH = 128;

/**
 * Reserved words: as the first name of a path, the script is a syntax
 * error (`default(…)`) or does something else than a call (`import(…)`
 * loads a module, `typeof(…)`, `void(…)` call nothing).
 */
const RESERVED_WORDS: ReadonlySet<string> = new Set(
  (
    "await break case catch class const continue debugger default delete do else enum export " +
    "extends false finally for function if implements import in instanceof interface let new " +
    "null package private protected public return static super switch this throw true try " +
    "typeof var void while with yield"
  ).split(" "),
);

/**
 * Names that, called with a message, run it as code, write it as markup or
 * open it as a URL (`javascript:` included): `eval`, `Function` and any
 * `constructor` (a function's is `Function`), the timers that take a string,
 * `document.write`, `location.assign`, `window.open` and their kin.
 */
const UNSAFE_NAMES: ReadonlySet<string> = new Set([
  "eval",
  "Function",
  "constructor",
  "setTimeout",
  "setInterval",
  "setImmediate",
  "execScript",
  "importScripts",
  "write",
  "writeln",
  "insertAdjacentHTML",
  "createContextualFragment",
  "open",
  "assign",
  "replace",
  "navigate",
]);

/**
 * True when `name` is safe to call in a JSONP answer; see
 * {@linkcode callbackProblem}.
 *
 * @example
 * ```ts
 * import { isValidCallback } from "./jsonp.ts";
 * console.log(isValidCallback("app.onMessage")); // true
 * console.log(isValidCallback("alert(1)//")); // false
 * console.log(isValidCallback("eval")); // false
 * ```
 */
export function isValidCallback(name: string): boolean {
  return callbackProblem(name) === undefined;
}

/**
 * Why `name` may not be a JSONP callback, or undefined when it may: it must
 * be an identifier path such as `cb` or `app.on_message` of at most 128
 * characters, not start with a reserved word (`import`, `default`…), and
 * name nothing that runs, writes or opens what it is given (`eval`,
 * `Function`, `constructor`, `setTimeout`, `setInterval`, `document.write`,
 * `location.assign`, `open`…).
 *
 * @example
 * ```ts
 * import { callbackProblem } from "./jsonp.ts";
 * console.log(callbackProblem("app.onMessage")); // undefined
 * console.log(callbackProblem("document.write"));
 * // must not name "write", which runs, writes or opens what it is given
 * ```
 */
export function callbackProblem(name: string): string | undefined {
  if (name.length > MAX_CALLBACK_LENGTH || !CALLBACK_PATTERN.test(name)) {
    return `must be a JS identifier path of at most ${MAX_CALLBACK_LENGTH} characters`;
  }
  const names = name.split(".");
  if (RESERVED_WORDS.has(names[0])) return `must not start with the reserved word "${names[0]}"`;
  const unsafe = names.find((part) => UNSAFE_NAMES.has(part));
  if (unsafe !== undefined) {
    return `must not name "${unsafe}", which runs, writes or opens what it is given`;
  }
  return undefined;
}

/**
 * Wraps a message as a JSONP script: `/**\/name(<message>);`. A message that
 * is not valid JSON, or nested more than 512 levels deep, is passed as a
 * JSON string, and a `"__proto__"` key becomes a computed key
 * `["__proto__"]`, so the script always parses and sets no prototype.
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
 * when it is valid JSON nested at most 512 levels deep (its `"__proto__"`
 * keys written `["__proto__"]`), else the message as a JSON string.
 *
 * @example
 * ```ts
 * import { toJsonValue } from "./jsonp.ts";
 * console.log(toJsonValue('{"hi":1}'), toJsonValue("plain")); // {"hi":1} "plain"
 * console.log(toJsonValue('{"__proto__":1}')); // {["__proto__"]:1}
 * ```
 */
export function toJsonValue(message: string): string {
  if (!_isJson(message)) return JSON.stringify(message);
  return _MAY_NAME_PROTO.test(message) ? _plainProtoKeys(message) : message;
}

/**
 * A message as one line of JSON text, for a JSON answer or an event's
 * `data:`: the message itself when it is valid JSON (its line breaks,
 * which JSON allows only as whitespace, made spaces), else the message as
 * a JSON string.
 *
 * @example
 * ```ts
 * import { toJsonText } from "./jsonp.ts";
 * console.log(toJsonText('{\n"hi": 1}'), toJsonText("plain")); // { "hi": 1} "plain"
 * ```
 */
export function toJsonText(message: string): string {
  try {
    JSON.parse(message);
  } catch {
    return JSON.stringify(message);
  }
  return _LINE_BREAK.test(message) ? message.replace(_LINE_BREAKS, " ") : message;
}

const _LINE_BREAK = /[\r\n]/;
const _LINE_BREAKS = /[\r\n]/g;

/**
 * A `__proto__` key, written plainly or with escapes, can only be in a
 * message that holds `__proto__` or a backslash; the others are left as
 * they are, unscanned.
 */
const _MAY_NAME_PROTO = /__proto__|\\/;

/**
 * Valid JSON `text` with every `"__proto__":` key written as a computed key
 * `["__proto__"]:`. In a script, a literal `__proto__` key sets the object's
 * prototype (`{"__proto__":{"isAdmin":true}}` makes `m.isAdmin` true), and
 * two of them are a syntax error; a computed key is a plain property, as
 * `JSON.parse` makes it.
 */
function _plainProtoKeys(text: string): string {
  let out = "";
  let copied = 0;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) !== 0x22) continue;
    const start = i;
    for (i++; text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    let next = i + 1;
    while (/\s/.test(text[next] ?? "")) next++;
    if (text[next] !== ":") continue;
    const key = text.slice(start, i + 1);
    if (JSON.parse(key) !== "__proto__") continue;
    out += `${text.slice(copied, start)}[${key}]`;
    copied = i + 1;
  }
  return out + text.slice(copied);
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
