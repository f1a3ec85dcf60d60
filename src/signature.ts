import { secretList, type Secrets } from "./secret_list.ts";
import { hasControlCharacters } from "./uid.ts";

/**
 * Checks a poll's signature. Return true to accept. Replace the built-in
 * HMAC check with one of these for a legacy scheme.
 *
 * @example
 * ```ts
 * import type { VerifySignature } from "./signature.ts";
 * const allowAdmins: VerifySignature = (uid, sign) => uid === "admin" && sign === "letmein";
 * ```
 */
export type VerifySignature = (
  uid: string,
  sign: string,
  url: URL,
) => boolean | Promise<boolean>;

/** `exp` in its one canonical form: decimal digits, no sign, no leading zero, before 2286. */
const CANONICAL_EXP = /^(0|[1-9]\d{0,9})$/;

/**
 * Why a signature was refused, as the message of a 403 or 400 answer.
 *
 * @example
 * ```ts
 * import { SignatureError } from "@longpoll/redis-longpoll";
 * const error = new SignatureError('Cannot verify signature: "sign" was refused');
 * console.log(error.status); // 403
 * ```
 */
export class SignatureError extends Error {
  /** HTTP status: 400 for a malformed `exp` or uid, 403 otherwise. */
  readonly status: 400 | 403;
  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import { SignatureError } from "./signature.ts";
   * const error = new SignatureError('Cannot verify signature: "exp" has passed', 403);
   * console.log(error.status); // 403
   * ```
   */
  constructor(message: string, status: 400 | 403 = 403) {
    super(message);
    this.name = "SignatureError";
    this.status = status;
  }
}

/**
 * Options of {@linkcode HmacSigner}.
 *
 * @example
 * ```ts
 * import { HmacSigner, type HmacSignerOptions } from "@longpoll/redis-longpoll";
 * const options: HmacSignerOptions = { secret: ["new-secret", "old-secret"] };
 * console.log(new HmacSigner(options) instanceof HmacSigner); // true
 * ```
 */
export interface HmacSignerOptions {
  /**
   * The shared secret, or a list of them while one is rotated: the first
   * signs, and a signature by any of them verifies.
   */
  secret: Secrets;
  /**
   * Current time in milliseconds, for `exp` checks.
   * @default {Date.now}
   */
  now?: () => number;
}

/**
 * Signs and verifies uids with HMAC-SHA256 through Web Crypto:
 * `sign = hex(HMAC(secret, uid))`, or `hex(HMAC(secret, uid + "\n" + exp))`
 * with an expiry in unix seconds (a line feed, byte 0x0A, between the two).
 * A uid may not hold control characters, so no uid without `exp` signs the
 * same text as another uid with one, and `exp` has one accepted spelling
 * (decimal digits, no sign, no leading zero, at most 10 digits), so one
 * signature never passes with two. Verification is constant-time, and
 * with a list of secrets it checks every one of them, so how long it takes
 * does not tell which matched.
 *
 * @example
 * ```ts
 * import { HmacSigner } from "./signature.ts";
 * const signer = new HmacSigner({ secret: "s3cret" });
 * const sign = await signer.sign("42");
 * await signer.verify("42", sign); // resolves; a bad sign rejects
 * // Rotating: the new secret signs, signatures by the old one still verify.
 * const rotating = new HmacSigner({ secret: ["n3w", "s3cret"] });
 * await rotating.verify("42", sign); // resolves
 * ```
 */
export class HmacSigner {
  readonly #keys: Promise<CryptoKey[]>;
  readonly #now: () => number;

  /**
   * Imports the secrets once, for every later sign and verify. Throws a
   * TypeError when the list is empty or holds an empty secret.
   */
  constructor(options: HmacSignerOptions) {
    this.#now = options.now ?? Date.now;
    this.#keys = Promise.all(
      secretList("secret", options.secret).map((secret) =>
        crypto.subtle.importKey(
          "raw",
          new TextEncoder().encode(secret),
          { name: "HMAC", hash: "SHA-256" },
          false,
          ["sign", "verify"],
        )
      ),
    );
  }

  /**
   * Returns the lowercase hex signature of `uid` by the first secret, bound
   * to `exp` when given. Rejects with a TypeError when `uid` holds control
   * characters.
   */
  async sign(uid: string, exp?: number): Promise<string> {
    if (hasControlCharacters(uid)) {
      throw new TypeError('Cannot sign: "uid" holds control characters');
    }
    const [key] = await this.#keys;
    const mac = await crypto.subtle.sign("HMAC", key, _signedBytes(uid, exp));
    return Array.from(new Uint8Array(mac), (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  /**
   * Resolves when `sign` is valid for `uid` (and unexpired `exp`) by any of
   * the secrets, and rejects with a {@linkcode SignatureError} saying why
   * otherwise. Every secret is checked, whichever matches.
   */
  async verify(uid: string, sign: string | null, exp?: string | null): Promise<void> {
    if (sign === null || sign === "") {
      throw new SignatureError('Cannot verify signature: "sign" is missing');
    }
    if (hasControlCharacters(uid)) {
      throw new SignatureError('Cannot verify signature: "uid" holds control characters', 400);
    }
    const mac = _hexToBytes(sign);
    if (mac === undefined) {
      throw new SignatureError('Cannot verify signature: "sign" is not 64 hex digits');
    }
    let expSeconds: number | undefined;
    if (exp !== undefined && exp !== null) {
      if (!CANONICAL_EXP.test(exp)) {
        throw new SignatureError(
          'Cannot verify signature: "exp" is not a whole number of unix seconds ' +
            "(at most 10 digits, no leading zero)",
          400,
        );
      }
      expSeconds = Number(exp);
      if (expSeconds * 1000 <= this.#now()) {
        throw new SignatureError('Cannot verify signature: "exp" has passed');
      }
    }
    const signed = _signedBytes(uid, expSeconds);
    const checks = await Promise.all(
      (await this.#keys).map((key) => crypto.subtle.verify("HMAC", key, mac, signed)),
    );
    if (!checks.includes(true)) {
      throw new SignatureError('Cannot verify signature: "sign" does not match');
    }
  }
}

function _signedBytes(uid: string, exp: number | undefined): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(exp === undefined ? uid : `${uid}\n${exp}`);
}

function _hexToBytes(hex: string): Uint8Array<ArrayBuffer> | undefined {
  if (hex.length !== 64 || !/^[0-9a-fA-F]+$/.test(hex)) return undefined;
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}
