/**
 * The burst scenario's table: per runtime, ours one message per poll, ours
 * with `max=`, Nchan (one message per request), and both ratios to Nchan.
 *
 * @module
 */
import { formatNumber, formatRatio } from "./report_table.ts";
import { NAMES } from "./results.ts";
import { BURST_MAX, type BurstResult } from "./scenario_burst.ts";

/**
 * Renders the burst figures as a markdown table; no lines when there are none.
 *
 * @example
 * ```ts
 * import { burstTable } from "./report_burst.ts";
 * const run = { messages: 1000, errors: 0, check: "" };
 * const lines = burstTable([
 *   { ...run, name: "ours on Deno", mode: "one", ms: 280, polls: 1000 },
 *   { ...run, name: "ours on Deno", mode: "batch", ms: 14, polls: 32 },
 *   { ...run, name: "Nchan", mode: "one", ms: 100, polls: 1000 },
 * ]);
 * console.log(lines[2]); // | ours on Deno: time (ms) | 280 | 14 | 100 | 2.80× | 0.14× |
 * ```
 */
export function burstTable(results: readonly BurstResult[]): string[] {
  const find = (name: string, mode: BurstResult["mode"]) =>
    results.find((result) => result.name === name && result.mode === mode);
  const nchan = find(NAMES.nchan, "one");
  const names = [...new Set(results.map((result) => result.name))]
    .filter((name) => name !== NAMES.nchan);
  if (names.length === 0 && nchan === undefined) return [];
  const rows: string[] = [];
  const row = (
    label: string,
    cells: (BurstResult | undefined)[],
    pick: (result: BurstResult) => number,
    digits: number,
  ) => {
    const [one, batch, peer] = cells.map((result) => result && pick(result));
    rows.push(
      `| ${label} | ${formatNumber(one, digits)} | ${formatNumber(batch, digits)} | ${
        formatNumber(peer, digits)
      } | ${formatRatio(one, peer)} | ${formatRatio(batch, peer)} |`,
    );
  };
  for (const name of names.length > 0 ? names : [NAMES.nchan]) {
    const cells = name === NAMES.nchan
      ? [undefined, undefined, nchan]
      : [find(name, "one"), find(name, "batch"), nchan];
    row(`${name}: time (ms)`, cells, (result) => result.ms, 0);
    row(`${name}: polls`, cells, (result) => result.polls, 0);
    row(`${name}: messages per second`, cells, (result) => result.messages / result.ms * 1000, 0);
    row(`${name}: errors`, cells, (result) => result.errors, 0);
  }
  return [
    `| figure | ours, one per poll | ours, max=${BURST_MAX} | Nchan | one/Nchan | max=${BURST_MAX}/Nchan |`,
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
  ];
}
