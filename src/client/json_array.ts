/**
 * Splits a batch answer, a JSON array, into the exact text of each element,
 * so a message that was JSON reaches the page byte for byte as stored
 * (parsing and stringifying again would change `1.0`, big integers, key
 * order of duplicates and spacing).
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
  // Valid JSON from here: only strings and nesting need tracking.
  const elements: string[] = [];
  const open = text.indexOf("[");
  let depth = 0;
  let start = open + 1;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === "\\") i++;
      else if (char === '"') inString = false;
    } else if (char === '"') {
      inString = true;
    } else if (char === "[" || char === "{") {
      depth++;
    } else if (depth > 0 && (char === "]" || char === "}")) {
      depth--;
    } else if (depth === 0 && (char === "," || char === "]")) {
      const element = text.slice(start, i).trim();
      if (element !== "") elements.push(element);
      start = i + 1;
      if (char === "]") break;
    }
  }
  return elements;
}
