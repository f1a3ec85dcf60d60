/**
 * `deno task cli secret`: prints a new secret for `SIGN_SECRET` or
 * `PUBLISH_TOKEN`.
 *
 * @module
 */
import { MIN_SECRET_BYTES } from "../src/server/setting_values.ts";
import { type CliCommand, EXIT, readCommandArgs, UsageError } from "./cli_command.ts";

/**
 * A new secret: 32 random bytes, in hex (64 characters).
 *
 * @example
 * ```ts
 * import { newSecret } from "./cli_secret.ts";
 * console.log(/^[0-9a-f]{64}$/.test(newSecret())); // true
 * ```
 */
export function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(MIN_SECRET_BYTES));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * The `secret` command.
 *
 * @example
 * ```ts ignore
 * import { SECRET_COMMAND } from "./cli_secret.ts";
 * await SECRET_COMMAND.run([]); // prints 64 hex digits
 * ```
 */
export const SECRET_COMMAND: CliCommand = {
  name: "secret",
  usage: "",
  summary: "print a new secret for SIGN_SECRET or PUBLISH_TOKEN (32 random bytes, hex)",
  run(args) {
    const { positionals } = readCommandArgs("secret", args, {});
    if (positionals.length > 0) {
      throw new UsageError(`Cannot run "secret": it takes no arguments, got "${positionals[0]}"`);
    }
    console.log(newSecret());
    return Promise.resolve(EXIT.ok);
  },
};
