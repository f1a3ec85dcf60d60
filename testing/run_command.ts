/**
 * Runs a program to its end and returns what it printed, decoded: the one
 * way the tests run a command line (the CLI, the examples, `deno check`).
 *
 * @module
 */

/** What a finished program printed, and its exit code. */
export interface CommandRun {
  /** The exit code. */
  readonly code: number;
  /** What it printed on standard output. */
  readonly stdout: string;
  /** What it printed on standard error. */
  readonly stderr: string;
}

/** Options of {@linkcode runCommand}. */
export interface RunCommandOptions {
  /** The working directory; the test's own by default. */
  cwd?: string | URL;
  /** The environment. */
  env?: Record<string, string>;
  /** True to pass only `env`, nothing of the test's environment. */
  clearEnv?: boolean;
  /** Bytes for standard input; without them, it is empty. */
  stdin?: Uint8Array | string;
}

/**
 * Runs `command` with `args` and resolves once it exits.
 *
 * @example
 * ```ts
 * import { runCommand } from "./run_command.ts";
 * const { code, stdout } = await runCommand(Deno.execPath(), ["eval", "console.log(6 * 7)"]);
 * console.log(code, stdout.trim()); // 0 42
 * ```
 */
export async function runCommand(
  command: string,
  args: string[],
  options: RunCommandOptions = {},
): Promise<CommandRun> {
  const child = new Deno.Command(command, {
    args,
    cwd: options.cwd,
    env: options.env,
    clearEnv: options.clearEnv ?? false,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const input = options.stdin ?? "";
  await writer.write(typeof input === "string" ? new TextEncoder().encode(input) : input);
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}
