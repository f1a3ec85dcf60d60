import { HttpError } from "./http_error.ts";

// deno-lint-ignore no-control-regex -- finding control characters is the point
const CONTROL_CHARACTERS = /[\x00-\x1f\x7f]/;

/** Options of {@linkcode validateUid}. */
export interface ValidateUidOptions {
  /**
   * The parameter's name, for error messages.
   * @default {"uid"}
   */
  name?: string;
  /**
   * Longest uid accepted, in UTF-8 bytes.
   * @default {256}
   */
  maxBytes?: number;
  /**
   * What is being attempted, for error messages: "poll" or "publish".
   * @default {"poll"}
   */
  action?: string;
}

/**
 * Returns `uid` when it is usable as a queue name, and throws a 400
 * {@linkcode HttpError} saying why otherwise: missing, empty, too long, or
 * holding control characters (CR, LF, NUL…).
 *
 * @example
 * ```ts
 * import { validateUid } from "./uid.ts";
 * console.log(validateUid("42")); // 42
 * try {
 *   validateUid("a\nb");
 * } catch (error) {
 *   console.log((error as Error).message); // Cannot poll: "uid" holds control characters
 * }
 * ```
 */
export function validateUid(uid: string | null, options: ValidateUidOptions = {}): string {
  const { name = "uid", maxBytes = 256, action = "poll" } = options;
  if (uid === null) throw new HttpError(400, `Cannot ${action}: "${name}" is missing`);
  if (uid === "") throw new HttpError(400, `Cannot ${action}: "${name}" is empty`);
  if (_utf8Length(uid) > maxBytes) {
    throw new HttpError(400, `Cannot ${action}: "${name}" is longer than ${maxBytes} bytes`);
  }
  if (CONTROL_CHARACTERS.test(uid)) {
    throw new HttpError(400, `Cannot ${action}: "${name}" holds control characters`);
  }
  return uid;
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
