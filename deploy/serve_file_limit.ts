/**
 * The process's open-file limit, for the serve entries of every runtime:
 * from `/proc/self/limits` on Linux, else from `sh -c "ulimit -n"`.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/**
 * Reads the soft limit on open files (`ulimit -n`) of this process.
 * Returns undefined where it is unlimited or can't be read (no `/proc`,
 * and no permission to run `sh`).
 *
 * @example
 * ```ts ignore
 * import { fileLimit } from "./serve_file_limit.ts";
 * console.log(fileLimit()); // 1024, under `ulimit -n 1024`
 * ```
 */
export function fileLimit(): number | undefined {
  return _fromProc() ?? _fromShell();
}

function _fromProc(): number | undefined {
  try {
    const limits = readFileSync("/proc/self/limits", "utf8");
    return _number(/^Max open files\s+(\S+)/m.exec(limits)?.[1]);
  } catch {
    return undefined;
  }
}

function _fromShell(): number | undefined {
  if (!_mayRunShell()) return undefined;
  try {
    return _number(execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim());
  } catch {
    return undefined;
  }
}

/** Under Deno without `--allow-run`, running `sh` would prompt on a terminal. */
function _mayRunShell(): boolean {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  return deno === undefined ||
    deno.permissions.querySync({ name: "run", command: "sh" }).state === "granted";
}

function _number(text: string | undefined): number | undefined {
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}
