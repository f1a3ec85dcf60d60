/**
 * Starts the project's full server, on any runtime, as one or several
 * processes on one port.
 *
 * @module
 */
import { freePort } from "../testing/free_port.ts";
import { pollUntil } from "../testing/wait_until.ts";
import type { ProcessGroup, Tracked } from "./process_group.ts";
import type { PreparedRuntime } from "./runtime.ts";
import { type BenchTarget, tail } from "./target.ts";
import { heldPolls } from "../testing/held_polls.ts";

/** Options of {@linkcode startOurServer}. */
export interface OurServerOptions {
  /** The group that owns the processes. */
  group: ProcessGroup;
  /** Directory for the logs. */
  dir: string;
  /** Redis URL of the store; undefined for the in-memory store (publish through `/publish`). */
  redisUrl: string | undefined;
  /** The runtime, ready to start the server through its serve task. */
  serve: PreparedRuntime;
  /** Name in the table. */
  name: string;
  /** Send headers as soon as a poll is held. @default {false} */
  earlyHeaders?: boolean;
  /** Number of processes sharing the port (`REUSE_PORT=true` when above 1). @default {1} */
  processes?: number;
  /** More settings, e.g. `{ MIN_WAIT: "60" }`. */
  env?: Record<string, string>;
  /** Hold Server-Sent Events streams (`GET /events?uid=`) rather than polls. @default {false} */
  stream?: boolean;
  /** The checkout to run, e.g. a `git archive` of an earlier commit for an A/B. @default {this one} */
  root?: string;
}

const ROOT = new URL("..", import.meta.url).pathname;

/**
 * Starts the server the way its serve task does (`deno task serve`,
 * `serve:bun` or `serve:node`, bundling done), on Redis, and waits until
 * every process listens.
 *
 * @example
 * ```ts ignore
 * import { startOurServer } from "./our_server.ts";
 * import { ProcessGroup } from "./process_group.ts";
 * import { prepareRuntime } from "./runtime.ts";
 * await using group = new ProcessGroup();
 * const ours = await startOurServer({
 *   group,
 *   dir: "/tmp",
 *   redisUrl: "redis://127.0.0.1:6379",
 *   serve: await prepareRuntime("bun"),
 *   name: "ours on Bun",
 * });
 * console.log(ours.port);
 * ```
 */
export async function startOurServer(options: OurServerOptions): Promise<BenchTarget> {
  const port = freePort();
  const count = options.processes ?? 1;
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: "127.0.0.1",
    ...(options.redisUrl === undefined ? {} : { REDIS_URL: options.redisUrl }),
    DRAIN_WINDOW: "0",
    EARLY_HEADERS: String(options.earlyHeaders ?? false),
    REUSE_PORT: String(count > 1),
    NO_COLOR: "1",
    ...options.env,
  };
  const processes: Tracked[] = [];
  const logs: string[] = [];
  for (let i = 0; i < count; i++) {
    const log = `${options.dir}/ours-${port}-${i}.log`;
    logs.push(log);
    processes.push(options.group.spawn({
      name: `${options.name} server ${i}`,
      command: options.serve.command,
      args: options.serve.args,
      env,
      cwd: options.root ?? ROOT,
      logFile: log,
    }));
  }
  const exited = new Set<number>();
  processes.forEach((tracked, i) => tracked.child.status.then(() => exited.add(i)));
  const up = await pollUntil(
    () => logs.every((log, i) => !exited.has(i) && tail(log, 50).includes("listening on")),
    { timeoutMs: 30_000, intervalMs: 25 },
  );
  const stop = () =>
    Promise.all(processes.map((tracked) => options.group.stop(tracked))).then(() => {});
  if (!up) {
    await stop();
    throw new Error(
      `Cannot start ${options.name}: not listening within 30 s; log:\n${tail(logs[0], 20)}`,
    );
  }
  return {
    name: options.name,
    port,
    pollPath: options.stream ? "/events?uid=" : "/?uid=",
    stream: options.stream,
    publish: options.redisUrl === undefined
      ? { kind: "http", port, path: "/publish?uid=" }
      : { kind: "redis", port: Number(new URL(options.redisUrl).port), keyPrefix: "Q/MSG" },
    pids: () => processes.map((tracked) => tracked.child.pid),
    heldCount: count === 1 ? () => _heldFromMetrics(port) : () => Promise.resolve(undefined),
    stop,
  };
}

async function _heldFromMetrics(port: number): Promise<number | undefined> {
  const held = await heldPolls({ origin: `http://127.0.0.1:${port}` });
  return Number.isNaN(held) ? undefined : held;
}
