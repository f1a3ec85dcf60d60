/**
 * Runs `deploy/cli.ts` as a user would, in a process of its own, with only
 * the environment given (plus what Deno needs to find its cache).
 *
 * @module
 */
import { type CommandRun, runCommand } from "./run_command.ts";

/** The CLI's entry, `deploy/cli.ts`. */
export const CLI_ENTRY: string = new URL("../deploy/cli.ts", import.meta.url).pathname;

/** What a finished CLI run printed, and its exit code. */
export type CliRun = CommandRun;

/** Options of {@linkcode runCli}. */
export interface RunCliOptions {
  /** The environment, on top of `PATH`, `HOME` and `DENO_DIR`. */
  env?: Record<string, string>;
  /** Bytes for standard input; without them, it is empty. */
  stdin?: Uint8Array | string;
}

/**
 * Runs `deno run … deploy/cli.ts ...args` with the permissions of
 * `deno task cli` and resolves once it exits.
 *
 * @example
 * ```ts ignore
 * import { runCli } from "./cli_run.ts";
 * const { code, stdout } = await runCli(["secret"]);
 * console.log(code, stdout.trim().length); // 0 64
 * ```
 */
export async function runCli(args: string[], options: RunCliOptions = {}): Promise<CliRun> {
  const inherited = Object.fromEntries(
    ["PATH", "HOME", "DENO_DIR"].flatMap((name) => {
      const value = Deno.env.get(name);
      return value === undefined ? [] : [[name, value]];
    }),
  );
  return await runCommand(Deno.execPath(), [
    "run",
    "--unstable-no-legacy-abort",
    "--unstable-net",
    "--allow-net",
    "--allow-env",
    "--allow-read",
    "--allow-sys",
    "--allow-run=sh",
    CLI_ENTRY,
    ...args,
  ], {
    clearEnv: true,
    env: { ...inherited, NO_COLOR: "1", ...options.env },
    stdin: options.stdin,
  });
}
