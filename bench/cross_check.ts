/**
 * The cross-check of the held and wake scenarios: one size of each measured
 * again with a second, independent client (`cross_client.mjs`, plain Node),
 * so that a figure that comes from the bench's own load client shows up as
 * a gap between the two.
 *
 * @module
 */
import type { RedisServer } from "../testing/redis_server.ts";
import { sleep } from "../testing/wait_until.ts";
import { totalRssKiB, waitUntilHeld } from "./measure.ts";
import { countFds } from "./proc_stats.ts";
import type { ProcessGroup } from "./process_group.ts";
import { startRig } from "./rig.ts";
import { type LatencySummary, summarize } from "../testing/stats.ts";
import type { BenchTarget } from "./target.ts";

const SCRIPT = new URL("./cross_client.mjs", import.meta.url).pathname;

/** Figures of the second client on one target. */
export interface CrossResult {
  /** Name of the target. */
  name: string;
  /** Polls it opened. */
  n: number;
  /** Polls the server said it held. */
  held: number;
  /** Server RSS growth since start ÷ n, in KiB. */
  rssKiBPerPoll: number;
  /** Wake latency, publish to last byte, one message at a time. */
  wake: LatencySummary & { errors: number; errorSamples: string[] };
}

/** Options of {@linkcode runCrossCheck}. */
export interface CrossCheckOptions {
  /** The group that owns the processes. */
  group: ProcessGroup;
  /** Directory for logs. */
  dir: string;
  /** Starts the server under test on a fresh Redis. */
  start: (redis: RedisServer) => Promise<BenchTarget>;
  /** Polls to hold. */
  held: number;
  /** Wakes to time. */
  wakes: number;
  /** Prints progress. */
  log: (line: string) => void;
}

/**
 * Why the second client can't run here (it needs `node`), or undefined.
 *
 * @example
 * ```ts
 * import { crossClientMissing } from "./cross_check.ts";
 * const why = await crossClientMissing();
 * console.log(why === undefined || why.includes("node")); // true
 * ```
 */
export async function crossClientMissing(): Promise<string | undefined> {
  try {
    await new Deno.Command("node", { args: ["--version"], stdout: "null" }).output();
    return undefined;
  } catch {
    return "node is not on PATH";
  }
}

/**
 * Holds `held` polls with the second client on a fresh Redis and server,
 * measures RSS per poll, times `wakes` wakes, and stops everything after.
 *
 * @example
 * ```ts ignore
 * import { runCrossCheck } from "./cross_check.ts";
 * const cross = await runCrossCheck({ group, dir, start, held: 1000, wakes: 200, log: console.log });
 * console.log(cross.rssKiBPerPoll, cross.wake.p99);
 * ```
 */
export async function runCrossCheck(options: CrossCheckOptions): Promise<CrossResult> {
  await using rig = await startRig(options);
  const { target } = rig;
  await sleep(1_000);
  const pids = target.pids();
  const idleRssKiB = totalRssKiB(pids);
  const baselineFds = pids.reduce((sum, pid) => sum + countFds(pid), 0);
  const tracked = options.group.spawn({
    name: "cross-check client",
    command: "node",
    args: [
      SCRIPT,
      JSON.stringify({
        port: target.port,
        pollPath: target.pollPath,
        count: options.held,
        uidPrefix: "x",
        publish: target.publish,
      }),
    ],
    stdin: true,
    stdout: "piped",
    stderr: "inherit",
  });
  const lines = _lines(tracked.child.stdout);
  const writer = tracked.child.stdin.getWriter();
  try {
    const opened = JSON.parse(await _next(lines)) as { opened: number; errors: number };
    const held = await waitUntilHeld({
      target,
      expected: options.held,
      baselineFds,
      timeoutMs: 30_000,
    });
    await sleep(500);
    const rssKiBPerPoll = (totalRssKiB(pids) - idleRssKiB) / options.held;
    await writer.write(new TextEncoder().encode(`wake ${options.wakes}\n`));
    const reply = JSON.parse(await _next(lines)) as {
      samples: number[];
      errors: number;
      errorSamples: string[];
    };
    const result: CrossResult = {
      name: target.name,
      n: options.held,
      held,
      rssKiBPerPoll,
      wake: {
        ...summarize(reply.samples),
        errors: reply.errors + opened.errors,
        errorSamples: reply.errorSamples,
      },
    };
    options.log(
      `  ${target.name}, second client: ${options.held} held (server says ${held}), ${
        rssKiBPerPoll.toFixed(1)
      } KiB/poll; ${options.wakes} wakes: p50 ${result.wake.p50.toFixed(2)} ms, p99 ${
        result.wake.p99.toFixed(2)
      } ms, errors ${result.wake.errors}${
        reply.errorSamples.length > 0 ? ` (${reply.errorSamples.join("; ")})` : ""
      }`,
    );
    return result;
  } finally {
    await writer.write(new TextEncoder().encode("quit\n")).catch(() => {});
    await options.group.stop(tracked, 2_000);
  }
}

async function* _lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let text = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    let end: number;
    while ((end = text.indexOf("\n")) >= 0) {
      yield text.slice(0, end);
      text = text.slice(end + 1);
    }
  }
}

async function _next(lines: AsyncGenerator<string>): Promise<string> {
  for (;;) {
    const { value, done } = await lines.next();
    if (done) throw new Error("Cannot read the second client: it exited");
    if (value.startsWith("{")) return value;
  }
}
