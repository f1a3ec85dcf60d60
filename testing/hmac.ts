/**
 * The HMAC-SHA256 the signed links carry, computed with `node:crypto`: an
 * independent oracle for the tests of the project's own Web Crypto signer.
 *
 * @module
 */
import { createHmac } from "node:crypto";

/**
 * The lowercase hex HMAC-SHA256 of `text` under `secret`.
 *
 * @example
 * ```ts
 * import { hmac } from "./hmac.ts";
 * console.log(hmac("key", "42").length); // 64
 * ```
 */
export function hmac(secret: string, text: string): string {
  return createHmac("sha256", secret).update(text).digest("hex");
}
