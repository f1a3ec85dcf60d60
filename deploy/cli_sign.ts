/**
 * `deno task cli sign <uid> [--exp <seconds from now>]`: prints the `sign`
 * (and `exp`) query parameters of a poll for `uid`, signed with
 * `SIGN_SECRET` as the server checks them.
 *
 * @module
 */
import { DEFAULTS } from "../src/option_defaults.ts";
import { readSetting } from "../src/server/config.ts";
import { HmacSigner } from "../src/signature.ts";
import { validateUid } from "../src/uid.ts";
import { type CliCommand, EXIT, readCommandArgs, UsageError } from "./cli_command.ts";

/** Longest `--exp` accepted: ten years, in seconds. */
const MAX_EXP_SECONDS = 10 * 365 * 24 * 3600;

/**
 * The query parameters that sign a poll of `uid` with the first of
 * `secrets`, valid for `expSeconds` from `nowMs` when given.
 *
 * @example
 * ```ts
 * import { signedQuery } from "./cli_sign.ts";
 * const query = await signedQuery("42", { secrets: ["a".repeat(32)], expSeconds: 60, nowMs: 0 });
 * console.log(query.endsWith("&exp=60")); // true
 * ```
 */
export async function signedQuery(
  uid: string,
  options: { secrets: readonly string[]; expSeconds?: number; nowMs?: number },
): Promise<string> {
  const { secrets, expSeconds, nowMs = Date.now() } = options;
  const exp = expSeconds === undefined ? undefined : Math.floor(nowMs / 1000) + expSeconds;
  const sign = await new HmacSigner({ secret: secrets }).sign(uid, exp);
  return exp === undefined ? `sign=${sign}` : `sign=${sign}&exp=${exp}`;
}

/**
 * The `sign` command.
 *
 * @example
 * ```ts ignore
 * import { SIGN_COMMAND } from "./cli_sign.ts";
 * await SIGN_COMMAND.run(["42", "--exp", "3600"]); // sign=…&exp=…
 * ```
 */
export const SIGN_COMMAND: CliCommand = {
  name: "sign",
  usage: "<uid> [--exp <seconds from now>] [--sign-secret <secret>]",
  summary: "print the sign (and exp) query parameters of a poll for uid, signed with SIGN_SECRET",
  async run(args) {
    const { flags, positionals } = readCommandArgs("sign", args, {
      exp: "string",
      "sign-secret": "string",
    });
    const [uid, extra] = positionals;
    if (extra !== undefined) {
      throw new UsageError(`Cannot sign: it takes one uid, got also "${extra}"`);
    }
    const env = Deno.env.toObject();
    _validUid(uid, readSetting("maxUidBytes", { env }) ?? DEFAULTS.maxUidBytes);
    const secrets = readSetting("secret", {
      flag: flags["sign-secret"] as string | undefined,
      env,
    });
    if (secrets === undefined) {
      throw new UsageError(
        'Cannot sign: "SIGN_SECRET" is not set; set it, or pass --sign-secret, as the server has it',
      );
    }
    const expSeconds = flags.exp === undefined ? undefined : _expSeconds(flags.exp as string);
    console.log(await signedQuery(uid, { secrets, expSeconds }));
    return EXIT.ok;
  },
};

function _validUid(uid: string | undefined, maxBytes: number): asserts uid is string {
  try {
    validateUid(uid ?? null, { maxBytes, action: "sign" });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function _expSeconds(text: string): number {
  const seconds = Number(text);
  if (!/^\d+$/.test(text) || seconds < 1 || seconds > MAX_EXP_SECONDS) {
    throw new UsageError(
      `Cannot sign: "--exp" expects whole seconds from now, from 1 to ${MAX_EXP_SECONDS}, got "${text}"`,
    );
  }
  return seconds;
}
