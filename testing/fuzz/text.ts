/**
 * Random text for the fuzz tests: junk, Latin-1, percent-encoded bytes,
 * awkward Unicode, hex; all drawn from a seeded {@linkcode Prng}.
 *
 * @module
 */
import type { Prng } from "../prng.ts";

/** Text of `length` characters, punctuation, U+2028 and emoji, some percent-encoded. */
export function junkText(rng: Prng, length: number): string {
  const alphabet = "abcXYZ019 !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\u00e9\u2028\ud83d\ude00";
  let text = "";
  for (let i = 0; i < length; i++) {
    text += rng.chance(0.15) ? percentBytes(rng, 1) : alphabet[rng.int(alphabet.length)];
  }
  return text;
}

/** Printable Latin-1, which `Headers` accepts. */
export function latin1(rng: Prng, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) {
    const code = rng.chance(0.9) ? rng.range(0x20, 0x7e) : rng.range(0xa0, 0xff);
    text += String.fromCharCode(code);
  }
  return text;
}

/** `count` random percent-encoded bytes, in either case. */
export function percentBytes(rng: Prng, count: number): string {
  let text = "";
  for (let i = 0; i < count; i++) {
    const hex = rng.int(256).toString(16).padStart(2, "0");
    text += `%${rng.chance(0.5) ? hex.toUpperCase() : hex}`;
  }
  return text;
}

/** `text` with about a third of its characters percent-encoded. */
export function percentSome(rng: Prng, text: string): string {
  let out = "";
  for (const char of text) {
    out += rng.chance(0.3) ? `%${char.charCodeAt(0).toString(16).padStart(2, "0")}` : char;
  }
  return out;
}

/** `length` characters that trip encoders: U+2028, a BOM, a lone surrogate, emoji. */
export function unicode(rng: Prng, length: number): string {
  const pool = [
    "\u00e9",
    "\u20ac",
    "\ud83d\ude00",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\ud800",
    "\uff41",
    "\u200b",
  ];
  return Array.from({ length }, () => rng.pick(pool)).join("");
}

/** `length` random lowercase hex digits. */
export function randomHex(rng: Prng, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) text += rng.int(16).toString(16);
  return text;
}

/** `text` cut to `length` characters, with an ellipsis where it was cut. */
export function clip(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length)}…` : text;
}
