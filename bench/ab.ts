/**
 * An alternating A/B of ours on one runtime: A is this checkout, B is this
 * checkout with more settings (`--env KEY=VALUE`, e.g. V8 flags through
 * `DENO_V8_FLAGS`) or another checkout (`--b-root DIR`, e.g. a `git archive`
 * of the previous commit). Rounds go A B A B …, each on a fresh Redis and
 * server: the held step (RSS per held poll, CPU per 1,000 accepted), wakes
 * at that step (p50, p99), then hits (`wrk`, 64 uids), and the report gives
 * each figure's B/A ratio per round, with the median and the spread.
 *
 * ```sh
 * deno run -A bench/ab.ts --rounds 4 --held 10000 --wakes 2000 --env DENO_V8_FLAGS=--max-semi-space-size=16
 * git archive HEAD~1 | tar -x -C /tmp/prev && deno run -A bench/ab.ts --b-root /tmp/prev
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { LoadClient } from "./load_client.ts";
import { holdPolls, measureWake, totalCpuMs, totalRssKiB } from "./measure.ts";
import { startOurServer } from "./our_server.ts";
import { initClockTicks } from "./proc_stats.ts";
import { ProcessGroup } from "./process_group.ts";
import { startRig } from "./rig.ts";
import { prepareRuntime, type Runtime } from "./runtime.ts";
import { type HitResult, runHits } from "./scenario_hit.ts";
import { sleep } from "../testing/wait_until.ts";
import type { RedisServer } from "../testing/redis_server.ts";

/** Figures of one side in one round. */
interface _Figures {
  rssKiBPerPoll: number;
  cpuMsPer1k: number;
  wakeP50: number;
  wakeP99: number;
  hitReqPerSec: number;
  /** Server CPU per 1,000 hits answered, in ms: steadier than the rate on a shared machine. */
  hitCpuMsPer1k: number;
}

/**
 * The median and the range of `values`, as "1.02× (0.97–1.05×)".
 *
 * @example
 * ```ts
 * import { ratioSpread } from "./ab.ts";
 * console.log(ratioSpread([1.1, 0.9, 1.0])); // 1.00× (0.90–1.10×)
 * ```
 */
export function ratioSpread(values: readonly number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length % 2 === 1
    ? sorted[(sorted.length - 1) / 2]
    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  return `${mid.toFixed(2)}× (${sorted[0].toFixed(2)}–${sorted.at(-1)!.toFixed(2)}×)`;
}

async function _main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runtime: { type: "string", default: "deno" },
      rounds: { type: "string", default: "4" },
      held: { type: "string", default: "10000" },
      wakes: { type: "string", default: "2000" },
      env: { type: "string", multiple: true, default: [] },
      "b-root": { type: "string" },
    },
  });
  const env: Record<string, string> = {};
  for (const pair of values.env) {
    const at = pair.indexOf("=");
    if (at <= 0) {
      console.error(`Cannot read "--env": expected KEY=VALUE, got "${pair}"`);
      return 2;
    }
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  if (Object.keys(env).length === 0 && values["b-root"] === undefined) {
    console.error('Cannot run an A/B: give B with "--env KEY=VALUE" or "--b-root DIR"');
    return 2;
  }
  await initClockTicks();
  await using group = new ProcessGroup();
  const dir = await Deno.makeTempDir({ prefix: "longpoll-ab-" });
  const serve = await prepareRuntime(values.runtime as Runtime);
  const sides = {
    A: (redis: RedisServer) =>
      startOurServer({ group, dir, redisUrl: redis.url, serve, name: "A" }),
    B: (redis: RedisServer) =>
      startOurServer({
        group,
        dir,
        redisUrl: redis.url,
        serve,
        name: "B",
        env,
        root: values["b-root"],
      }),
  };
  const held = Number(values.held);
  const rounds = Number(values.rounds);
  const figures: Record<"A" | "B", _Figures[]> = { A: [], B: [] };
  for (let round = 0; round < rounds; round++) {
    const [first, second] = round % 2 === 0 ? ["A", "B"] as const : ["B", "A"] as const;
    const hit: Record<string, HitResult> = {};
    for (const side of [first, second]) {
      await using rig = await startRig({ group, dir, start: sides[side] });
      const client = rig.client = LoadClient.start({ group, workers: 2 });
      await sleep(1_000);
      const pids = rig.target.pids();
      const idle = totalRssKiB(pids);
      const cpu = totalCpuMs(pids);
      await holdPolls({
        client,
        target: rig.target,
        from: 0,
        to: held,
        batch: 400,
        baselineFds: 0,
      });
      const cpuMsPer1k = ((totalCpuMs(pids) - cpu) / held) * 1000;
      await sleep(500);
      const rssKiBPerPoll = (totalRssKiB(pids) - idle) / held;
      const wake = await measureWake({
        client,
        target: rig.target,
        redisPid: rig.redis.pid,
        messages: Number(values.wakes),
        timeoutMs: 120_000,
      });
      figures[side].push({
        rssKiBPerPoll,
        cpuMsPer1k,
        wakeP50: wake.p50,
        wakeP99: wake.p99,
        hitReqPerSec: NaN,
        hitCpuMsPer1k: NaN,
      });
    }
    // Hits: both sides in one runHits, whose rounds take the targets in turn.
    const hits = await runHits({
      group,
      dir,
      targets: [first, second].map((side) => ({
        start: sides[side],
        preload: "lpush" as const,
        uidCounts: [64],
      })),
      connections: 64,
      warmupS: 1,
      roundS: 3,
      rounds: 2,
      log: () => {},
    });
    for (const result of hits) hit[result.name] = result;
    for (const side of ["A", "B"] as const) {
      figures[side].at(-1)!.hitReqPerSec = hit[side].reqPerSec;
      figures[side].at(-1)!.hitCpuMsPer1k = hit[side].cpuMsPer1k;
    }
    const [a, b] = [figures.A.at(-1)!, figures.B.at(-1)!];
    console.log(
      `round ${round + 1} (${first} first): ` +
        (Object.keys(a) as (keyof _Figures)[]).map((key) =>
          `${key} ${a[key].toFixed(2)} / ${b[key].toFixed(2)}`
        ).join(", "),
    );
  }
  console.log(
    `\nB/A over ${rounds} alternating rounds (median, range), B = ${
      values["b-root"] ?? JSON.stringify(env)
    }, ${held} held, ${values.wakes} wakes, hits wrk -t1 -c64 on 64 uids:`,
  );
  for (const key of Object.keys(figures.A[0]) as (keyof _Figures)[]) {
    const ratios = figures.A.map((a, i) => figures.B[i][key] / a[key]);
    console.log(`- ${key}: ${ratioSpread(ratios)}`);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await _main());
