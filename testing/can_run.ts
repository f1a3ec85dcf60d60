/**
 * Whether a program the tests lean on (redis-server, nginx, bun, node) is
 * installed, so a test can skip, or fail under `REQUIRE_*=1`, with one clear
 * line instead of a spawn error.
 *
 * @module
 */

/**
 * True when `binary` is on PATH and exits 0 when run with `args`; what it
 * prints is dropped.
 *
 * @param args The arguments of a harmless run. @default {["--version"]}
 *
 * @example
 * ```ts
 * import { canRun } from "./can_run.ts";
 * console.log(await canRun(Deno.execPath())); // true
 * console.log(await canRun("no-such-program-here")); // false
 * ```
 */
export async function canRun(binary: string, args: string[] = ["--version"]): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(binary, { args, stdout: "null", stderr: "null" })
      .output();
    return success;
  } catch {
    return false;
  }
}
