/**
 * The flags of `deno task bench` and the sizes they choose.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Runtime, RUNTIMES } from "./runtime.ts";

/** Scenarios that can be chosen. */
export const SCENARIOS = ["held", "wake", "hit", "cross", "scale", "burst", "sse"] as const;
/** One scenario. */
export type Scenario = typeof SCENARIOS[number];

/** What one run does. */
export interface BenchOptions {
  /** Scenarios to run. */
  scenarios: Set<Scenario>;
  /** Runtimes to run ours on, in order. */
  runtimes: Runtime[];
  /** Held counts of the held sweep, rising. */
  heldSteps: number[];
  /** Wake messages at 10k held (the figure). */
  wakeMessages: number;
  /** Wake messages at the other steps. */
  wakeMessagesOtherSteps: number;
  /** Hit: uid counts the requests rotate over. */
  hitUids: number[];
  /** Hit: keep-alive connections of wrk. */
  hitConnections: number;
  /** Hit: untimed warm-up, in s. */
  hitWarmupS: number;
  /** Hit: length of a round, in s. */
  hitRoundS: number;
  /** Hit: rounds, the best kept. */
  hitRounds: number;
  /** Cross-check: polls held by the second client. */
  crossHeld: number;
  /** Cross-check: wakes timed by the second client. */
  crossWakes: number;
  /** Wake: LPUSH + RPOP pairs of the notification cost. */
  notifyPairs: number;
  /** Server processes of the scale scenario. */
  scaleProcesses: number;
  /** Polls per process of the scale scenario. */
  scalePolls: number;
  /** Run Nchan beside ours. */
  nchan: boolean;
  /** Run ours with early headers too. */
  early: boolean;
  /** Run each runtime's floors: the bare hold (held) and the bare pop (hit). */
  floors: boolean;
  /** Run the embedded default (`MemoryStore`) against Nchan's memory store too. */
  memory: boolean;
  /** Markdown output. */
  out: string;
  /** SVG chart output; "" for none. */
  chart: string;
  /** Sizes in words, for the report. */
  sizes: string;
  /** Print usage and stop. */
  help: boolean;
}

/** Usage text. */
export const USAGE = `deno task bench [flags]

  --runtime deno,bun,node          runtimes to run ours on, each through its serve task
                                   (default: all three)
  --scenarios held,wake,hit,cross,scale,burst,sse  scenarios to run (default: all; --quick:
                                   all but scale)
  --quick                          a smoke run in under 2 minutes: 1k held, 100 wakes, hit 1 round
                                   of 2 s, cross-check 1k held and 100 wakes, burst, no scale
  --full                           full sizes: wake 2,000 msgs at every step, scale 4 x 19,000
                                   (default: wake 2,000 at 10k and 500 at the other steps,
                                   scale 4 x 5,000)
  --held-steps 1000,5000,10000,19000   held counts of the held/wake sweep
  --wake-messages N                messages at 10k held (and at every step with --full)
  --hit-seconds N                  hit: length of a wrk round (default 5)
  --hit-rounds N                   hit: rounds, the best kept (default 3)
  --cross-held N --cross-wakes N   the second client's held polls and wakes (default 1000, 200)
  --scale-processes N --scale-polls N  scale scenario: processes and polls per process
  --no-nchan                       skip the Nchan peer
  --no-early                       skip ours with EARLY_HEADERS=true
  --no-floors                      skip each runtime's floors (the bare hold, the bare pop)
  --memory                         also the embedded default on a MemoryStore against Nchan's
                                   memory store (on with --full)
  --out PATH                       markdown table (default bench/results/latest.md)
  --chart PATH                     SVG chart (default bench/chart.svg; "" for none)
`;

/**
 * Parses the flags.
 *
 * @example
 * ```ts
 * import { parseBenchFlags } from "./flags.ts";
 * const options = parseBenchFlags(["--scenarios", "hit", "--runtime", "bun", "--no-nchan"]);
 * console.log([...options.scenarios], options.runtimes, options.nchan); // [ "hit" ] [ "bun" ] false
 * console.log(parseBenchFlags(["--full"]).memory, parseBenchFlags([]).memory); // true false
 * ```
 */
export function parseBenchFlags(args: readonly string[]): BenchOptions {
  let values;
  try {
    values = parseArgs({
      args: [...args],
      options: {
        "scenarios": { type: "string" },
        "runtime": { type: "string" },
        "full": { type: "boolean", default: false },
        "quick": { type: "boolean", default: false },
        "held-steps": { type: "string" },
        "wake-messages": { type: "string" },
        "hit-seconds": { type: "string" },
        "hit-rounds": { type: "string" },
        "cross-held": { type: "string" },
        "cross-wakes": { type: "string" },
        "scale-processes": { type: "string" },
        "scale-polls": { type: "string" },
        "no-nchan": { type: "boolean", default: false },
        "no-early": { type: "boolean", default: false },
        "no-floors": { type: "boolean", default: false },
        "memory": { type: "boolean", default: false },
        "out": { type: "string" },
        "chart": { type: "string" },
        "help": { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new Error(`Cannot read flags: ${(error as Error).message}`);
  }
  const full = values.full === true;
  const quick = values.quick === true;
  if (full && quick) {
    throw new Error('Cannot read flags: "--full" and "--quick" exclude each other');
  }
  const scenarios = new Set<Scenario>();
  const all = quick ? "held,wake,hit,cross,burst,sse" : SCENARIOS.join(",");
  for (const name of (values.scenarios ?? all).split(",")) {
    const trimmed = name.trim() as Scenario;
    if (!SCENARIOS.includes(trimmed)) {
      throw new Error(
        `Cannot read "--scenarios": expected some of ${SCENARIOS.join(", ")}, got "${name}"`,
      );
    }
    scenarios.add(trimmed);
  }
  const runtimes: Runtime[] = [];
  for (const name of (values.runtime ?? RUNTIMES.join(",")).split(",")) {
    const trimmed = name.trim() as Runtime;
    if (!RUNTIMES.includes(trimmed)) {
      throw new Error(
        `Cannot read "--runtime": expected some of ${RUNTIMES.join(", ")}, got "${name}"`,
      );
    }
    if (!runtimes.includes(trimmed)) runtimes.push(trimmed);
  }
  const heldSteps = values["held-steps"] === undefined
    ? quick ? [1_000] : [1_000, 5_000, 10_000, 19_000]
    : values["held-steps"].split(",").map((text) => _count("--held-steps", text, 19_500));
  heldSteps.sort((a, b) => a - b);
  const wakeMessages = _count(
    "--wake-messages",
    values["wake-messages"] ?? (quick ? "100" : "2000"),
    100_000,
  );
  const options: BenchOptions = {
    scenarios,
    runtimes,
    heldSteps,
    wakeMessages,
    wakeMessagesOtherSteps: full ? wakeMessages : Math.min(500, wakeMessages),
    hitUids: [1, 64],
    hitConnections: 64,
    hitWarmupS: quick ? 1 : 2,
    hitRoundS: _count("--hit-seconds", values["hit-seconds"] ?? (quick ? "2" : "5"), 600),
    hitRounds: _count("--hit-rounds", values["hit-rounds"] ?? (quick ? "1" : "3"), 20),
    crossHeld: _count("--cross-held", values["cross-held"] ?? "1000", 15_000),
    crossWakes: _count("--cross-wakes", values["cross-wakes"] ?? (quick ? "100" : "200"), 100_000),
    notifyPairs: quick ? 20_000 : 200_000,
    scaleProcesses: _count("--scale-processes", values["scale-processes"] ?? "4", 16),
    scalePolls: _count("--scale-polls", values["scale-polls"] ?? (full ? "19000" : "5000"), 19_000),
    nchan: values["no-nchan"] !== true,
    early: values["no-early"] !== true,
    floors: values["no-floors"] !== true,
    memory: full || values.memory === true,
    out: values.out ?? new URL("./results/latest.md", import.meta.url).pathname,
    chart: values.chart ?? new URL("./chart.svg", import.meta.url).pathname,
    sizes: "",
    help: values.help === true,
  };
  options.sizes = [
    `held steps ${heldSteps.join(", ")}`,
    `wake ${wakeMessages} msgs at 10k held, ${options.wakeMessagesOtherSteps} at other steps`,
    `hit wrk -t1 -c${options.hitConnections} on ${options.hitUids.join(" and ")} uids, ` +
    `best of ${options.hitRounds} × ${options.hitRoundS} s after ${options.hitWarmupS} s of warm-up`,
    `cross-check ${options.crossHeld} held, ${options.crossWakes} wakes`,
    `scale ${options.scaleProcesses} × ${options.scalePolls} polls`,
    options.memory ? "embedded default and Nchan in memory" : "Redis setups only",
  ].join("; ") + (full ? " (--full)" : quick ? " (--quick)" : " (default sizes)");
  return options;
}

function _count(flag: string, text: string, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < 1 || value > max) {
    throw new Error(
      `Cannot read "${flag}": expected a whole number from 1 to ${max}, got "${text}"`,
    );
  }
  return value;
}
