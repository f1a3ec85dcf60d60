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
import { initClockTicks } from "./proc_stats.ts";
import { startReferenceServer } from "./reference_server.ts";
import { startRig } from "./rig.ts";
import { prepareRuntime, type Runtime, RUNTIMES } from "./runtime.ts";
import { sleep } from "../testing/wait_until.ts";
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
 * ```
 */
export function placeOf(frame: { functionName: string; url: string }): string {
  const { functionName, url } = frame;
  if (url === "") return functionName === "" ? "(native)" : functionName;
  if (/\/npm\/|node_modules/.test(url)) {
    return /@redis|redis/.test(url) ? "node-redis" : "npm: other";
  }
  const own = /\/(src|deploy|bench)\/(.+)$/.exec(url);
  if (own !== null) return `${own[1]}/${own[2]}`;
  if (/^(ext:|node:|bun:|builtin:)/.test(url) || !url.includes("/")) return `runtime: ${url}`;
  return url.replace(/^.*\//, "");
}

/**
 * Self time by place, in ms, of the samples taken between `from` and `to`
 * ms after the profile started; idle samples are left out.
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
  const totals = new Map<string, number>();
  let at = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] / 1000;
    at += delta;
    if (at < window.from || at > window.to) continue;
    const frame = nodes.get(profile.samples[i])?.callFrame;
    if (frame === undefined || frame.functionName === "(idle)") continue;
    // A sample stands for the time until the next one.
    const next = (profile.timeDeltas[i + 1] ?? delta * 1000) / 1000;
    const place = placeOf(frame);
    totals.set(place, (totals.get(place) ?? 0) + next);
  }
  return totals;
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
  await holdPolls({ client, target: rig.target, from: 0, to: polls, batch: 400, baselineFds: 0 });
  const acceptCpu = totalCpuMs(pids) - cpuBefore;
  const acceptTo = performance.now() - spawned;
  await sleep(500);
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
  await client.close();
  rig.client = undefined;
  await sleep(2_000);
  // No poll is held now: the server drains at once and writes the profile as it exits.
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
  }
  console.log(`\nProfile: ${profileDir}/${files[0]}`);
  return 0;
}

if (import.meta.main) Deno.exit(await _main());
