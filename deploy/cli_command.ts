/**
 * What every command of `deploy/cli.ts` shares: its shape, the exit codes,
 * and reading its flags so that an unknown one lists the valid ones.
 *
 * @module
 */
import { parseArgs } from "node:util";

/**
 * The exit codes of `deploy/cli.ts`: 0 done (doctor: ready), 1 failed (Redis
 * or the server refused or can't be reached; doctor: not usable), 2 bad
 * usage or a bad setting, 3 doctor: usable, with warnings.
 *
 * @example
 * ```ts
 * import { EXIT } from "./cli_command.ts";
 * console.log(EXIT.usage); // 2
 * ```
 */
export const EXIT: Readonly<{ ok: 0; failure: 1; usage: 2; warnings: 3 }> = Object.freeze({
  ok: 0,
  failure: 1,
  usage: 2,
  warnings: 3,
});

/** One command of the CLI. */
export interface CliCommand {
  /** Its name, the first argument. */
  readonly name: string;
  /** Its arguments, as its usage line shows them. */
  readonly usage: string;
  /** What it does, in one line. */
  readonly summary: string;
  /** Runs it with the arguments after its name; resolves its exit code. */
  run(args: readonly string[]): Promise<number>;
}

/** Thrown on bad usage of a command: the CLI prints it and exits 2. */
export class UsageError extends Error {
  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import { UsageError } from "./cli_command.ts";
   * console.log(new UsageError('Cannot sign: "uid" is missing').name); // UsageError
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The flags of a command: each takes a value, or none (`boolean`). */
export type FlagSpecs = Readonly<Record<string, "string" | "boolean">>;

/** The flags and positionals of a command's arguments. */
export interface CommandArgs {
  /** Flag values, by flag name without dashes. */
  readonly flags: Readonly<Record<string, string | boolean | undefined>>;
  /** The arguments that are not flags. */
  readonly positionals: readonly string[];
}

/**
 * Reads `args` of `command` against its `flags` (the CLI answers `--help`
 * before);
 * throws a {@linkcode UsageError} listing the valid flags for an unknown
 * one, or a flag without its value.
 *
 * @example
 * ```ts
 * import { readCommandArgs } from "./cli_command.ts";
 * const { flags, positionals } = readCommandArgs("sign", ["42", "--exp", "60"], { exp: "string" });
 * console.log(flags.exp, positionals); // 60 [ "42" ]
 * ```
 */
export function readCommandArgs(
  command: string,
  args: readonly string[],
  flags: FlagSpecs,
): CommandArgs {
  const options = Object.fromEntries(
    Object.entries(flags).map(([name, type]) => [name, { type }]),
  );
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options,
      strict: true,
      allowPositionals: true,
    });
    return { flags: values, positionals };
  } catch (error) {
    const valid = [...Object.keys(options), "help"].map((name) => `--${name}`).join(", ");
    const unknown = /^Unknown option '([^']*)'/.exec((error as Error).message);
    throw new UsageError(
      unknown === null
        ? `Cannot run "${command}": ${(error as Error).message}; the flags are ${valid}`
        : `Cannot run "${command}": "${unknown[1]}" is not a flag; the flags are ${valid}`,
    );
  }
}
