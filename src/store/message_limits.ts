/**
 * What a store hands out, shared by the stores: the largest message, the
 * most bytes in one batch, and how a message that can't be delivered (too
 * large, or not UTF-8) is set aside, so the queue behind it goes on.
 *
 * @module
 */
import { OPTION_SPECS } from "../option_defaults.ts";

/**
 * Largest message handed out when {@linkcode MessageLimitOptions.maxMessageBytes}
 * is not given: 4 MiB, the `maxMessageBytes` of {@linkcode OPTION_SPECS}.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_MESSAGE_BYTES } from "./message_limits.ts";
 * console.log(DEFAULT_MAX_MESSAGE_BYTES); // 4194304
 * ```
 */
export const DEFAULT_MAX_MESSAGE_BYTES: number = OPTION_SPECS.maxMessageBytes.defaultValue;

/**
 * Messages set aside that a store keeps, newest first: per uid in Redis
 * (beside its list), per store in memory. Older ones are dropped.
 *
 * @example
 * ```ts
 * import { SET_ASIDE_KEPT } from "./message_limits.ts";
 * console.log(SET_ASIDE_KEPT); // 100
 * ```
 */
export const SET_ASIDE_KEPT = 100;

/**
 * Why a message was set aside.
 *
 * @example
 * ```ts
 * import type { SetAsideReason } from "@longpoll/redis-longpoll";
 * const reason: SetAsideReason = "too large";
 * console.log(reason); // too large
 * ```
 */
export type SetAsideReason = "too large" | "not UTF-8";

/**
 * A message set aside instead of delivered: what a log line may say of it,
 * never its body.
 *
 * @example
 * ```ts
 * import type { SetAside } from "./message_limits.ts";
 * const aside: SetAside = { uid: "42", reason: "not UTF-8", bytes: 2, hash: "0a1b2c3d4e5f" };
 * console.log(`${aside.reason}, ${aside.bytes} bytes`); // not UTF-8, 2 bytes
 * ```
 */
export interface SetAside {
  /** The uid whose queue held it. */
  readonly uid: string;
  /** Why it can't be delivered. */
  readonly reason: SetAsideReason;
  /** Its length in bytes. */
  readonly bytes: number;
  /** The first 12 hex digits of the SHA-1 of its bytes, to find it again. */
  readonly hash: string;
}

/**
 * Options of the stores about the messages they hand out.
 *
 * @example
 * ```ts
 * import { MemoryStore, type MessageLimitOptions } from "@longpoll/redis-longpoll";
 * const options: MessageLimitOptions = { maxMessageBytes: 1024, onSetAside: (aside) => console.log(aside.reason) };
 * await new MemoryStore(options).close();
 * ```
 */
export interface MessageLimitOptions {
  /**
   * Largest message handed out, in UTF-8 bytes: a larger one is set aside
   * (in Redis, checked there, so it never reaches the process), and the
   * messages of one batch add up to at most this many bytes (the first
   * one always goes).
   * @default {4194304}
   */
  maxMessageBytes?: number;
  /**
   * Told once of each message set aside, to count and log it.
   * @default {a function that does nothing}
   */
  onSetAside?: (aside: SetAside) => void;
}

/**
 * The checked options.
 *
 * @example
 * ```ts
 * import { MessageLimits } from "./message_limits.ts";
 * const limits = new MessageLimits({ maxMessageBytes: 4 }, "MemoryStore");
 * console.log(limits.fits("four"), limits.fits("fünf")); // true false
 * ```
 */
export class MessageLimits {
  /** Largest message handed out, and most bytes in one batch. */
  readonly maxBytes: number;
  readonly #onSetAside: (aside: SetAside) => void;

  /** Checks `options`; `owner` names the store in the error. */
  constructor(options: MessageLimitOptions, owner: string) {
    const max = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(
        `Cannot create ${owner}: "maxMessageBytes" must be a whole number of at least 1, got ${max}`,
      );
    }
    this.maxBytes = max;
    this.#onSetAside = options.onSetAside ?? (() => {});
  }

  /** True when `message` is at most `maxBytes` in UTF-8. */
  fits(message: string): boolean {
    return byteLengthOf(message) <= this.maxBytes;
  }

  /** Reports `aside`. */
  setAside(aside: SetAside): void {
    this.#onSetAside(aside);
  }
}

const ENCODER = new TextEncoder();
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The length of `message` in UTF-8 bytes.
 *
 * @example
 * ```ts
 * import { byteLengthOf } from "./message_limits.ts";
 * console.log(byteLengthOf("é🎉")); // 6
 * ```
 */
export function byteLengthOf(message: string): number {
  // Counted, not encoded: no copy of the message on every pop.
  let bytes = message.length;
  for (let i = 0; i < message.length; i++) {
    const unit = message.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) bytes += 1;
    else if (unit >= 0xd800 && unit < 0xdc00 && _isLowSurrogate(message.charCodeAt(i + 1))) {
      bytes += 2; // a pair: 4 bytes for its 2 units
      i++;
    } else bytes += 2; // 3 bytes, or a lone surrogate written as U+FFFD
  }
  return bytes;
}

function _isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit < 0xe000;
}

/**
 * The first 12 hex digits of the SHA-1 of `bytes` (of the UTF-8 of a
 * string), as Redis's `redis.sha1hex` starts.
 *
 * @example
 * ```ts
 * import { shortHashOf } from "./message_limits.ts";
 * console.log(await shortHashOf("abc")); // a9993e364706
 * ```
 */
export async function shortHashOf(bytes: Uint8Array | string): Promise<string> {
  const data = typeof bytes === "string" ? ENCODER.encode(bytes) : bytes;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", data as BufferSource));
  return [...digest.subarray(0, 6)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * What may be said of `message`, of `uid`, set aside for `reason`: its
 * length in bytes (UTF-8 for a string) and short hash, never its body.
 *
 * @example
 * ```ts
 * import { setAsideOf } from "./message_limits.ts";
 * console.log(await setAsideOf("42", "too large", "abc")); // { uid: "42", reason: "too large", bytes: 3, hash: "a9993e364706" }
 * ```
 */
export async function setAsideOf(
  uid: string,
  reason: SetAsideReason,
  message: Uint8Array | string,
): Promise<SetAside> {
  const bytes = typeof message === "string" ? ENCODER.encode(message) : message;
  return { uid, reason, bytes: bytes.length, hash: await shortHashOf(bytes) };
}

/**
 * The text of `bytes`, or undefined when they are not valid UTF-8 (such a
 * message is set aside). A byte order mark is kept as text.
 *
 * @example
 * ```ts
 * import { textOf } from "./message_limits.ts";
 * console.log(textOf(new Uint8Array([104, 105])), textOf(new Uint8Array([0xff]))); // hi undefined
 * ```
 */
export function textOf(bytes: Uint8Array): string | undefined {
  if (bytes.length <= _ASCII_FAST_MAX && _isAscii(bytes)) {
    // A short ASCII message, the usual one: a fifth of the decoder's cost.
    return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Up to this many bytes, checking for ASCII in JavaScript beats calling the decoder. */
const _ASCII_FAST_MAX = 64;

function _isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] > 0x7f) return false;
  return true;
}
