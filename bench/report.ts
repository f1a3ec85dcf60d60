/**
 * Renders a bench run as markdown: the run's date, command, machine and
 * versions, a summary with one row per runtime, then one table per runtime
 * (ours beside Nchan, with the ratios), what all runtimes share, and how
 * the hits were checked.
 *
 * @module
 */
import type { CrossResult } from "./cross_check.ts";
import { burstTable } from "./report_burst.ts";
import {
  type Cells,
  ComparisonTable,
  formatCount,
  formatNumber,
  formatRatio,
} from "./report_table.ts";
import {
  type BenchResults,
  embeddedName,
  NAMES,
  oursName,
  referenceName,
  sseName,
} from "./results.ts";
import { type Runtime, RUNTIME_LABELS } from "./runtime.ts";
import type { HeldRun, HeldStep } from "./scenario_held.ts";
import type { HitResult } from "./scenario_hit.ts";
import type { ScaleResult } from "./scenario_scale.ts";
import { CLIENT_BOUND_PCT } from "./wrk.ts";

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
 *   runtimes: [{ runtime: "deno", task: "serve", version: "deno 2.9.6" }],
 *   runtimesMissing: [],
 *   held: [],
 *   hit: [],
 *   cross: [],
 *   scale: [],
 * });
 * console.log(text.includes("## Deno")); // true
 * ```
 */
export function renderReport(results: BenchResults): string {
  return [
    ..._header(results),
    ..._summary(results),
    ..._setups(results).flatMap((setup) => {
      const { task, version } = results.runtimes.find((r) => r.runtime === setup.runtime)!;
      return [
        "",
        setup.store === "Redis"
          ? `## ${
            RUNTIME_LABELS[setup.runtime]
          }: \`deno task ${task}\` (${version}) on Redis, against Nchan on Redis`
          : `## ${
            RUNTIME_LABELS[setup.runtime]
          } (${version}): the embedded default (\`bench/memory_server.ts\`) against Nchan's memory store`,
        "",
        ..._setupTable(results, setup).render(),
      ];
    }),
    ..._sse(results),
    ..._shared(results),
    ..._burst(results),
    ..._notes(results),
    "",
  ].join("\n");
}

function _header(results: BenchResults): string[] {
  return [
    `# deno task bench: results`,
    "",
    `- date: ${results.date}`,
    `- command: \`${results.command}\``,
    `- code: ${results.code}`,
    `- machine: ${results.cores} cores (${results.cpu}), loopback`,
    `- runtimes: ${results.runtimes.map((r) => r.version).join(", ") || "none"}${
      results.runtimesMissing.length > 0 ? `; ${results.runtimesMissing.join("; ")}` : ""
    }`,
    `- peer: ${results.nchanMissing ?? results.peerVersion ?? "?"}`,
    `- sizes: ${results.sizes}`,
    `- wall time: ${results.durationSeconds.toFixed(0)} s`,
    "",
    '"ours" is the full server (`deno task serve`, `serve:bun` or `serve:node`) on Redis, with ' +
    'late headers (the default); "early" is the same with `EARLY_HEADERS=true`. Ratios are ' +
    "ours/Nchan: below 1 is better for memory, CPU and latency, above 1 is better for req/s. " +
    "Wake latency runs from the start of the publish (a raw-RESP `LPUSH` for ours, an HTTP " +
    "`POST` to Nchan's publisher) to the last byte of the poll's response, one message at a " +
    "time. Hits are driven by `wrk`.",
  ];
}

/** One compared setup: ours (and early) beside a peer, over the runtime's floors. */
interface _Setup {
  runtime: Runtime;
  /** Ours, as the scenarios name it. */
  ours: string;
  /** Ours with early headers, where measured. */
  early?: string;
  /** The peer on the same kind of store. */
  nchan: string;
  /** Which store, in words. */
  store: "Redis" | "memory";
}

/** The setups of the run: on Redis (the headline), then in memory. */
function _setups(results: BenchResults): _Setup[] {
  const redis = results.runtimes.map(({ runtime }): _Setup => ({
    runtime,
    ours: oursName(runtime),
    early: oursName(runtime, true),
    nchan: NAMES.nchan,
    store: "Redis",
  }));
  const memory = results.runtimes.map(({ runtime }): _Setup => ({
    runtime,
    ours: embeddedName(runtime),
    nchan: NAMES.nchanMemory,
    store: "memory",
  })).filter((setup) => _measured(results, setup.ours));
  return [...redis, ...memory];
}

function _measured(results: BenchResults, name: string): boolean {
  return results.held.some((run) => run.name === name) ||
    results.hit.some((hit) => hit.name === name);
}

/**
 * One row per setup and one per Nchan store, at the wake step (10k held,
 * else the largest), each figure beside what it is compared with.
 */
function _summary(results: BenchResults): string[] {
  const n = _wakeStep(results);
  const widest = Math.max(0, ...results.hit.map((hit) => hit.uids));
  const peers = [NAMES.nchan, NAMES.nchanMemory].filter((name) => _measured(results, name));
  const rows = [
    ..._setups(results).map((setup) => ({ name: setup.ours, setup })),
    ...peers.map((name) => ({ name, setup: undefined })),
  ].flatMap(({ name, setup }) => {
    const held = results.held.find((run) => run.name === name);
    const step = _step(results, name, n);
    const hit = _hit(results, name, widest);
    if (held === undefined && hit === undefined) return [];
    const idle = results.idle?.find((figure) => figure.name === name);
    const floor = setup && _step(results, referenceName("hold", setup.runtime), n);
    const peer = setup && _step(results, setup.nchan, n);
    const peerHit = setup && _hit(results, setup.nchan, widest);
    const bare = setup?.store === "Redis"
      ? _hit(results, referenceName("bare", setup.runtime), widest)
      : undefined;
    const compared = setup === undefined
      ? "peer"
      : `${setup.nchan}; floors: ${
        setup.store === "Redis" ? "bare hold, bare pop" : "bare hold"
      } on ${RUNTIME_LABELS[setup.runtime]}`;
    return [
      `| ${name} | ${compared} | ${formatNumber(step?.rssKiBPerPoll, 1)} | ${
        formatRatio(step?.rssKiBPerPoll, floor?.rssKiBPerPoll)
      } | ${formatRatio(step?.cpuMsPer1k, peer?.cpuMsPer1k)} | ${
        idle === undefined
          ? formatNumber(_mib(held?.idleRssKiB), 0)
          : `${formatNumber(_mib(idle.startupKiB), 0)} / ${formatNumber(_mib(idle.settledKiB), 0)}`
      } | ${formatNumber(step?.wake?.p50, 2)} / ${formatNumber(step?.wake?.p99, 2)} | ${
        formatRatio(step?.wake?.p99, peer?.wake?.p99)
      } | ${_hitRate(hit)} | ${formatRatio(hit?.reqPerSec, peerHit?.reqPerSec)} | ${
        formatRatio(hit?.reqPerSec, bare?.reqPerSec)
      } |`,
    ];
  });
  if (rows.length === 0) return [];
  const k = formatCount(n);
  return [
    "",
    "## Summary",
    "",
    "Each row of ours is compared with Nchan on the same kind of store (Redis: the headline; " +
    "memory: the embedded default, `mod.ts`'s handler on a `MemoryStore`) and with its " +
    "runtime's floors measured in the same run: the bare hold (the runtime's own server " +
    "holding a request with an abort listener and nothing else) for memory per held poll, the " +
    "bare node-redis pop (one `RPOP` a request) for hits on Redis.",
    "",
    `| setup | compared with | RSS per held poll at ${k} (KiB) | ÷ floor | accept CPU ÷ Nchan | ` +
    `idle RSS start-up / settled (MiB) | wake p50 / p99 at ${k} (ms) | p99 ÷ Nchan | ` +
    `hit req/s, ${widest || "?"} uids | ÷ Nchan | ÷ floor |`,
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
  ];
}

function _setupTable(results: BenchResults, setup: _Setup): ComparisonTable {
  const { runtime } = setup;
  const run = (name: string | undefined) =>
    name === undefined ? undefined : results.held.find((held) => held.name === name);
  const ours = run(setup.ours);
  const early = run(setup.early);
  const nchan = run(setup.nchan);
  const floor = run(referenceName("hold", runtime));
  const table = new ComparisonTable(early !== undefined);
  const ns = [...new Set([ours, early, nchan].flatMap((held) => held?.steps.map((s) => s.n) ?? []))]
    .sort((a, b) => a - b);
  const at = (held: HeldRun | undefined, n: number) => held?.steps.find((step) => step.n === n);
  const each = (n: number, pick: (step: HeldStep) => number | undefined): Cells =>
    [ours, early, nchan].map((held) => _opt(at(held, n), pick)) as Cells;
  const deno = runtime === "deno";
  if (ours !== undefined || early !== undefined) {
    table.row("idle server RSS at start-up (MiB)", [
      _mib(ours?.idleRssKiB),
      _mib(early?.idleRssKiB),
      _mib(nchan?.idleRssKiB),
    ], { target: deno ? "< 60" : "" });
  }
  const idle = (name: string | undefined) => results.idle?.find((figure) => figure.name === name);
  if (idle(setup.ours) !== undefined) {
    table.row(
      `idle server RSS settled, after ${
        formatNumber(idle(setup.ours)?.settledAfterS, 0)
      } s idle (MiB)`,
      [
        _mib(idle(setup.ours)?.settledKiB),
        undefined,
        _mib(idle(setup.nchan)?.settledKiB),
      ],
    );
  }
  const rssTarget = deno ? "≤ 1.2×; best runtime ≤ 0.5×" : "best runtime ≤ 0.5×";
  for (const n of ns) {
    const k = formatCount(n);
    table.row(`held ${k}: RSS per held poll (KiB)`, each(n, (s) => s.rssKiBPerPoll), {
      target: n >= 10_000 ? rssTarget : "",
    });
    _floorRow(table, `held ${k}: RSS per held poll`, {
      cells: each(n, (s) => s.rssKiBPerPoll),
      floor: at(floor, n)?.rssKiBPerPoll,
      unit: "KiB",
    }, "≤ 1.05×");
    table.row(`held ${k}: server CPU per 1,000 polls accepted (ms)`, each(n, (s) => s.cpuMsPer1k), {
      digits: 0,
      target: "≤ 1.2×",
    });
    _floorRow(table, `held ${k}: server CPU per 1,000 polls accepted`, {
      cells: each(n, (s) => s.cpuMsPer1k),
      floor: at(floor, n)?.cpuMsPer1k,
      unit: "ms",
    });
    table.row(`held ${k}: errors`, each(n, (s) => s.errors), { target: "0", digits: 0 });
    table.row(`held ${k}: time to hold them all (s)`, each(n, (s) => s.holdSeconds));
    table.row(`held ${k}: Redis RSS per held poll (KiB)`, each(n, (s) => s.redisRssKiBPerPoll));
  }
  for (const n of ns) {
    const wakes = [ours, early, nchan].map((held) => at(held, n)?.wake?.count);
    if (wakes.every((count) => count === undefined)) continue;
    const label = `wake at ${formatCount(n)} held (${wakes.find((c) => c !== undefined)} msgs)`;
    const two = { digits: 2 };
    table.row(`${label}: p50 (ms)`, each(n, (s) => s.wake?.p50), two);
    table.row(`${label}: p99 (ms)`, each(n, (s) => s.wake?.p99), {
      ...two,
      target: n === 10_000 ? "≤ 1.0×" : "",
    });
    table.row(`${label}: max (ms)`, each(n, (s) => s.wake?.max), two);
    table.row(`${label}: errors`, each(n, (s) => s.wake?.errors), { target: "0", digits: 0 });
    table.row(`${label}: publish acknowledged, p50 (ms)`, each(n, (s) => s.wake?.ackP50), two);
    table.row(
      `${label}: Redis CPU per message (ms)`,
      each(n, (s) => _per(s.wake?.redisCpuMs, s.wake?.count)),
      { digits: 3 },
    );
    table.row(
      `${label}: server CPU per message (ms)`,
      each(n, (s) => _per(s.wake?.serverCpuMs, s.wake?.count)),
      { digits: 3 },
    );
  }
  _hitRows(results, setup, table);
  if (setup.store === "Redis") _crossRows(results, runtime, table);
  return table;
}

/** A row of ours ÷ the runtime's floor, the floor's own figure in the label. */
function _floorRow(
  table: ComparisonTable,
  figure: string,
  { cells, floor, unit }: { cells: Cells; floor: number | undefined; unit: string },
  target = "",
): void {
  if (floor === undefined) return;
  table.text(`${figure} ÷ the runtime's floor (bare hold: ${formatNumber(floor, 1)} ${unit})`, {
    ours: formatRatio(cells[0], floor),
    early: formatRatio(cells[1], floor),
    nchan: "",
    ratio: "",
  }, target);
}

function _hitRows(results: BenchResults, setup: _Setup, table: ComparisonTable): void {
  const { runtime } = setup;
  const uidCounts = [...new Set(results.hit.map((hit) => hit.uids))].sort((a, b) => a - b);
  for (const uids of uidCounts) {
    const ours = _hit(results, setup.ours, uids);
    const nchan = _hit(results, setup.nchan, uids);
    if (ours === undefined) continue;
    const label = `hit, ${uids === 1 ? "1 uid" : `${uids} uids`}`;
    const pair = (pick: (hit: HitResult) => number): Cells => [
      pick(ours),
      undefined,
      nchan === undefined ? undefined : pick(nchan),
    ];
    table.text(`${label}: req/s (wrk -t1 -c64, best round)`, {
      ours: _hitRate(ours),
      nchan: _hitRate(nchan),
      ratio: formatRatio(ours.reqPerSec, nchan?.reqPerSec),
    }, "best runtime ≥ 1.0×");
    table.row(`${label}: wrk CPU (% of a core)`, pair((hit) => hit.clientCpuPct), { digits: 0 });
    table.row(`${label}: p50 (ms)`, pair((hit) => hit.p50), { digits: 2 });
    table.row(`${label}: p99 (ms)`, pair((hit) => hit.p99), { digits: 2 });
    table.row(`${label}: errors`, pair((hit) => hit.errors), { target: "0", digits: 0 });
    table.row(`${label}: server CPU per 1,000 answers (ms)`, pair((hit) => hit.cpuMsPer1k));
    const hello = _hit(results, referenceName("hello", "deno"), Math.max(...uidCounts));
    if (hello !== undefined) {
      table.text(`${label}: ÷ Deno hello world (${_hitRate(hello)} req/s, same run)`, {
        ours: formatRatio(ours.reqPerSec, hello.reqPerSec),
        nchan: formatRatio(nchan?.reqPerSec, hello.reqPerSec),
        ratio: "",
      }, runtime === "deno" ? "≥ 0.55×" : "");
    }
    const bare = _hit(results, referenceName("bare", runtime), Math.max(...uidCounts));
    if (bare !== undefined && setup.store === "Redis") {
      table.text(
        `${label}: ÷ the runtime's floor, the bare node-redis pop on ${RUNTIME_LABELS[runtime]} (${
          _hitRate(bare)
        } req/s, ${formatNumber(bare.clientCpuPct, 0)}% wrk CPU, same run)`,
        { ours: formatRatio(ours.reqPerSec, bare.reqPerSec), nchan: "", ratio: "" },
        "≥ 0.9×",
      );
    }
  }
}

/** The cross-check beside the held and wake figures of the bench's client at the same size. */
function _crossRows(results: BenchResults, runtime: Runtime, table: ComparisonTable): void {
  const cross = (name: string) => results.cross.find((c) => c.name === name);
  const ours = cross(oursName(runtime));
  const nchan = cross(NAMES.nchan);
  if (ours === undefined) return;
  const n = ours.n;
  const step = (name: string) =>
    results.held.find((held) => held.name === name)?.steps.find((s) => s.n === n);
  const [stepOurs, stepNchan] = [step(oursName(runtime)), step(NAMES.nchan)];
  const both = (
    figure: string,
    pick: (s: HeldStep) => number | undefined,
    pickCross: (c: CrossResult) => number,
  ) => {
    const digits = figure.includes("KiB") ? 1 : figure.includes("errors") ? 0 : 2;
    const pair = (first: number | undefined, second: number | undefined) =>
      `${formatNumber(first, digits) || "–"} / ${formatNumber(second, digits) || "–"}`;
    table.text(`cross-check ${formatCount(n)} held, bench client / second client: ${figure}`, {
      ours: pair(_opt(stepOurs, pick), pickCross(ours)),
      nchan: pair(_opt(stepNchan, pick), nchan && pickCross(nchan)),
      ratio: "",
    });
  };
  both("RSS per held poll (KiB)", (s) => s.rssKiBPerPoll, (c) => c.rssKiBPerPoll);
  both("wake p50 (ms)", (s) => s.wake?.p50, (c) => c.wake.p50);
  both("wake p99 (ms)", (s) => s.wake?.p99, (c) => c.wake.p99);
  both("wake errors", (s) => s.wake?.errors, (c) => c.wake.errors);
}

/**
 * Server-Sent Events: ours on each runtime beside Nchan's EventSource
 * subscriber, and each runtime's per stream beside its own per held poll.
 */
function _sse(results: BenchResults): string[] {
  const runs = results.sse ?? [];
  const missing = results.sseMissing === undefined ? [] : ["", results.sseMissing];
  if (runs.length === 0) {
    return missing.length === 0 ? [] : ["", "## Server-Sent Events", ...missing];
  }
  const nchan = runs.find((run) => run.name === NAMES.nchanEvents)?.steps[0];
  const rows = results.runtimes.flatMap(({ runtime }) => {
    const step = runs.find((run) => run.name === sseName(runtime))?.steps[0];
    if (step === undefined) return [];
    const poll = _step(results, oursName(runtime), step.n);
    const embedded = _step(results, embeddedName(runtime), step.n);
    return [
      `| ${sseName(runtime)} | ${formatNumber(step.rssKiBPerPoll, 1)} | ${
        formatRatio(step.rssKiBPerPoll, nchan?.rssKiBPerPoll)
      } | ${formatRatio(step.rssKiBPerPoll, poll?.rssKiBPerPoll)} | ${
        formatRatio(step.rssKiBPerPoll, embedded?.rssKiBPerPoll)
      } | ${formatNumber(step.cpuMsPer1k, 0)} | ${formatNumber(step.wake?.p50, 2)} / ${
        formatNumber(step.wake?.p99, 2)
      } | ${formatRatio(step.wake?.p99, nchan?.wake?.p99)} | ${
        step.errors + (step.wake?.errors ?? 0)
      } |`,
    ];
  });
  const n = runs[0].steps[0]?.n ?? 0;
  return [
    "",
    "## Server-Sent Events",
    "",
    `${formatCount(n)} streams held (\`GET /events?uid=\`, ours with \`DELIVERY=stream\` on the ` +
    "in-memory store, published through `/publish`; Nchan's `nchan_subscriber eventsource` on " +
    "its memory store), then wakes one at a time, each timed from the publish to the first " +
    "bytes on the stream that carry the message. Goal: per stream ≤ Nchan's on the best " +
    "runtime, and ≤ our own per held poll on each runtime.",
    "",
    "| setup | RSS per stream (KiB) | ÷ Nchan | ÷ our held poll (Redis) | ÷ our held poll (embedded) | CPU per 1,000 opened (ms) | wake p50 / p99 (ms) | p99 ÷ Nchan | errors |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    ...(nchan === undefined ? [] : [
      `| ${NAMES.nchanEvents} | ${formatNumber(nchan.rssKiBPerPoll, 1)} |  |  |  | ${
        formatNumber(nchan.cpuMsPer1k, 0)
      } | ${formatNumber(nchan.wake?.p50, 2)} / ${formatNumber(nchan.wake?.p99, 2)} |  | ${
        nchan.errors + (nchan.wake?.errors ?? 0)
      } |`,
    ]),
    ...missing,
  ];
}

/** The hello-world ceiling, the notification cost and the scale scenario. */
function _shared(results: BenchResults): string[] {
  const lines: string[] = [];
  const hello = results.hit.find((hit) => hit.name === referenceName("hello", "deno"));
  if (hello !== undefined) {
    lines.push(
      `- Deno hello world (\`bench/hello_world.ts\`), the hit ceiling: ${
        _hitRate(hello)
      } req/s on ${hello.uids} uids, p99 ${formatNumber(hello.p99, 2)} ms, wrk CPU ${
        formatNumber(hello.clientCpuPct, 0)
      }%.`,
    );
  }
  for (const { runtime } of results.runtimes) {
    const bare = _hit(
      results,
      referenceName("bare", runtime),
      Math.max(0, ...results.hit.map((hit) => hit.uids)),
    );
    if (bare === undefined) continue;
    lines.push(
      `- The bare node-redis pop on ${
        RUNTIME_LABELS[runtime]
      } (\`bench/bare_pop.ts\`: one \`RPOP\` a request and ` +
        `nothing else), the floor of a hit: ${_hitRate(bare)} req/s on ${bare.uids} uids` +
        (hello === undefined
          ? ""
          : ` (${formatRatio(bare.reqPerSec, hello.reqPerSec)} Deno hello world)`) +
        `, wrk CPU ${formatNumber(bare.clientCpuPct, 0)}%.`,
    );
  }
  for (const { runtime } of results.runtimes) {
    const floor = results.held.find((run) => run.name === referenceName("hold", runtime));
    if (floor === undefined) continue;
    lines.push(
      `- The bare hold on ${RUNTIME_LABELS[runtime]} (\`bench/bare_hold.ts\`: the runtime's own ` +
        "server holding each request with an abort listener and nothing else), the floor of a " +
        `held poll: ${
          floor.steps.map((step) =>
            `${formatNumber(step.rssKiBPerPoll, 1)} KiB and ${
              formatNumber(step.cpuMsPer1k, 0)
            } ms CPU per 1,000 accepted at ${formatCount(step.n)}`
          ).join(", ")
        }; idle ${formatNumber(_mib(floor.idleRssKiB), 0)} MiB.`,
    );
  }
  const notify = results.notify;
  if (notify !== undefined) {
    lines.push(
      `- Redis CPU per 1,000 \`LPUSH\` + \`RPOP\` with keyspace notifications "${notify.flags}" ` +
        `on / off: ${formatNumber(notify.onMsPer1k, 1)} / ${
          formatNumber(notify.offMsPer1k, 1)
        } ms ` +
        `(share ${formatNumber(notify.sharePct, 0)}%); with the server started with ` +
        `\`QUEUE_TTL\` (one \`EXPIRE\` per plain \`LPUSH\` it hears): ${
          formatNumber(notify.ttlMsPer1k, 1)
        } ms.`,
    );
  }
  const scale = _scaleTable(results);
  const failed = results.scaleFailed === undefined ? [] : ["", results.scaleFailed];
  if (lines.length === 0 && scale.empty && failed.length === 0) return [];
  return [
    "",
    "## All runtimes",
    "",
    ...lines,
    ...(scale.empty ? [] : ["", "Scale (ours on Deno, `REUSE_PORT=true`):", "", ...scale.render()]),
    ...failed,
  ];
}

function _scaleTable(results: BenchResults): ComparisonTable {
  const table = new ComparisonTable(false);
  const ours = results.scale.find((result) => result.name === oursName("deno"));
  const nchan = results.scale.find((result) => result.name === NAMES.nchan);
  const any = ours ?? nchan;
  if (any === undefined) return table;
  const label = `scale ${any.processes} procs × ${formatCount(any.n / any.processes)}`;
  const both = (pick: (s: ScaleResult) => number | undefined): Cells => [
    ours === undefined ? undefined : pick(ours),
    undefined,
    nchan === undefined ? undefined : pick(nchan),
  ];
  table.row(`${label}: polls held`, both((s) => s.held), {
    target: any.n >= 76_000 ? "76,000" : "",
    digits: 0,
  });
  table.row(`${label}: errors`, both((s) => s.errors), { target: "0", digits: 0 });
  table.row(`${label}: RSS per held poll (KiB)`, both((s) => s.rssKiBPerPoll));
  table.row(`${label}: server CPU per 1,000 polls accepted (ms)`, both((s) => s.cpuMsPer1k), {
    digits: 0,
  });
  table.row(`${label}: time to hold them all (s)`, both((s) => s.holdSeconds));
  table.row(`${label}: wake p50 (ms)`, both((s) => s.wake?.p50), { digits: 2 });
  table.row(`${label}: wake p99 (ms)`, both((s) => s.wake?.p99), { target: "≤ 20", digits: 2 });
  table.row(`${label}: wake max (ms)`, both((s) => s.wake?.max), { digits: 2 });
  table.row(`${label}: wake errors`, both((s) => s.wake?.errors), { target: "0", digits: 0 });
  return table;
}

/** The burst scenario: its table and its checks. */
function _burst(results: BenchResults): string[] {
  const bursts = results.burst ?? [];
  if (bursts.length === 0) return [];
  return [
    "",
    "## Burst",
    "",
    `${bursts[0].messages} messages wait for one uid (ours: pipelined \`LPUSH\`es; Nchan: one ` +
    "`POST` each, its buffer set to hold them all), then one client long-polls in a loop on " +
    "one keep-alive connection (`fetch` in the bench process) until it has them all. Time runs " +
    "from the first poll to the last message. Nchan answers one message per request, following " +
    "its long-poll protocol (`Last-Modified` / `Etag` sent back as `If-Modified-Since` / " +
    "`If-None-Match`).",
    "",
    ...burstTable(bursts),
    "",
    ...bursts.map((burst) =>
      `- ${burst.name}, ${burst.mode === "one" ? "one per poll" : "batched"}: ${burst.check}`
    ),
  ];
}

function _notes(results: BenchResults): string[] {
  const lines: string[] = [];
  if (results.hit.length > 0) {
    lines.push(
      "",
      `Hits: \`wrk -t1 -c64\` (Debian wrk), requests rotating over the uids ` +
        `(\`bench/wrk_hit.lua\`). A figure is marked client-bound when wrk used more than ` +
        `${CLIENT_BOUND_PCT}% of a core (\`/proc/<pid>/stat\` utime + stime over the run): it ` +
        "measures wrk, not the server. Checks:",
      "",
      ...results.hit.map((hit) => `- ${hit.name}, ${hit.uids} uid(s): ${hit.check}`),
    );
  }
  if (results.cross.length > 0) {
    lines.push(
      "",
      "Cross-check: the held and wake figures at one size again, on a fresh server, from a " +
        "second client written apart from the bench's own (`bench/cross_client.mjs`, plain " +
        "Node on `node:http`). Each cell is bench client / second client.",
    );
  }
  if (results.crossMissing !== undefined) lines.push("", results.crossMissing);
  return lines;
}

function _step(results: BenchResults, name: string, n: number): HeldStep | undefined {
  return results.held.find((run) => run.name === name)?.steps.find((step) => step.n === n);
}

function _hit(results: BenchResults, name: string, uids: number): HitResult | undefined {
  return results.hit.find((hit) => hit.name === name && hit.uids === uids);
}

/** The step with wake figures to summarize: 10k held if measured, else the largest. */
function _wakeStep(results: BenchResults): number {
  const ns = results.held.flatMap((held) => held.steps.map((step) => step.n));
  return ns.includes(10_000) ? 10_000 : Math.max(0, ...ns);
}

/** Req/s of a hit, marked when wrk was the ceiling. */
function _hitRate(hit: HitResult | undefined): string {
  if (hit === undefined) return "";
  return `${formatNumber(hit.reqPerSec, 0)}${hit.clientBound ? " (client-bound)" : ""}`;
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
