/**
 * `deno task sim`: the multi-host simulation. Without flags, the short
 * version CI runs (two faults); `--full` runs every fault in both modes and
 * prints the table. `--faults=a,b` and `--modes=default,at-least-once` pick
 * others. As root, with `ip` and `nft`.
 *
 * It removes what a crashed earlier run left first, and its own namespaces
 * (and every process in them) on exit, SIGINT or SIGTERM.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { FAULTS } from "./faults.ts";
import { removeNamespace, removeStaleNamespaces, SIM_PREFIX, simNamespaces } from "./netns.ts";
import { runScenario, type ScenarioResult } from "./scenario.ts";
import { resultsTable } from "./table.ts";

/** The runs of the short version: `[fault, at-least-once]`. */
export const SHORT_RUNS: readonly [string, boolean][] = [
  ["kill-master", true],
  ["sigstop", false],
];

/**
 * Removes this process's namespaces, and so every process it started in them.
 *
 * @example
 * ```ts ignore
 * await removeOwnNamespaces();
 * ```
 */
export async function removeOwnNamespaces(): Promise<void> {
  const own = `${SIM_PREFIX}${Deno.pid}-`;
  for (const netns of (await simNamespaces()).filter((name) => name.startsWith(own))) {
    await removeNamespace(netns);
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      full: { type: "boolean", default: false },
      faults: { type: "string" },
      modes: { type: "string", default: "default,at-least-once" },
      topology: { type: "string", default: "cluster" },
      runtime: { type: "string", default: "deno" },
      users: { type: "string", default: "2000" },
      rate: { type: "string", default: "120" },
      calm: { type: "string", default: "15" },
      json: { type: "string" },
    },
  });
  // An interrupted run exits 130 whichever comes first: this listener, or
  // the run itself failing as its namespaces are removed under it.
  let interrupted = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, async () => {
      interrupted = true;
      console.error(`${signal}: removing the simulation's namespaces`);
      await removeOwnNamespaces();
      Deno.exit(130);
    });
  }
  if (values.topology !== "cluster" && values.topology !== "sentinel") {
    throw new Error(
      `Cannot run the simulation: "--topology" must be cluster or sentinel, got "${values.topology}"`,
    );
  }
  const topology = values.topology;
  if (values.runtime !== "deno" && values.runtime !== "bun") {
    throw new Error(
      `Cannot run the simulation: "--runtime" must be deno or bun, got "${values.runtime}"`,
    );
  }
  const runtime = values.runtime;
  const stale = await removeStaleNamespaces();
  if (stale.length > 0) console.error(`removed what an earlier run left: ${stale.join(" ")}`);
  const runs: [string, boolean][] = values.full || values.faults !== undefined
    ? (values.faults?.split(",") ?? [...FAULTS.keys()]).flatMap((fault) =>
      values.modes.split(",").map((mode) => [fault, mode === "at-least-once"] as [string, boolean])
    )
    : [...SHORT_RUNS];
  const results: ScenarioResult[] = [];
  const notRun: string[] = [];
  try {
    for (const [name, atLeastOnce] of runs) {
      const fault = FAULTS.get(name);
      if (fault === undefined) {
        throw new Error(
          `Cannot run fault "${name}": known ones are ${[...FAULTS.keys()].join(", ")}`,
        );
      }
      const mode = atLeastOnce ? "at-least-once" : "default";
      try {
        const result = await runScenario({
          fault,
          atLeastOnce,
          topology,
          runtime,
          users: Number(values.users),
          rate: Number(values.rate),
          calmSeconds: Number(values.calm),
          log: (line) => console.error(`[${name}/${mode}] ${line}`),
        });
        results.push(result);
        console.error(
          `[${name}/${mode}] ${JSON.stringify({ ...result, lost: result.lost.slice(0, 20) })}`,
        );
      } catch (error) {
        console.error(`[${name}/${mode}] failed: ${(error as Error).stack}`);
        notRun.push(`${name}/${mode}`);
      }
    }
  } finally {
    await removeOwnNamespaces();
  }
  if (interrupted) Deno.exit(130);
  if (values.json !== undefined) {
    await Deno.writeTextFile(values.json, JSON.stringify(results, null, 1));
  }
  console.log(resultsTable(results, notRun));
  Deno.exit(notRun.length > 0 ? 1 : 0);
}
