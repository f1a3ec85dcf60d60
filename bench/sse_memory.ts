/**
 * The memory of a held Server-Sent Events stream beside a held poll's, on
 * each runtime: `deno run --allow-all bench/sse_memory.ts [n] [runtime…]`
 * (default 10000 on deno and bun). For each runtime it runs the held sweep
 * of `deno task bench` twice on a fresh Redis: polls of queue delivery
 * (`GET /?uid=`), then streams of stream delivery (`GET /events?uid=`),
 * both opened by the load client over several processes and 127.0.0.x
 * source addresses, and prints the server's RSS growth per poll and per
 * stream.
 *
 * @module
 */
import { initClockTicks } from "./proc_stats.ts";
import { ProcessGroup } from "./process_group.ts";
import { startOurServer } from "./our_server.ts";
import { prepareRuntime, type Runtime, RUNTIME_LABELS, RUNTIMES } from "./runtime.ts";
import { runHeldSweep } from "./scenario_held.ts";

const [count = "10000", ...named] = Deno.args;
const n = Number(count);
const runtimes = (named.length === 0 ? ["deno", "bun"] : named) as Runtime[];
if (!Number.isInteger(n) || n < 1 || runtimes.some((runtime) => !RUNTIMES.includes(runtime))) {
  console.error("Usage: deno run --allow-all bench/sse_memory.ts [n] [deno|bun|node…]");
  Deno.exit(2);
}
await initClockTicks();
await using group = new ProcessGroup();
const dir = await Deno.makeTempDir({ prefix: "longpoll-sse-memory-" });
const lines: string[] = [];
for (const runtime of runtimes) {
  const serve = await prepareRuntime(runtime);
  for (const kind of ["poll", "stream"] as const) {
    const name = `${RUNTIME_LABELS[runtime]} ${kind === "poll" ? "held polls" : "SSE streams"}`;
    const run = await runHeldSweep({
      group,
      dir,
      steps: [n],
      wakeMessages: () => 0,
      log: console.log,
      start: async (redis) => {
        const target = await startOurServer({
          group,
          dir,
          redisUrl: redis.url,
          serve,
          name,
          env: kind === "poll"
            ? { MIN_WAIT: "600", MAX_WAIT: "600" }
            : { DELIVERY: "stream", MAX_STREAMS_PER_UID: "1000", SSE_HEARTBEAT: "600" },
        });
        return kind === "poll" ? target : { ...target, pollPath: "/events?uid=" };
      },
    });
    const step = run.steps[0];
    lines.push(
      `| ${name} | ${step.held} | ${step.rssKiBPerPoll.toFixed(2)} KiB | ${
        (run.idleRssKiB / 1024).toFixed(0)
      } MiB | ${step.errors} |`,
    );
  }
}
console.log(`\n| ${n} held | held | RSS growth each | idle RSS | errors |`);
console.log("| --- | --- | --- | --- | --- |");
for (const line of lines) console.log(line);
await Deno.remove(dir, { recursive: true });
