/**
 * How the Redis store names the keys it keeps beside a producer's list, so
 * that they share the list's Redis Cluster hash slot and can never be the
 * list of another uid.
 *
 * @module
 */

/**
 * Joins a list key to the name of what is kept beside it. A uid may not hold
 * control characters, so no list key holds this one.
 */
const SEPARATOR = "\x1f";
const SLOTS = 16384;
// deno-lint-ignore no-control-regex -- finding control characters is the point
const CONTROL_CHARACTERS = /[\x00-\x1f\x7f]/;

/**
 * The structures kept beside a uid's list (in at-least-once mode, for
 * presence, messages set aside, and stream delivery's history and its
 * floor), or beside the key prefix itself
 * (`limits`: the queue limits in force for every process on the prefix;
 * `aside-index`: a note of each message set aside).
 */
export type SideKind =
  | "inflight"
  | "leases"
  | "presence"
  | "aside"
  | "aside-index"
  | "limits"
  | "history"
  | "history-floor";

/**
 * The key of the structure `kind` kept beside list `key`: `inflight` (a hash
 * of the messages handed out, by delivery id), `leases` (a sorted set of
 * their lease deadlines), `aside` (a list of the messages set aside),
 * `history` (a stream of the uid's messages, in stream delivery) or
 * `history-floor` (a string: the newest id a reader may have missed); on
 * the key prefix itself, `aside-index` (a list saying which uid set aside
 * what). It is in the list's hash slot and can't equal any
 * list key, since it holds a control character (0x1F) that uids may not
 * hold:
 * - `{<key>}\x1f<kind>` when the list key has no hash tag and no `}`;
 * - `{<tag>}<key>\x1f<kind>` otherwise, where `<tag>` is the list key's own
 *   hash tag, or else a short tag found to hash to the list key's slot.
 *
 * @example
 * ```ts
 * import { sideKey } from "./redis_keys.ts";
 * console.log(JSON.stringify(sideKey("Q/MSG42", "inflight"))); // "{Q/MSG42}\u001finflight"
 * console.log(JSON.stringify(sideKey("Q/{team}42", "leases"))); // "{team}Q/{team}42\u001fleases"
 * ```
 */
export function sideKey(key: string, kind: SideKind): string {
  const tag = hashTagOf(key);
  if (tag !== undefined) return `{${tag}}${key}${SEPARATOR}${kind}`;
  if (!key.includes("}")) return `{${key}}${SEPARATOR}${kind}`;
  return `{${_tagOfSlot(keySlot(key))}}${key}${SEPARATOR}${kind}`;
}

/**
 * True when `text` holds a control character (such as 0x1F, which side keys
 * use as their separator).
 *
 * @example
 * ```ts
 * import { hasControlCharacters } from "./redis_keys.ts";
 * console.log(hasControlCharacters("a\nb"), hasControlCharacters("a b")); // true false
 * ```
 */
export function hasControlCharacters(text: string): boolean {
  return CONTROL_CHARACTERS.test(text);
}

/**
 * The list key of `uid` for a call whose side keys must stay apart from
 * every list: refused with a TypeError naming `action` when the uid holds
 * control characters.
 *
 * @example
 * ```ts
 * import { listKeyOf } from "./redis_keys.ts";
 * console.log(listKeyOf("Q/MSG", "42", "take")); // Q/MSG42
 * ```
 */
export function listKeyOf(prefix: string, uid: string, action: string): string {
  if (hasControlCharacters(uid)) {
    throw new TypeError(`Cannot ${action}: "uid" holds control characters`);
  }
  return prefix + uid;
}

/**
 * The hash tag of `key` as Redis Cluster reads it: what lies between the
 * first `{` and the first `}` after it, when that is not empty.
 *
 * @example
 * ```ts
 * import { hashTagOf } from "./redis_keys.ts";
 * console.log(hashTagOf("a{b}c{d}"), hashTagOf("a}{b"), hashTagOf("{}x")); // b undefined undefined
 * ```
 */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf("{");
  if (open === -1) return undefined;
  const close = key.indexOf("}", open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}

/**
 * The Redis Cluster hash slot of `key` (CRC16/XMODEM of its UTF-8 bytes,
 * or of its hash tag's, modulo 16384), as `CLUSTER KEYSLOT` answers.
 *
 * @example
 * ```ts
 * import { keySlot } from "./redis_keys.ts";
 * console.log(keySlot("foo"), keySlot("{foo}bar")); // 12182 12182
 * ```
 */
export function keySlot(key: string): number {
  return _crc16(ENCODER.encode(hashTagOf(key) ?? key)) % SLOTS;
}

const ENCODER = new TextEncoder();
let _tags: Uint32Array | undefined;

/** A short tag in `slot`: base-36 numbers are tried once, in order, for all slots. */
function _tagOfSlot(slot: number): string {
  if (_tags === undefined) {
    const tags = new Uint32Array(SLOTS).fill(0xffffffff);
    for (let n = 0, found = 0; found < SLOTS; n++) {
      const tagSlot = _crc16(_ascii(n.toString(36))) % SLOTS;
      if (tags[tagSlot] === 0xffffffff) {
        tags[tagSlot] = n;
        found++;
      }
    }
    _tags = tags;
  }
  return _tags[slot].toString(36);
}

function _ascii(text: string): number[] {
  return Array.from(text, (char) => char.charCodeAt(0));
}

/** CRC16/XMODEM (polynomial 0x1021, initial 0), as Redis Cluster uses. */
function _crc16(bytes: ArrayLike<number> & Iterable<number>): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}
