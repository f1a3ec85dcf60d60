/**
 * Splits JSON answers into the exact text of their parts: a batch answer (a
 * JSON array) into each element, and a stream answer's objects into each
 * member's value, so a message that was JSON reaches the page byte for byte
 * as stored (parsing and stringifying again would change `1.0`, big
 * integers, key order of duplicates and spacing).
 *
 * @example
 * ```ts
 * import { splitJsonArray } from "./json_array.ts";
 * console.log(splitJsonArray('[{"n":1.0}, "two", [3]]')); // [ '{"n":1.0}', '"two"', "[3]" ]
 * console.log(splitJsonArray('{"stop":1}')); // null
 * ```
 *
 * @module
 */

/**
 * Returns the text of each element of the JSON array `text`, in order, or
 * null when `text` is not a JSON array.
 *
 * @example
 * ```ts
 * import { splitJsonArray } from "./json_array.ts";
 * console.log(splitJsonArray("[]"), splitJsonArray('[",]"]')); // [] [ '",]"' ]
 * ```
 */
export function splitJsonArray(text: string): string[] | null {
  try {
    if (!Array.isArray(JSON.parse(text))) return null;
  } catch {
    return null;
  }
  return _topLevelParts(text, "[");
}

/**
 * Returns the exact text of each member's value of the JSON object `text`,
 * by key (of duplicate keys, the last, as `JSON.parse` keeps), or null when
 * `text` is not a JSON object.
 *
 * @example
 * ```ts
 * import { splitJsonObject } from "./json_array.ts";
 * const members = splitJsonObject('{"id":"5-0", "data":{"n":1.0}}');
 * console.log(members?.get("data"), members?.get("id")); // {"n":1.0} "5-0"
 * console.log(splitJsonObject("[1]")); // null
 * ```
 */
export function splitJsonObject(text: string): Map<string, string> | null {
  try {
    const value = JSON.parse(text);
    if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  } catch {
    return null;
  }
  const members = new Map<string, string>();
  for (const member of _topLevelParts(text, "{")) {
    // Valid JSON: the member is a key string, a colon, then the value.
    const keyEnd = _stringEnd(member, 0);
    const key: string = JSON.parse(member.slice(0, keyEnd + 1));
    members.delete(key);
    members.set(key, member.slice(member.indexOf(":", keyEnd) + 1).trim());
  }
  return members;
}

/**
 * The text between the top-level commas of the valid JSON array or object
 * `text` (whose first `open` opens it), each trimmed.
 */
function _topLevelParts(text: string, open: "[" | "{"): string[] {
  const close = open === "[" ? "]" : "}";
  const parts: string[] = [];
  let depth = 0;
  let start = text.indexOf(open) + 1;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (char === '"') {
      i = _stringEnd(text, i);
    } else if (char === "[" || char === "{") {
      depth++;
    } else if (depth > 0 && (char === "]" || char === "}")) {
      depth--;
    } else if (depth === 0 && (char === "," || char === close)) {
      const part = text.slice(start, i).trim();
      if (part !== "") parts.push(part);
      start = i + 1;
      if (char === close) break;
    }
  }
  return parts;
}

/** The index of the quote that ends the JSON string opening at `text[start]`. */
function _stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') return i;
  }
  return text.length;
}
