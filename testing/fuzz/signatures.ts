/**
 * Signed-link query pairs for the fuzz tests: valid ones for the seed and
 * ghost uids, and near-misses of them.
 *
 * @module
 */
import type { Prng } from "../prng.ts";
import { ENCODER, SECRET } from "./config.ts";
import { randomHex } from "./text.ts";

/** Signatures the signed server accepts, plus near-misses of them. */
export class Signatures {
  readonly #valid = new Map<string, string[][]>();

  /** Signs every seed uid and 50 ghost uids, with no expiry, a future and a past one. */
  static async create(seeds: readonly string[]): Promise<Signatures> {
    const signatures = new Signatures();
    const key = await crypto.subtle.importKey(
      "raw",
      ENCODER.encode(SECRET),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const hex = async (text: string) =>
      Array.from(
        new Uint8Array(await crypto.subtle.sign("HMAC", key, ENCODER.encode(text))),
        (byte) => byte.toString(16).padStart(2, "0"),
      ).join("");
    const future = Math.floor(Date.now() / 1000) + 3600;
    const past = Math.floor(Date.now() / 1000) - 10;
    for (const uid of [...seeds, ...Array.from({ length: 50 }, (_, i) => `ghost-${i}`)]) {
      signatures.#valid.set(uid, [
        [`sign=${await hex(uid)}`],
        [`sign=${await hex(`${uid}:${future}`)}`, `exp=${future}`],
        [`sign=${await hex(`${uid}:${past}`)}`, `exp=${past}`],
      ]);
    }
    return signatures;
  }

  /** Query pairs for `uid`: mostly a valid signature where there is one, else near-misses. */
  pick(rng: Prng, uid: string | undefined): string[] {
    const valid = uid === undefined ? undefined : this.#valid.get(uid);
    return rng.weighted<string[]>([
      [valid ? 55 : 0, () => rng.pick(valid!)],
      [valid ? 5 : 0, () => rng.pick(valid!).map((pair) => pair.toUpperCase())],
      [10, () => [`sign=${randomHex(rng, 64)}`]],
      [4, () => [`sign=${randomHex(rng, rng.range(0, 70))}`]],
      [3, () => [`sign=${"z".repeat(64)}`]],
      [3, () => ["sign="]],
      [5, () => []],
      [5, () => [
        `sign=${randomHex(rng, 64)}`,
        `exp=${
          rng.pick([
            "abc",
            "",
            "1e10",
            "-1",
            "99999999999999999999",
            "%20123",
            "0x10",
            "4102444800",
            "04102444800",
          ])
        }`,
      ]],
      [2, () => [`sign=${randomHex(rng, 64)}`, `sign=${randomHex(rng, 64)}`]],
    ]);
  }
}
