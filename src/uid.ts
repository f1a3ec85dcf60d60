import { HttpError } from "./http_error.ts";

// deno-lint-ignore no-control-regex -- finding control characters is the point
const CONTROL_CHARACTERS = /[\x00-\x1f\x7f-\x9f]/;

/** Options of {@linkcode validateUid}. */
export interface ValidateUidOptions {
  /**
   * The parameter's name, for error messages.
   * @default {"uid"}
   */
  name?: string;
  /** Longest uid accepted, in UTF-8 bytes: the handler's `maxUidBytes`. */
  maxBytes: number;
  /**
   * What is being attempted, for error messages: "poll" or "publish".
   * @default {"poll"}
   */
  action?: string;
}

/**
 * Returns `uid` when it is usable as a queue name, and throws a 400
 * {@linkcode HttpError} saying why otherwise: missing, empty, too long, or
 * holding control characters (see {@linkcode hasControlCharacters}).
 *
 * @example
 * ```ts
 * import { validateUid } from "./uid.ts";
 * console.log(validateUid("42", { maxBytes: 64 })); // 42
 * try {
 *   validateUid("a\nb", { maxBytes: 64 });
 * } catch (error) {
 *   console.log((error as Error).message); // Cannot poll: "uid" holds control characters
 * }
 * ```
 */
export function validateUid(uid: string | null, options: ValidateUidOptions): string {
  const { name = "uid", maxBytes, action = "poll" } = options;
  if (uid === null) throw new HttpError(400, `Cannot ${action}: "${name}" is missing`);
  if (uid === "") throw new HttpError(400, `Cannot ${action}: "${name}" is empty`);
  if (_utf8Length(uid) > maxBytes) {
    throw new HttpError(400, `Cannot ${action}: "${name}" is longer than ${maxBytes} bytes`);
  }
  if (hasControlCharacters(uid)) {
    throw new HttpError(400, `Cannot ${action}: "${name}" holds control characters`);
  }
  return uid;
}

/**
 * Whether `text` holds a control character: C0 (U+0000 to U+001F: CR, LF,
 * NUL…), DEL (U+007F) or C1 (U+0080 to U+009F: NEL, CSI…), which a uid may
 * not hold.
 *
 * @example
 * ```ts
 * import { hasControlCharacters } from "./uid.ts";
 * console.log(hasControlCharacters("a\u0085b"), hasControlCharacters("é")); // true false
 * ```
 */
export function hasControlCharacters(text: string): boolean {
  return CONTROL_CHARACTERS.test(text);
}

function _utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x800) bytes += code >= 0xd800 && code <= 0xdfff ? 1 : 2;
    else if (code >= 0x80) bytes += 1;
  }
  return bytes;
}
