/**
 * Draws the chart of a bench run as a hand-written SVG: RSS per held poll
 * and p99 wake latency against the number of polls held, ours on each
 * runtime beside Nchan.
 *
 * @module
 */
import type { BenchResults } from "./results.ts";
import type { HeldStep } from "./scenario_held.ts";

const COLORS: Record<string, string> = {
  "ours on Deno": "#1f77b4",
  "ours on Deno, early headers": "#ff7f0e",
  "ours on Bun": "#9467bd",
  "ours on Node": "#8c564b",
  "Nchan": "#2ca02c",
  "bare hold on Deno": "#aec7e8",
  "bare hold on Bun": "#c5b0d5",
  "bare hold on Node": "#c49c94",
  "ours embedded on Deno, memory store": "#17becf",
  "ours embedded on Bun, memory store": "#e377c2",
  "ours embedded on Node, memory store": "#bcbd22",
  "Nchan, memory store": "#98df8a",
};

interface _Series {
  name: string;
  color: string;
  points: [number, number][];
}

/**
 * Renders the SVG text.
 *
 * @example
 * ```ts
 * import { renderChart } from "./chart.ts";
 * const svg = renderChart({
 *   date: "2026-01-01T00:00:00Z",
 *   command: "deno task bench",
 *   cores: 2,
 *   cpu: "x",
 *   code: "abc1234",
 *   denoVersion: "deno 2.9.6",
 *   sizes: "default",
 *   durationSeconds: 1,
 *   runtimes: [],
 *   runtimesMissing: [],
 *   held: [],
 *   hit: [],
 *   cross: [],
 *   scale: [],
 * });
 * console.log(svg.startsWith("<svg")); // true
 * ```
 */
export function renderChart(results: BenchResults): string {
  const series = (pick: (step: HeldStep) => number | undefined): _Series[] =>
    results.held.map((run) => ({
      name: run.name,
      color: COLORS[run.name] ?? "#555",
      points: run.steps.flatMap((step): [number, number][] => {
        const value = pick(step);
        return value === undefined || Number.isNaN(value) ? [] : [[step.n, value]];
      }),
    })).filter((line) => line.points.length > 0);
  const width = 860;
  const height = 340;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    _panel({
      x: 60,
      title: "RSS per held poll (KiB)",
      lines: series((step) => step.rssKiBPerPoll),
      target: 12,
    }),
    _panel({
      x: 480,
      title: "p99 wake latency (ms)",
      lines: series((step) => step.wake?.p99),
      target: 5,
    }),
    _legend(series((step) => step.rssKiBPerPoll), 60, height - 22),
    `<text x="${width - 10}" y="${height - 8}" text-anchor="end" fill="#777" font-size="10">` +
    `${_escape(results.date.slice(0, 10))}, ${results.cores} cores, ${
      _escape(results.denoVersion)
    }</text>`,
    `</svg>`,
  ];
  return parts.join("\n") + "\n";
}

function _panel(
  options: { x: number; title: string; lines: _Series[]; target: number },
): string {
  const { x, title, lines, target } = options;
  const top = 40;
  const w = 340;
  const h = 220;
  const all = lines.flatMap((line) => line.points);
  const maxX = Math.max(1, ...all.map(([n]) => n));
  const maxY = _niceCeil(Math.max(target, ...all.map(([, v]) => v)));
  const sx = (n: number) => x + (n / maxX) * w;
  const sy = (v: number) => top + h - (v / maxY) * h;
  const out = [
    `<text x="${x + w / 2}" y="${top - 14}" text-anchor="middle" font-weight="bold">${
      _escape(title)
    }</text>`,
    `<line x1="${x}" y1="${top + h}" x2="${x + w}" y2="${top + h}" stroke="#333"/>`,
    `<line x1="${x}" y1="${top}" x2="${x}" y2="${top + h}" stroke="#333"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const value = (maxY * i) / 4;
    const y = sy(value);
    out.push(
      `<line x1="${x}" y1="${y}" x2="${x + w}" y2="${y}" stroke="#eee"/>`,
      `<text x="${x - 6}" y="${y + 4}" text-anchor="end">${_short(value)}</text>`,
    );
  }
  const ticks = [...new Set(all.map(([n]) => n))].sort((a, b) => a - b);
  for (const n of ticks) {
    out.push(
      `<text x="${sx(n)}" y="${top + h + 16}" text-anchor="middle">${
        n >= 1000 ? `${n / 1000}k` : n
      }</text>`,
    );
  }
  out.push(
    `<text x="${x + w / 2}" y="${top + h + 32}" text-anchor="middle" fill="#555">polls held</text>`,
    `<line x1="${x}" y1="${sy(target)}" x2="${x + w}" y2="${sy(target)}" stroke="#d62728" ` +
      `stroke-dasharray="5,4"/>`,
    `<text x="${x + w - 4}" y="${sy(target) - 5}" text-anchor="end" fill="#d62728" ` +
      `font-size="10">target ${target}</text>`,
  );
  for (const line of lines) {
    const path = line.points.map(([n, v]) => `${sx(n).toFixed(1)},${sy(v).toFixed(1)}`).join(" ");
    out.push(
      `<polyline points="${path}" fill="none" stroke="${line.color}" stroke-width="2"/>`,
      ...line.points.map(([n, v]) =>
        `<circle cx="${sx(n).toFixed(1)}" cy="${sy(v).toFixed(1)}" r="3" fill="${line.color}"/>`
      ),
    );
  }
  return out.join("\n");
}

function _legend(lines: _Series[], x: number, y: number): string {
  let left = x;
  return lines.map((line) => {
    const item = `<rect x="${left}" y="${y - 9}" width="14" height="4" fill="${line.color}"/>` +
      `<text x="${left + 20}" y="${y}">${_escape(line.name)}</text>`;
    // About 7 px per character at font-size 12, then a gap.
    left += 20 + line.name.length * 7 + 24;
    return item;
  }).join("\n");
}

function _niceCeil(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

function _short(value: number): string {
  return Number.isInteger(value) ? `${value}` : value.toFixed(value < 1 ? 2 : 1);
}

function _escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}
