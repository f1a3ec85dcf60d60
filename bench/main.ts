/**
 * `deno task bench`: starts Redis, the project's server on each runtime
 * (Deno, Bun, Node) and Nchan, runs the held, wake, hit, cross-check, scale and
 * burst scenarios on each, prints one table per runtime with the ratios, and writes it to `bench/results/latest.md` with a chart in
 * `bench/chart.svg`. Every process it starts is stopped before it exits.
 *
 * @module
 */
import { renderChart } from "./chart.ts";
import { crossClientMissing, runCrossCheck } from "./cross_check.ts";
import { type BenchOptions, parseBenchFlags, USAGE } from "./flags.ts";
import { IdleWatch, SETTLE_SECONDS } from "./idle.ts";
import { type ServerKind, startReferenceServer } from "./reference_server.ts";
import { nchanMissing, startNchan } from "./nchan_server.ts";
import { measureNotifyCost } from "./notify_cost.ts";
import { startOurServer } from "./our_server.ts";
import { initClockTicks } from "./proc_stats.ts";
import { ProcessGroup } from "./process_group.ts";
import type { RedisServer } from "../testing/redis_server.ts";
import { renderReport } from "./report.ts";
import { burstTable } from "./report_burst.ts";
import {
  type BenchResults,
  embeddedName,
  NAMES,
  oursName,
  referenceName,
  sseName,
} from "./results.ts";
import { type PreparedRuntime, prepareRuntime, type Runtime, RUNTIME_LABELS } from "./runtime.ts";
import { runHeldSweep } from "./scenario_held.ts";
import { runHits } from "./scenario_hit.ts";
import { runScale } from "./scenario_scale.ts";
import { BURST_MAX, BURST_MESSAGES, type BurstResult, runBurst } from "./scenario_burst.ts";
import type { BenchTarget } from "./target.ts";
import { wrkMissing } from "./wrk.ts";

async function _main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchFlags(Deno.args);
  } catch (error) {
    console.error((error as Error).message);
    console.error(USAGE);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  await initClockTicks();
  const started = performance.now();
  const group = new ProcessGroup();
  const dir = await Deno.makeTempDir({ prefix: "longpoll-bench-" });
  const onSignal = () => {
    console.error("Interrupted: stopping every process the bench started");
    group.stopAll(1_000).finally(() => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // already gone
      }
      Deno.exit(130);
    });
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const missing = options.nchan ? await nchanMissing() : "skipped (--no-nchan)";
  if (missing !== undefined && options.nchan) {
    console.log(`Nchan is missing: ${missing}. Showing our figures alone.`);
  }
  const results: BenchResults = {
    date: new Date().toISOString(),
    command: ["deno task bench", ...Deno.args].join(" "),
    cores: navigator.hardwareConcurrency,
    cpu: _cpuModel(),
    code: await _gitDescribe(),
    denoVersion: `deno ${Deno.version.deno} (V8 ${Deno.version.v8})`,
    peerVersion: missing === undefined ? await _nginxVersion() : undefined,
    nchanMissing: missing === undefined ? undefined : `Nchan not run: ${missing}`,
    sizes: options.sizes,
    durationSeconds: 0,
    held: [],
    runtimes: [],
    runtimesMissing: [],
    hit: [],
    cross: [],
    scale: [],
  };
  const bursts: BurstResult[] = results.burst = [];
  const log = (line: string) => console.log(line);
  const prepared: PreparedRuntime[] = [];
  for (const runtime of options.runtimes) {
    try {
      prepared.push(await prepareRuntime(runtime));
    } catch (error) {
      const why = `${RUNTIME_LABELS[runtime]} not run: ${(error as Error).message}`;
      log(why);
      results.runtimesMissing.push(why);
    }
  }
  results.runtimes = prepared.map(({ runtime, task, version }) => ({ runtime, task, version }));
  const ours =
    (serve: PreparedRuntime, early = false, processes = 1) =>
    (redis: RedisServer, env?: Record<string, string>) =>
      startOurServer({
        group,
        dir,
        redisUrl: redis.url,
        serve,
        name: oursName(serve.runtime, early),
        earlyHeaders: early,
        processes,
        env,
      });
  const nchan = (workers = 1) => (redis: RedisServer): Promise<BenchTarget> =>
    startNchan({ group, dir, redisPort: redis.port, workers });
  // Nchan's memory store: the Redis the rig starts stays unused.
  const nchanMemory = () => startNchan({ group, dir, redisPort: undefined });
  const reference = (kind: ServerKind, runtime: Runtime) => (redis: RedisServer) =>
    startReferenceServer(kind, { group, dir, runtime, redis: kind === "bare" ? redis : undefined });
  const deno = prepared.find((serve) => serve.runtime === "deno");
  const memory = options.memory ? prepared : [];
  const peer = missing === undefined;
  let failed = false;
  let idle: IdleWatch | undefined;
  try {
    const { scenarios } = options;
    if (scenarios.has("held")) {
      log(`idle RSS: start-up now, settled after ${SETTLE_SECONDS} s idle beside the scenarios`);
      idle = await IdleWatch.start({ group, dir }, [
        ...prepared.map((serve) => ours(serve)),
        ...memory.map((serve) => reference("memory", serve.runtime)),
        ...(peer ? [nchan()] : []),
        ...(peer && options.memory ? [nchanMemory] : []),
      ]);
    }
    if (scenarios.has("held") || scenarios.has("wake")) {
      const steps = scenarios.has("held") ? options.heldSteps : [10_000];
      const wakeMessages = (n: number) =>
        !scenarios.has("wake")
          ? 0
          : n === 10_000
          ? options.wakeMessages
          : options.wakeMessagesOtherSteps;
      const runs: [string, (redis: RedisServer) => Promise<BenchTarget>, boolean][] = [];
      for (const serve of prepared) {
        runs.push([oursName(serve.runtime), ours(serve), true]);
        if (serve.runtime === "deno" && options.early && scenarios.has("held")) {
          runs.push([oursName("deno", true), ours(serve, true), true]);
        }
        if (options.floors && scenarios.has("held")) {
          // The floor holds and never answers: nothing to wake.
          runs.push([
            referenceName("hold", serve.runtime),
            reference("hold", serve.runtime),
            false,
          ]);
        }
      }
      if (peer) runs.push([NAMES.nchan, nchan(), true]);
      for (const serve of memory) {
        runs.push([embeddedName(serve.runtime), reference("memory", serve.runtime), true]);
      }
      if (peer && options.memory) runs.push([NAMES.nchanMemory, nchanMemory, true]);
      for (const [name, start, wakes] of runs) {
        log(`held/wake: ${name}, steps ${steps.join(", ")}`);
        results.held.push(
          await runHeldSweep({
            group,
            dir,
            start,
            steps,
            wakeMessages: wakes ? wakeMessages : () => 0,
            log,
          }),
        );
      }
    }
    if (scenarios.has("wake") && deno !== undefined) {
      log(
        `wake: Redis CPU with and without keyspace notifications, ${options.notifyPairs} LPUSH + RPOP`,
      );
      results.notify = await measureNotifyCost({
        group,
        dir,
        start: ours(deno),
        pairs: options.notifyPairs,
      });
      log(
        `  notify-keyspace-events "${results.notify.flags}": ${
          results.notify.onMsPer1k.toFixed(1)
        } ms per 1,000 pairs, off: ${results.notify.offMsPer1k.toFixed(1)} ms, share ${
          results.notify.sharePct.toFixed(0)
        }%; with QUEUE_TTL: ${results.notify.ttlMsPer1k.toFixed(1)} ms`,
      );
    }
    if (scenarios.has("cross")) {
      const crossMissing = await crossClientMissing();
      if (crossMissing !== undefined) {
        results.crossMissing = `Cross-check not run: ${crossMissing}`;
      } else {
        log(
          `cross-check: a second client (Node), ${options.crossHeld} held, ${options.crossWakes} wakes`,
        );
        const targets = [
          ...prepared.map((serve) => ours(serve)),
          ...(missing === undefined ? [nchan()] : []),
        ];
        for (const start of targets) {
          results.cross.push(
            await runCrossCheck({
              group,
              dir,
              start,
              held: options.crossHeld,
              wakes: options.crossWakes,
              log,
            }),
          );
        }
      }
    }
    if (scenarios.has("hit")) {
      const wrk = await wrkMissing();
      if (wrk !== undefined) throw new Error(`Cannot run the hit scenario: ${wrk}`);
      const common = {
        group,
        dir,
        connections: options.hitConnections,
        warmupS: options.hitWarmupS,
        roundS: options.hitRoundS,
        rounds: options.hitRounds,
        log,
      };
      log(
        `hit: wrk -t1 -c${options.hitConnections}, ${
          options.hitUids.join(" and ")
        } uids, best of ${options.hitRounds} × ${options.hitRoundS} s, every target in turn`,
      );
      const uidCounts = options.hitUids;
      results.hit.push(
        ...await runHits({
          ...common,
          targets: [
            ...prepared.map((serve) => ({
              start: ours(serve),
              preload: "lpush" as const,
              uidCounts,
            })),
            ...(peer ? [{ start: nchan(), preload: "nchan-publish" as const, uidCounts }] : []),
            ...memory.map((serve) => ({
              start: reference("memory", serve.runtime),
              preload: "lpush" as const,
              uidCounts,
            })),
            ...(peer && options.memory
              ? [{ start: nchanMemory, preload: "nchan-publish" as const, uidCounts }]
              : []),
            {
              start: reference("hello", "deno"),
              preload: "none" as const,
              uidCounts: [Math.max(...uidCounts)],
            },
            ...(options.floors ? prepared : []).map((serve) => ({
              start: reference("bare", serve.runtime),
              preload: "lpush" as const,
              uidCounts: [Math.max(...uidCounts)],
            })),
          ],
        }),
      );
    }
    // The idle servers stop before the SSE and scale scenarios: in a full run with them still up,
    // scale held 3,120 of 76,000 polls; run alone just after, it held all of them.
    if (idle !== undefined) {
      results.idle = await idle.settle();
      for (const figure of results.idle) {
        log(
          `  idle RSS of ${figure.name}: ${
            (figure.startupKiB / 1024).toFixed(0)
          } MiB at start-up, ${(figure.settledKiB / 1024).toFixed(0)} MiB after ${
            figure.settledAfterS.toFixed(0)
          } s idle`,
        );
      }
    }
    if (scenarios.has("sse")) {
      // Held at the wake step only (10k; 1k with --quick), on the in-memory store.
      const n = options.heldSteps.includes(10_000) ? 10_000 : Math.max(...options.heldSteps);
      // 500 wakes by default (2,000 with --full), so that the default run stays short.
      const wakes = options.wakeMessagesOtherSteps;
      log(`sse: Server-Sent Events streams, ${n} held, ${wakes} wakes`);
      results.sse = [];
      const streams: [string, (redis: RedisServer) => Promise<BenchTarget>][] = prepared.map((
        serve,
      ) => [
        sseName(serve.runtime),
        () =>
          startOurServer({
            group,
            dir,
            redisUrl: undefined,
            serve,
            name: sseName(serve.runtime),
            stream: true,
            env: { DELIVERY: "stream" },
          }),
      ]);
      if (peer) {
        streams.push([
          NAMES.nchanEvents,
          () => startNchan({ group, dir, redisPort: undefined, stream: true }),
        ]);
      }
      for (const [name, start] of streams) {
        try {
          results.sse.push(
            await runHeldSweep({
              group,
              dir,
              start,
              steps: [n],
              wakeMessages: () => wakes,
              log,
            }),
          );
        } catch (error) {
          // A checkout without stream delivery refuses DELIVERY=stream: say so, go on.
          const why = `${name} not run: ${(error as Error).message.split("\n")[0]}`;
          results.sseMissing = [results.sseMissing, why].filter(Boolean).join("; ");
          log(`  ${why}`);
        }
      }
    }
    if (scenarios.has("scale") && deno !== undefined) {
      const n = options.scaleProcesses * options.scalePolls;
      const common = {
        group,
        dir,
        processes: options.scaleProcesses,
        n,
        wakeMessages: options.wakeMessages,
        log,
      };
      log(`scale: ${options.scaleProcesses} processes × ${options.scalePolls} polls`);
      results.scale.push(
        await runScale({ ...common, start: ours(deno, false, options.scaleProcesses) }),
      );
      if (missing === undefined) {
        // The peer failing is a finding, not the end of the run: ours is measured and reported.
        try {
          results.scale.push(await runScale({ ...common, start: nchan(options.scaleProcesses) }));
        } catch (error) {
          results.scaleFailed =
            `${NAMES.nchan} did not finish the scale scenario: ${
              (error as Error).message
            } (an nginx worker exited during the run; its error log, kept in ${dir}, and \`dmesg\` ` +
            "say why)";
          log(`  ${results.scaleFailed}`);
        }
      }
    }
    if (scenarios.has("burst")) {
      log(`burst: ${BURST_MESSAGES} messages to one uid, one per poll and max=${BURST_MAX}`);
      for (const serve of prepared) {
        bursts.push(
          ...await runBurst({ group, dir, start: ours(serve), modes: ["one", "batch"], log }),
        );
      }
      if (peer) {
        bursts.push(...await runBurst({ group, dir, start: nchan(), modes: ["one"], log }));
      }
      for (const line of burstTable(bursts)) log(`  ${line}`);
    }
  } catch (error) {
    failed = true;
    console.error(`Cannot finish the bench: ${(error as Error).message}`);
    console.error(`Logs are kept in ${dir}`);
  } finally {
    await group.stopAll();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  results.durationSeconds = (performance.now() - started) / 1000;
  const report = renderReport(results);
  console.log();
  console.log(report);
  await Deno.mkdir(new URL(`file://${options.out}/..`).pathname, { recursive: true });
  await Deno.writeTextFile(options.out, report);
  await Deno.writeTextFile(
    options.out.replace(/\.md$/, "") + ".json",
    JSON.stringify(results, null, 2) + "\n",
  );
  console.log(`Wrote ${options.out}`);
  if (options.chart !== "" && results.held.length > 0) {
    await Deno.writeTextFile(options.chart, renderChart(results));
    // The chart is committed: leave it as `deno fmt --check` wants it.
    await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--quiet", options.chart],
      stdout: "null",
      stderr: "null",
    }).output().catch(() => undefined);
    console.log(`Wrote ${options.chart}`);
  }
  if (!failed && results.scaleFailed === undefined) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return failed ? 1 : 0;
}

async function _gitDescribe(): Promise<string> {
  const run = async (args: string[]) => {
    const output = await new Deno.Command("git", {
      args,
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
    }).output();
    return new TextDecoder().decode(output.stdout).trim();
  };
  try {
    const commit = await run(["rev-parse", "--short", "HEAD"]);
    const dirty = await run(["status", "--porcelain", "--", "src", "deploy", "mod.ts"]);
    return commit === "" ? "unknown" : `${commit}${dirty === "" ? "" : " + uncommitted changes"}`;
  } catch {
    return "unknown";
  }
}

function _cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(Deno.readTextFileSync("/proc/cpuinfo"));
    return match?.[1].trim() ?? "unknown CPU";
  } catch {
    return "unknown CPU";
  }
}

async function _nginxVersion(): Promise<string> {
  try {
    const output = await new Deno.Command("nginx", { args: ["-v"], stderr: "piped" }).output();
    const nginx = new TextDecoder().decode(output.stderr).trim().replace("nginx version: ", "");
    const dpkg = await new Deno.Command("dpkg-query", {
      args: ["-W", "-f", "${Version}", "libnginx-mod-nchan"],
      stdout: "piped",
      stderr: "null",
    }).output().catch(() => undefined);
    const nchan = dpkg === undefined ? "" : new TextDecoder().decode(dpkg.stdout).trim();
    return `${nginx}, libnginx-mod-nchan ${
      nchan || "?"
    } (Redis storage; 1 worker, as many as ours in scale)`;
  } catch {
    return "nginx (version unknown)";
  }
}

if (import.meta.main) Deno.exit(await _main());
