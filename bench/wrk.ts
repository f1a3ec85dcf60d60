/**
 * Runs Debian's `wrk` (an HTTP load tool written in C) with the hit
 * script `wrk_hit.lua`, and measures its own CPU while it runs, so that a
 * figure capped by the load tool rather than by the server can be told.
 *
 * @module
 */
import { readCpuMs } from "./proc_stats.ts";

/** Above this share of one core, a figure is capped by the load tool ("client-bound"). */
export const CLIENT_BOUND_PCT = 90;

const SCRIPT = new URL("./wrk_hit.lua", import.meta.url).pathname;

/** Options of {@linkcode runWrk}. */
export interface WrkOptions {
  /** Poll URL up to the uid, e.g. `http://127.0.0.1:8888/?uid=`. */
  url: string;
  /** Keep-alive connections (`-c`); one wrk thread drives them all (`-t1`). */
  connections: number;
  /** Run time, in s. */
  durationS: number;
  /** Requests rotate over this many uids: `<uidPrefix>0` to `<uidPrefix><uids - 1>`. */
  uids: number;
  /** Uid prefix. */
  uidPrefix: string;
  /** When set, every answer is checked against this body (for a short check run). */
  expectBody?: string;
  /** An answer slower than this counts as a timeout, in s. @default {2} */
  timeoutS?: number;
}

/** What one wrk run measured. */
export interface WrkResult {
  /** Run time as wrk measured it, in ms. */
  durationMs: number;
  /** Completed answers. */
  requests: number;
  /** Completed answers with status 399 or below. */
  ok: number;
  /** Connect, read and write errors, timeouts, and statuses above 399. */
  errors: number;
  /** The same errors, by kind. */
  errorsByKind: Record<"connect" | "read" | "write" | "status" | "timeout", number>;
  /** Latency percentiles and maximum, in ms. */
  p50: number;
  p99: number;
  max: number;
  /** With `expectBody`: answers that were 200 with that body, and the others. */
  matched: number;
  mismatched: number;
  /** CPU of the wrk process over the run (`/proc/<pid>/stat` utime + stime), in % of one core. */
  cpuPct: number;
}

/**
 * Why wrk can't run here, or undefined when it can.
 *
 * @example
 * ```ts
 * import { wrkMissing } from "./wrk.ts";
 * const why = await wrkMissing();
 * console.log(why === undefined || why.includes("apt-get install wrk")); // true
 * ```
 */
export async function wrkMissing(): Promise<string | undefined> {
  try {
    await new Deno.Command("wrk", { args: ["--version"], stdout: "null", stderr: "null" })
      .output();
    return undefined;
  } catch {
    return "wrk is not on PATH (Debian: apt-get install wrk)";
  }
}

/**
 * Runs `wrk -t1 -c<connections> -d<durationS>s --latency -s wrk_hit.lua`
 * and reads the JSON line the script prints. While it runs, samples the wrk
 * process's CPU time every 50 ms.
 *
 * @example
 * ```ts ignore
 * import { runWrk } from "./wrk.ts";
 * const run = await runWrk({
 *   url: "http://127.0.0.1:8888/?uid=",
 *   connections: 64,
 *   durationS: 5,
 *   uids: 64,
 *   uidPrefix: "hit",
 * });
 * console.log(run.ok / (run.durationMs / 1000), run.cpuPct);
 * ```
 */
export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const args = [
    "-t1",
    `-c${options.connections}`,
    `-d${options.durationS}s`,
    `--timeout`,
    `${options.timeoutS ?? 2}s`,
    "-s",
    SCRIPT,
    options.url,
    "--",
    String(options.uids),
    options.uidPrefix,
    ...(options.expectBody === undefined ? [] : [options.expectBody]),
  ];
  const child = new Deno.Command("wrk", { args, stdout: "piped", stderr: "piped" }).spawn();
  const samples: [at: number, cpuMs: number][] = [];
  const sample = () => {
    try {
      samples.push([performance.now(), readCpuMs(child.pid)]);
    } catch {
      // exited and reaped
    }
  };
  sample();
  const timer = setInterval(sample, 50);
  const output = await child.output().finally(() => clearInterval(timer));
  const stdout = new TextDecoder().decode(output.stdout);
  const line = stdout.split("\n").find((text) => text.startsWith('{"durationUs"'));
  if (!output.success || line === undefined) {
    throw new Error(
      `Cannot run wrk ${args.join(" ")}: ${new TextDecoder().decode(output.stderr)}${stdout}`,
    );
  }
  const raw = JSON.parse(line) as Record<string, number>;
  const errorsByKind = {
    connect: raw.connect,
    read: raw.read,
    write: raw.write,
    status: raw.status,
    timeout: raw.timeout,
  };
  const [first, last] = [samples[0], samples[samples.length - 1]];
  return {
    durationMs: raw.durationUs / 1000,
    requests: raw.requests,
    ok: raw.requests - raw.status,
    errors: Object.values(errorsByKind).reduce((sum, n) => sum + n, 0),
    errorsByKind,
    p50: raw.p50Us / 1000,
    p99: raw.p99Us / 1000,
    max: raw.maxUs / 1000,
    matched: raw.matched,
    mismatched: raw.mismatched,
    cpuPct: last[0] > first[0] ? ((last[1] - first[1]) / (last[0] - first[0])) * 100 : NaN,
  };
}
