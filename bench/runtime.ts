/**
 * The runtimes the bench measures ours on, and how each one's full server
 * is started: through its serve task in `deno.json` (`deno task serve`,
 * `deno task serve:bun`, `deno task serve:node`), so the bench runs exactly
 * what a user runs.
 *
 * @module
 */

/** Runtimes that can be chosen with `--runtime`. */
export const RUNTIMES = ["deno", "bun", "node"] as const;
/** One runtime. */
export type Runtime = typeof RUNTIMES[number];

/** Names in the tables. */
export const RUNTIME_LABELS: Record<Runtime, string> = { deno: "Deno", bun: "Bun", node: "Node" };

/** The serve task of each runtime. */
export const SERVE_TASKS: Record<Runtime, string> = {
  deno: "serve",
  bun: "serve:bun",
  node: "serve:node",
};

const ROOT = new URL("..", import.meta.url).pathname;

/** A runtime ready to start the server: its task's last step, the earlier ones done. */
export interface PreparedRuntime {
  /** Which runtime. */
  runtime: Runtime;
  /** `deno task <task>`. */
  task: string;
  /** The runtime and its version, e.g. `bun 1.4.5`. */
  version: string;
  /** The program of the server process (`deno` is this Deno). */
  command: string;
  /** Its arguments. */
  args: string[];
}

/**
 * Splits a task into its steps (`a && b`), each into words. The serve tasks
 * hold no quotes or shell syntax beyond `&&`; any other task is refused.
 *
 * @example
 * ```ts
 * import { taskSteps } from "./runtime.ts";
 * console.log(taskSteps("deno bundle -o x.mjs a.ts && bun x.mjs"));
 * // [ [ "deno", "bundle", "-o", "x.mjs", "a.ts" ], [ "bun", "x.mjs" ] ]
 * ```
 */
export function taskSteps(task: string): string[][] {
  if (/["'`$|;<>()\\]/.test(task)) {
    throw new Error(`Cannot run the task "${task}": it holds shell syntax beyond "&&"`);
  }
  return task.split("&&").map((step) => step.trim().split(/\s+/));
}

/**
 * Reads the runtime's serve task from `deno.json`, runs every step but the
 * last (bundling, for Bun and Node) and returns the last one, the server.
 * Throws with the reason where the runtime can't run here.
 *
 * @example
 * ```ts ignore
 * import { prepareRuntime } from "./runtime.ts";
 * const bun = await prepareRuntime("bun");
 * console.log(bun.command, bun.args); // bun [ "deploy/.build/serve_bun.mjs" ]
 * ```
 */
export async function prepareRuntime(runtime: Runtime): Promise<PreparedRuntime> {
  const task = SERVE_TASKS[runtime];
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  const text = config.tasks?.[task];
  if (typeof text !== "string") throw new Error(`Cannot find the task "${task}" in deno.json`);
  const steps = taskSteps(text).map((
    [program, ...args],
  ) => [program === "deno" ? Deno.execPath() : program, ...args]);
  const [command, ...args] = steps[steps.length - 1];
  const version = await _version(command);
  if (version === undefined) throw new Error(`"${command}" is not on PATH`);
  const number = /\d+\.\d+\.\d+/.exec(version)?.[0] ?? version;
  for (const [program, ...stepArgs] of steps.slice(0, -1)) {
    const output = await new Deno.Command(program, {
      args: stepArgs,
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(
        `Cannot prepare "deno task ${task}": ${program} ${stepArgs.join(" ")} failed: ${
          new TextDecoder().decode(output.stderr).trim()
        }`,
      );
    }
  }
  return { runtime, task, version: `${runtime} ${number}`, command, args };
}

async function _version(binary: string): Promise<string | undefined> {
  try {
    const output = await new Deno.Command(binary, {
      args: ["--version"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return output.success
      ? new TextDecoder().decode(output.stdout).split("\n")[0].trim()
      : undefined;
  } catch {
    return undefined;
  }
}
