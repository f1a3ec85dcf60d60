/**
 * The table of the simulation's figures, one row per fault and mode, in
 * Markdown, as deploy/README.md shows it.
 *
 * @module
 */
import type { LatencySummary } from "../testing/stats.ts";
import type { ScenarioResult } from "./scenario.ts";

/**
 * The figures as a Markdown table; `notRun` lists `fault/mode` rows left out.
 *
 * @example
 * ```ts ignore
 * import { resultsTable } from "./table.ts";
 * console.log(resultsTable([], ["loss/default"]));
 * ```
 */
export function resultsTable(
  results: readonly ScenarioResult[],
  notRun: readonly string[] = [],
): string {
  const header = [
    "fault",
    "mode",
    "acked / uncertain",
    "lost",
    "dup. marked / unmarked",
    "stuck at heal: n, first / last (s)",
    "wake p50 / p99 (ms) before",
    "during",
    "after",
  ];
  const rows = results.map((r) => [
    r.fault,
    r.atLeastOnce ? "at-least-once" : "default",
    `${r.acknowledged} / ${r.uncertain}`,
    String(r.lost.length) + (r.loggedLost > 0 ? ` (${r.loggedLost} logged)` : ""),
    `${r.duplicatesMarked} / ${r.duplicatesUnmarked}`,
    r.stuck.count === 0 ? "0" : `${r.stuck.count}, ${_s(r.stuck.firstMs)} / ${_s(r.stuck.lastMs)}`,
    _wake(r.wake.before),
    _wake(r.wake.during),
    _wake(r.wake.after),
  ]);
  for (const row of notRun) rows.push([...row.split("/"), "not run", "", "", "", "", "", ""]);
  return [header, header.map(() => "---"), ...rows].map((cells) => `| ${cells.join(" | ")} |`)
    .join("\n");
}

function _wake(summary: LatencySummary): string {
  return summary.count === 0 ? "–" : `${Math.round(summary.p50)} / ${Math.round(summary.p99)}`;
}

function _s(ms: number): string {
  return (ms / 1000).toFixed(2);
}
