/**
 * Renders a bench run as one markdown table, ours beside Nchan with the
 * ratios, plus the run's date, command, machine and versions.
 *
 * @module
 */
import { type BenchResults, NAMES } from "./results.ts";
import { CLIENT_BOUND_PCT } from "./wrk.ts";
import type { CrossResult } from "./cross_check.ts";
import type { HeldRun, HeldStep } from "./scenario_held.ts";
import type { HitResult } from "./scenario_hit.ts";

type _Cells = [ours?: number, early?: number, nchan?: number];

/**
 * Renders the results as markdown.
 *
 * @example
 * ```ts
 * import { renderReport } from "./report.ts";
 * const text = renderReport({
 *   date: "2026-01-01T00:00:00Z",
 *   command: "deno task bench",
 *   cores: 2,
 *   cpu: "x",
 *   code: "abc1234",
 *   denoVersion: "deno 2.9.6",
 *   sizes: "default",
 *   durationSeconds: 1,
 *   held: [],
 *   hit: [],
 *   cross: [],
 *   scale: [],
 * });
 * console.log(text.includes("| figure |")); // true
 * ```
 */
export function renderReport(results: BenchResults): string {
  const rows: string[] = [];
  const row = (figure: string, cells: _Cells, target = "", digits = 1) => {
    const [ours, early, nchan] = cells;
    rows.push(
      `| ${figure} | ${_fmt(ours, digits)} | ${_fmt(early, digits)} | ${_fmt(nchan, digits)} | ${
        _ratio(ours, nchan)
      } | ${_ratio(early, nchan)} | ${target} |`,
    );
  };
  const run = (name: string) => results.held.find((held) => held.name === name);
  const ours = run(NAMES.ours);
  const early = run(NAMES.oursEarly);
  const nchan = run(NAMES.nchan);
  const ns = [...new Set(results.held.flatMap((held) => held.steps.map((step) => step.n)))]
    .sort((a, b) => a - b);
  const at = (held: HeldRun | undefined, n: number) => held?.steps.find((step) => step.n === n);
  const each = (n: number, pick: (step: HeldStep) => number | undefined): _Cells => [
    _opt(at(ours, n), pick),
    _opt(at(early, n), pick),
    _opt(at(nchan, n), pick),
  ];

  if (results.held.length > 0) {
    row("idle server RSS (MiB)", [
      _mib(ours?.idleRssKiB),
      _mib(early?.idleRssKiB),
      _mib(nchan?.idleRssKiB),
    ]);
  }
  for (const n of ns) {
    const k = _k(n);
    row(`held ${k}: RSS per held poll (KiB)`, each(n, (s) => s.rssKiBPerPoll), "≤ 12, ≤ 1.0×");
    row(
      `held ${k}: server CPU per 1,000 polls accepted (ms)`,
      each(n, (s) => s.cpuMsPer1k),
      "≤ 1.5×",
      0,
    );
    row(`held ${k}: errors`, each(n, (s) => s.errors), n === 19_000 ? "0" : "", 0);
    row(`held ${k}: time to hold them all (s)`, each(n, (s) => s.holdSeconds));
    row(`held ${k}: Redis RSS per held poll (KiB)`, each(n, (s) => s.redisRssKiBPerPoll));
  }
  for (const n of ns) {
    const measured = [ours, early, nchan].some((held) => at(held, n)?.wake !== undefined);
    if (!measured) continue;
    const k = _k(n);
    const messages = [ours, early, nchan].map((held) => at(held, n)?.wake?.count).find((c) =>
      c !== undefined
    );
    const label = `wake at ${k} held (${messages ?? "?"} msgs)`;
    row(`${label}: p50 (ms)`, each(n, (s) => s.wake?.p50), n === 10_000 ? "≤ 1" : "", 2);
    row(
      `${label}: p99 (ms)`,
      each(n, (s) => s.wake?.p99),
      n === 10_000 ? "≤ 5, ≤ 1.0×" : n === 19_000 ? "≤ 2× the 1k figure" : "",
      2,
    );
    row(`${label}: max (ms)`, each(n, (s) => s.wake?.max), "", 2);
    row(`${label}: errors`, each(n, (s) => s.wake?.errors), "0", 0);
    row(`${label}: publish acknowledged, p50 (ms)`, each(n, (s) => s.wake?.ackP50), "", 2);
    row(
      `${label}: Redis CPU per message (ms)`,
      each(n, (s) => _per(s.wake?.redisCpuMs, s.wake?.count)),
      "",
      3,
    );
    row(
      `${label}: server CPU per message (ms)`,
      each(n, (s) => _per(s.wake?.serverCpuMs, s.wake?.count)),
      "",
      3,
    );
  }
  if (results.notify !== undefined) {
    const notify = results.notify;
    rows.push(
      `| wake: Redis CPU per 1,000 LPUSH + RPOP, notifications "${notify.flags}" on / off (ms) | ${
        _fmt(notify.onMsPer1k, 1)
      } / ${_fmt(notify.offMsPer1k, 1)} | | | share ${_fmt(notify.sharePct, 0)}% | | |`,
    );
  }
  for (const uids of [...new Set(results.hit.map((h) => h.uids))].sort((x, y) => x - y)) {
    const hit = (name: string) => results.hit.find((h) => h.name === name && h.uids === uids);
    const [hitOurs, hitNchan] = [hit(NAMES.ours), hit(NAMES.nchan)];
    if (hitOurs === undefined && hitNchan === undefined) continue;
    const label = `hit, ${uids === 1 ? "1 uid" : `${uids} uids`}`;
    rows.push(
      `| ${label}: req/s (wrk -t1 -c64, best round) | ${_hitRate(hitOurs)} | | ${
        _hitRate(hitNchan)
      } | ${_ratio(hitOurs?.reqPerSec, hitNchan?.reqPerSec)} | | ≥ 1.0× |`,
    );
    row(
      `${label}: wrk CPU (% of a core)`,
      [hitOurs?.clientCpuPct, undefined, hitNchan?.clientCpuPct],
      "",
      0,
    );
    row(`${label}: p50 (ms)`, [hitOurs?.p50, undefined, hitNchan?.p50], "", 2);
    row(`${label}: p99 (ms)`, [hitOurs?.p99, undefined, hitNchan?.p99], "", 2);
    row(`${label}: errors`, [hitOurs?.errors, undefined, hitNchan?.errors], "0", 0);
    row(`${label}: server CPU per 1,000 answers (ms)`, [
      hitOurs?.cpuMsPer1k,
      undefined,
      hitNchan?.cpuMsPer1k,
    ]);
    const hello = results.hit.find((h) => h.name === NAMES.hello);
    if (hello !== undefined) {
      rows.push(
        `| ${label}: ratio to Deno hello world (${_hitRate(hello)} req/s, same run) | ${
          _ratio(hitOurs?.reqPerSec, hello.reqPerSec)
        } | | ${_ratio(hitNchan?.reqPerSec, hello.reqPerSec)} | | | ≥ 0.55× |`,
      );
    }
  }
  const checks = results.hit.map((h) => `${h.name}, ${h.uids} uid(s): ${h.check}`);
  const cross = (name: string) => results.cross.find((c) => c.name === name);
  const [crossOurs, crossNchan] = [cross(NAMES.ours), cross(NAMES.nchan)];
  if (crossOurs !== undefined || crossNchan !== undefined) {
    const n = crossOurs?.n ?? crossNchan?.n ?? 0;
    const step = (name: string) =>
      results.held.find((held) => held.name === name)?.steps.find((s) => s.n === n);
    const pair = (first: number | undefined, second: number | undefined, digits: number) =>
      `${_fmt(first, digits) || "–"} / ${_fmt(second, digits) || "–"}`;
    const both = (
      figure: string,
      pick: (s: HeldStep) => number | undefined,
      pickCross: (c: CrossResult) => number,
      digits: number,
    ) => {
      const stepOurs = step(NAMES.ours);
      const stepNchan = step(NAMES.nchan);
      rows.push(
        `| cross-check ${_k(n)} held, bench client / second client: ${figure} | ${
          pair(_opt(stepOurs, pick), crossOurs && pickCross(crossOurs), digits)
        } | | ${pair(_opt(stepNchan, pick), crossNchan && pickCross(crossNchan), digits)} | | | |`,
      );
    };
    both("RSS per held poll (KiB)", (s) => s.rssKiBPerPoll, (c) => c.rssKiBPerPoll, 1);
    both("wake p50 (ms)", (s) => s.wake?.p50, (c) => c.wake.p50, 2);
    both("wake p99 (ms)", (s) => s.wake?.p99, (c) => c.wake.p99, 2);
    both("wake errors", (s) => s.wake?.errors, (c) => c.wake.errors, 0);
  }
  const scaleOurs = results.scale.find((result) => result.name === NAMES.ours);
  const scaleNchan = results.scale.find((result) => result.name === NAMES.nchan);
  if (scaleOurs !== undefined || scaleNchan !== undefined) {
    const procs = scaleOurs?.processes ?? scaleNchan?.processes;
    const n = scaleOurs?.n ?? scaleNchan?.n ?? 0;
    const label = `scale ${procs} procs × ${_k(n / (procs ?? 1))}`;
    const both = (pick: (s: NonNullable<typeof scaleOurs>) => number | undefined): _Cells => [
      scaleOurs === undefined ? undefined : pick(scaleOurs),
      undefined,
      scaleNchan === undefined ? undefined : pick(scaleNchan),
    ];
    row(`${label}: polls held`, both((s) => s.held), n >= 76_000 ? "76,000" : "", 0);
    row(`${label}: errors`, both((s) => s.errors), "0", 0);
    row(`${label}: RSS per held poll (KiB)`, both((s) => s.rssKiBPerPoll));
    row(`${label}: server CPU per 1,000 polls accepted (ms)`, both((s) => s.cpuMsPer1k), "", 0);
    row(`${label}: time to hold them all (s)`, both((s) => s.holdSeconds));
    row(`${label}: wake p50 (ms)`, both((s) => s.wake?.p50), "", 2);
    row(`${label}: wake p99 (ms)`, both((s) => s.wake?.p99), "≤ 20", 2);
    row(`${label}: wake max (ms)`, both((s) => s.wake?.max), "", 2);
    row(`${label}: wake errors`, both((s) => s.wake?.errors), "0", 0);
  }
  const header = [
    `# deno task bench: results`,
    "",
    `- date: ${results.date}`,
    `- command: \`${results.command}\``,
    `- code: ${results.code}`,
    `- machine: ${results.cores} cores (${results.cpu}), loopback`,
    `- Deno: ${results.denoVersion}`,
    `- peer: ${results.nchanMissing ?? results.peerVersion ?? "?"}`,
    `- sizes: ${results.sizes}`,
    `- wall time: ${results.durationSeconds.toFixed(0)} s`,
    "",
    '"ours" is `deploy/serve.ts` on Redis (late headers, the default); "early" is the same ' +
    "with `EARLY_HEADERS=true`. Ratios are ours/Nchan: below 1 is better for memory, CPU and " +
    "latency, above 1 is better for req/s. Wake latency runs from the start of the publish " +
    "(a raw-RESP `LPUSH` for ours, an HTTP `POST` to Nchan's publisher) to the last byte of " +
    "the poll's response, one message at a time.",
    "",
    "| figure | ours | early | Nchan | ours/Nchan | early/Nchan | target |",
    "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  const notes = [
    "",
    `Hits: \`wrk -t1 -c64\` (Debian wrk), requests rotating over the uids (\`bench/wrk_hit.lua\`). A ` +
    `figure is marked client-bound when wrk used more than ${CLIENT_BOUND_PCT}% of a core ` +
    "(`/proc/<pid>/stat` utime + stime over the run): it measures wrk, not the server. Checks:",
    "",
    ...checks.map((check) => `- ${check}`),
    ...(results.crossMissing === undefined ? [] : ["", results.crossMissing]),
    ...(results.cross.length === 0 ? [] : [
      "",
      "Cross-check: the held and wake figures at one size again, from a second client written " +
      "apart from the bench's own (`bench/cross_client.mjs`, Node's `node:http`), on a fresh " +
      "server. Each cell is bench client / second client.",
    ]),
  ];
  return [
    ...header,
    ...rows,
    ...(results.hit.length > 0 || results.cross.length > 0 ? notes : []),
    "",
  ]
    .join("\n");
}

/** Req/s of a hit, marked when wrk was the ceiling. */
function _hitRate(hit: HitResult | undefined): string {
  if (hit === undefined) return "";
  return `${_fmt(hit.reqPerSec, 0)}${hit.clientBound ? " (client-bound)" : ""}`;
}

function _opt(step: HeldStep | undefined, pick: (step: HeldStep) => number | undefined) {
  return step === undefined ? undefined : pick(step);
}

function _per(total: number | undefined, count: number | undefined): number | undefined {
  return total === undefined || !count ? undefined : total / count;
}

function _mib(kib: number | undefined): number | undefined {
  return kib === undefined ? undefined : kib / 1024;
}

function _k(n: number): string {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : `${Math.round(n)}`;
}

function _fmt(value: number | undefined, digits: number): string {
  if (value === undefined) return "";
  if (Number.isNaN(value)) return "n/a";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function _ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || Number.isNaN(a) || Number.isNaN(b)) return "";
  if (b === 0) return a === 0 ? "=" : "";
  return `${(a / b).toFixed(2)}×`;
}
