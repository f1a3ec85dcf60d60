/**
 * Reads a process's memory, CPU time and open files from `/proc`.
 *
 * @module
 */

/** Clock ticks per second of `/proc/<pid>/stat` times; Linux uses 100 on x86_64 and arm64. */
let _ticksPerSecond = 100;

/**
 * Reads `getconf CLK_TCK` once, so that {@linkcode readCpuMs} converts ticks
 * correctly on kernels that use another value.
 *
 * @example
 * ```ts
 * import { initClockTicks } from "./proc_stats.ts";
 * await initClockTicks();
 * ```
 */
export async function initClockTicks(): Promise<void> {
  try {
    const output = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" })
      .output();
    const value = Number(new TextDecoder().decode(output.stdout).trim());
    if (Number.isInteger(value) && value > 0) _ticksPerSecond = value;
  } catch {
    // keep 100
  }
}

/**
 * Resident set size of a process (`VmRSS`), in KiB.
 *
 * @example
 * ```ts
 * import { readRssKiB } from "./proc_stats.ts";
 * console.log(readRssKiB(Deno.pid) > 0); // true
 * ```
 */
export function readRssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (match === null) throw new Error(`Cannot read RSS: no "VmRSS" in /proc/${pid}/status`);
  return Number(match[1]);
}

/**
 * CPU time used by a process so far (user + system, every thread), in ms.
 *
 * @example
 * ```ts
 * import { readCpuMs } from "./proc_stats.ts";
 * console.log(readCpuMs(Deno.pid) >= 0); // true
 * ```
 */
export function readCpuMs(pid: number): number {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    throw new Error(`Cannot read the CPU time of process ${pid}: it has exited`);
  }
  return _statCpuMs(stat);
}

/**
 * CPU time of each thread of a process, in ms, summed by thread name
 * (`/proc/<pid>/task/<tid>/stat`): the JavaScript thread, the collector's
 * helpers, the runtime's I/O threads.
 *
 * @example
 * ```ts
 * import { initClockTicks, readThreadCpuMs } from "./proc_stats.ts";
 * await initClockTicks();
 * console.log(readThreadCpuMs(Deno.pid).size > 0); // true
 * ```
 */
export function readThreadCpuMs(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const entry of Deno.readDirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${pid}/task/${entry.name}/stat`);
    } catch {
      continue; // the thread ended
    }
    // Numbered threads of a pool (`tokio-runtime-w`, `V8 DefaultWorke`) share one name.
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(/[\d-]+$/, "");
    byName.set(name, (byName.get(name) ?? 0) + _statCpuMs(stat));
  }
  return byName;
}

function _statCpuMs(stat: string): number {
  // The command name may hold spaces and parentheses: fields start after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / _ticksPerSecond;
}

/**
 * Number of open file descriptors of a process.
 *
 * @example
 * ```ts
 * import { countFds } from "./proc_stats.ts";
 * console.log(countFds(Deno.pid) > 2); // true
 * ```
 */
export function countFds(pid: number): number {
  let count = 0;
  for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) count++;
  return count;
}

/**
 * Direct children of a process, from `/proc/<pid>/task/*\/children`.
 *
 * @example
 * ```ts
 * import { childPids } from "./proc_stats.ts";
 * console.log(Array.isArray(childPids(Deno.pid))); // true
 * ```
 */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      const text = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/children`).trim();
      if (text !== "") children.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // the process is gone
  }
  return children;
}
