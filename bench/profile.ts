/**
 * Where the server's CPU goes while it accepts polls and while it wakes
 * them: runs ours (or a floor) under the runtime's CPU profiler
 * (`--cpu-prof`, Deno and Bun), holds `--polls` polls with the bench's load
 * client, times `--wakes` wakes, stops it, and splits the profile's samples
 * by phase (accept, wake) and by where the code lives (the runtime's HTTP
 * server, node-redis, each file of src/, the garbage collector, native code
 * outside JavaScript). Prints one markdown table per phase.
 *
 * ```sh
 * deno run -A bench/profile.ts --runtime deno --polls 10000 --wakes 2000
 * deno run -A bench/profile.ts --runtime bun --floor     # the bare hold, accept only
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { LoadClient } from "./load_client.ts";
import { holdPolls, measureWake, totalCpuMs } from "./measure.ts";
import { startOurServer } from "./our_server.ts";
import { ProcessGroup } from "./process_group.ts";
import { initClockTicks, readThreadCpuMs } from "./proc_stats.ts";
import { startReferenceServer } from "./reference_server.ts";
import { startRig } from "./rig.ts";
import { prepareRuntime, type Runtime, RUNTIMES } from "./runtime.ts";
import { pollUntil, sleep } from "../testing/wait_until.ts";
import type { RedisServer } from "../testing/redis_server.ts";

/** One node of a `.cpuprofile` (Chrome DevTools format, which V8 and JavaScriptCore write). */
interface _ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

/** A `.cpuprofile`. */
export interface CpuProfile {
  nodes: _ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Where a sampled frame's code lives, for the tables: the garbage
 * collector, native code, the runtime's own JavaScript, node-redis, a file
 * of this project, or the function's name.
 *
 * @example
 * ```ts
 * import { placeOf } from "./profile.ts";
 * console.log(placeOf({ functionName: "x", url: "file:///w/src/hold.ts" })); // src/hold.ts
 * console.log(placeOf({ functionName: "(garbage collector)", url: "" })); // (garbage collector)
 * console.log(placeOf({ functionName: "serve", url: "ext:deno_http/00_serve.ts" })); // runtime: ext:deno_http/00_serve.ts
 * console.log(placeOf({ functionName: "add", url: "/w/deploy/.build/serve_bun.mjs" })); // serve_bun.mjs: add
 * ```
 */
export function placeOf(frame: { functionName: string; url: string }): string {
  const { functionName, url } = frame;
  if (url === "") return functionName === "" ? "(native)" : functionName;
  if (/\/npm\/|node_modules/.test(url)) {
    return /@redis|redis/.test(url) ? "node-redis" : "npm: other";
  }
  // A bundle (Bun and Node run one) keeps no file names: its functions stand for themselves.
  const bundle = /\/(?:\.build|bundles)\/([^/]+)$/.exec(url);
  if (bundle !== null) return `${bundle[1]}: ${functionName || "(anonymous)"}`;
  const own = /\/(src|deploy|bench)\/(.+)$/.exec(url);
  if (own !== null) return `${own[1]}/${own[2]}`;
  if (/^(ext:|node:|bun:|builtin:)/.test(url) || !url.includes("/")) return `runtime: ${url}`;
  return url.replace(/^.*\//, "");
}

/**
 * Self time by place, in ms, of the samples taken between `from` and `to`
 * ms after the profile started: samples × the median sampling interval;
 * idle samples are left out.
 *
 * @example
 * ```ts
 * import { selfTimeByPlace } from "./profile.ts";
 * const profile = {
 *   nodes: [{ id: 1, callFrame: { functionName: "f", url: "file:///w/src/hold.ts" } }],
 *   startTime: 0,
 *   endTime: 3000,
 *   samples: [1, 1, 1],
 *   timeDeltas: [1000, 1000, 1000],
 * };
 * console.log(selfTimeByPlace(profile, { from: 0, to: 2.5 })); // Map(1) { "src/hold.ts" => 2 }
 * ```
 */
export function selfTimeByPlace(
  profile: CpuProfile,
  window: { from: number; to: number },
): Map<string, number> {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  // Each sample stands for one sampling interval. A gap between two samples
  // (the sampler waiting for a core on a busy machine) is not charged to
  // the frame before it.
  const sorted = [...profile.timeDeltas].sort((a, b) => a - b);
  const interval = (sorted[Math.floor(sorted.length / 2)] ?? 0) / 1000;
  const totals = new Map<string, number>();
  let at = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] / 1000;
    if (at < window.from || at > window.to) continue;
    const frame = nodes.get(profile.samples[i])?.callFrame;
    if (frame === undefined || frame.functionName === "(idle)") continue;
    const place = placeOf(frame);
    totals.set(place, (totals.get(place) ?? 0) + interval);
  }
  return totals;
}

/** Stalls of the JavaScript thread in a window, each as long as it lasted, in ms. */
export interface Stalls {
  /** Runs of garbage-collector samples. */
  gc: number[];
  /** Runs of samples in one place other than the collector (a long task). */
  task: number[];
  /** Gaps between two samples: the process waited for a core (the sampler did not run). */
  gap: number[];
}

/**
 * The stalls of at least `minMs` between `from` and `to` ms after the
 * profile started: what may hold a wake up, sample by sample.
 *
 * @example
 * ```ts
 * import { stallsOf } from "./profile.ts";
 * const profile = {
 *   nodes: [
 *     { id: 1, callFrame: { functionName: "(garbage collector)", url: "" } },
 *     { id: 2, callFrame: { functionName: "f", url: "file:///w/src/hold.ts" } },
 *   ],
 *   startTime: 0,
 *   endTime: 0,
 *   samples: [2, 1, 1, 1, 2, 2],
 *   timeDeltas: [1000, 1000, 1000, 1000, 1000, 9000],
 * };
 * console.log(stallsOf(profile, { from: 0, to: 100, minMs: 2 })); // { gc: [ 3 ], task: [], gap: [ 9 ] }
 * ```
 */
export function stallsOf(
  profile: CpuProfile,
  window: { from: number; to: number; minMs: number },
): Stalls {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const sorted = [...profile.timeDeltas].sort((a, b) => a - b);
  const interval = (sorted[Math.floor(sorted.length / 2)] ?? 0) / 1000;
  const stalls: Stalls = { gc: [], task: [], gap: [] };
  let at = 0;
  let run = { place: "", ms: 0 };
  const close = () => {
    if (run.ms >= window.minMs && run.place !== "(idle)" && run.place !== "(program)") {
      (run.place === "(garbage collector)" ? stalls.gc : stalls.task).push(run.ms);
    }
  };
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] / 1000;
    at += delta;
    if (at < window.from || at > window.to) continue;
    if (delta >= window.minMs + interval) stalls.gap.push(delta);
    const frame = nodes.get(profile.samples[i])?.callFrame;
    const place = frame === undefined ? "" : placeOf(frame);
    if (place === run.place) {
      run.ms += interval;
      continue;
    }
    close();
    run = { place, ms: interval };
  }
  close();
  return stalls;
}

/** Rows of one phase's table: place, ms per `per` units, share. */
function _table(totals: Map<string, number>, per: number, unit: string): string[] {
  const sum = [...totals.values()].reduce((a, b) => a + b, 0);
  const rows = [...totals.entries()].sort((a, b) => b[1] - a[1]);
  const shown = rows.slice(0, 14);
  const rest = rows.slice(14).reduce((a, [, ms]) => a + ms, 0);
  return [
    `| where | ms ${unit} | share |`,
    "| --- | ---: | ---: |",
    ...shown.map(([place, ms]) =>
      `| ${place} | ${(ms / per).toFixed(3)} | ${((ms / sum) * 100).toFixed(1)}% |`
    ),
    ...(rest > 0
      ? [`| (the rest) | ${(rest / per).toFixed(3)} | ${((rest / sum) * 100).toFixed(1)}% |`]
      : []),
    `| **sampled in all** | ${(sum / per).toFixed(3)} | 100% |`,
  ];
}

async function _main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runtime: { type: "string", default: "deno" },
      polls: { type: "string", default: "10000" },
      wakes: { type: "string", default: "2000" },
      floor: { type: "boolean", default: false },
    },
  });
  const runtime = values.runtime as Runtime;
  if (!RUNTIMES.includes(runtime)) {
    console.error(`Cannot profile: expected --runtime ${RUNTIMES.join(" or ")}, got "${runtime}"`);
    return 2;
  }
  if (runtime === "node") {
    console.error("Cannot profile on Node here: its serve entry has no --cpu-prof in this bench");
    return 2;
  }
  const polls = Number(values.polls);
  const wakes = values.floor ? 0 : Number(values.wakes);
  await initClockTicks();
  await using group = new ProcessGroup();
  const dir = await Deno.makeTempDir({ prefix: "longpoll-profile-" });
  const profileDir = `${dir}/profiles`;
  const flags = ["--cpu-prof", `--cpu-prof-dir=${profileDir}`];
  let spawned = 0;
  const start = async (redis: RedisServer) => {
    spawned = performance.now();
    if (values.floor) {
      return await startReferenceServer("hold", { group, dir, runtime, runtimeFlags: flags });
    }
    const serve = await prepareRuntime(runtime);
    const args = runtime === "deno"
      ? [serve.args[0], ...flags, ...serve.args.slice(1)]
      : [...flags, ...serve.args];
    return await startOurServer({
      group,
      dir,
      redisUrl: redis.url,
      serve: { ...serve, args },
      name: `ours on ${runtime}`,
    });
  };
  const rig = await startRig({ group, dir, start });
  const client = rig.client = LoadClient.start({ group, workers: 2 });
  await sleep(1_000);
  const pids = rig.target.pids();
  const acceptFrom = performance.now() - spawned;
  const cpuBefore = totalCpuMs(pids);
  const threadsBefore = readThreadCpuMs(pids[0]);
  await holdPolls({ client, target: rig.target, from: 0, to: polls, batch: 400, baselineFds: 0 });
  const acceptCpu = totalCpuMs(pids) - cpuBefore;
  const acceptThreads = _minus(readThreadCpuMs(pids[0]), threadsBefore);
  const acceptTo = performance.now() - spawned;
  await sleep(500);
  const wakeThreadsBefore = readThreadCpuMs(pids[0]);
  const wakeFrom = performance.now() - spawned;
  const wake = wakes > 0
    ? await measureWake({
      client,
      target: rig.target,
      redisPid: rig.redis.pid,
      messages: wakes,
      timeoutMs: 120_000,
    })
    : undefined;
  const wakeTo = performance.now() - spawned;
  const wakeThreads = _minus(readThreadCpuMs(pids[0]), wakeThreadsBefore);
  await client.close();
  rig.client = undefined;
  // Let the server see every client go before it is stopped: it must exit
  // within the stop's grace to write its profile.
  await pollUntil(async () => ((await rig.target.heldCount()) ?? 0) === 0, {
    timeoutMs: 30_000,
    intervalMs: 100,
    retryErrors: true,
  });
  await sleep(1_000);
  // No poll is held now: the server drains at once and writes the profile as
  // it exits, which may take longer than the rig's stop waits.
  Deno.kill(pids[0], "SIGTERM");
  await pollUntil(() => !_alive(pids[0]), { timeoutMs: 60_000, intervalMs: 100 });
  await rig[Symbol.asyncDispose]();
  const files = [...Deno.readDirSync(profileDir)].map((entry) => entry.name);
  if (files.length === 0) {
    console.error(`Cannot read the profile: none was written in ${profileDir}`);
    return 1;
  }
  const profile = JSON.parse(
    await Deno.readTextFile(`${profileDir}/${files[0]}`),
  ) as CpuProfile;
  const name = values.floor ? `bare hold on ${runtime}` : `ours on ${runtime}`;
  console.log(
    `## ${name}: ${polls} polls accepted (server CPU ${acceptCpu.toFixed(0)} ms by /proc, ${
      ((acceptCpu / polls) * 1000).toFixed(0)
    } ms per 1,000)\n`,
  );
  console.log(
    _table(
      selfTimeByPlace(profile, { from: acceptFrom, to: acceptTo }),
      polls / 1000,
      "per 1,000 polls",
    )
      .join("\n"),
  );
  console.log(
    `\nBy thread (/proc/<pid>/task): ${_threads(acceptThreads, polls / 1000)} ms per 1,000`,
  );
  if (wake !== undefined) {
    console.log(
      `\n## ${name}: ${wake.count} wakes at ${polls} held (p50 ${wake.p50.toFixed(2)} ms, p99 ${
        wake.p99.toFixed(2)
      } ms, max ${wake.max.toFixed(2)} ms; server CPU ${
        (wake.serverCpuMs / wake.count).toFixed(3)
      } ms per wake by /proc)\n`,
    );
    console.log(
      _table(selfTimeByPlace(profile, { from: wakeFrom, to: wakeTo }), wake.count, "per wake")
        .join("\n"),
    );
    console.log(`\nBy thread (/proc/<pid>/task): ${_threads(wakeThreads, wake.count)} ms per wake`);
    const stalls = stallsOf(profile, { from: wakeFrom, to: wakeTo, minMs: 2 });
    const line = (what: string, runs: number[]) =>
      `${what}: ${runs.length} (${runs.reduce((a, b) => a + b, 0).toFixed(0)} ms; longest ${
        runs.sort((a, b) => b - a).slice(0, 5).map((ms) => ms.toFixed(1)).join(", ") || "none"
      })`;
    console.log(
      `\nStalls of 2 ms or more in the wake phase (the p99 of ${wake.count} wakes is the ${
        Math.ceil(wake.count / 100)
      }th slowest): ${line("collector", stalls.gc)}; ${line("one task", stalls.task)}; ${
        line("waiting for a core", stalls.gap)
      }`,
    );
  }
  console.log(`\nProfile: ${profileDir}/${files[0]}`);
  return 0;
}

function _alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

function _minus(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  return new Map([...after].map(([name, ms]) => [name, ms - (before.get(name) ?? 0)]));
}

function _threads(byName: Map<string, number>, per: number): string {
  return [...byName].filter(([, ms]) => ms > 0).sort((a, b) => b[1] - a[1])
    .map(([name, ms]) => `${name} ${(ms / per).toFixed(3)}`).join(", ");
}

if (import.meta.main) Deno.exit(await _main());
