/**
 * Starts a reference server as a target, on any runtime: the hello world
 * (`hello_world.ts`, the ceiling of a hit), the bare node-redis pop
 * (`bare_pop.ts`, the floor of a hit), the bare hold (`bare_hold.ts`, the
 * floor of a held poll), or the embedded default on a `MemoryStore`
 * (`memory_server.ts`). Deno runs the script; Bun and Node run a bundle of
 * it (`deno bundle`, as their serve tasks do), made once per run.
 *
 * @module
 */
import type { RedisServer } from "../testing/redis_server.ts";
import { freePort } from "../testing/free_port.ts";
import { pollUntil } from "../testing/wait_until.ts";
import type { ProcessGroup } from "./process_group.ts";
import { embeddedName, type ReferenceKind, referenceName } from "./results.ts";
import type { Runtime } from "./runtime.ts";
import { type BenchTarget, tail } from "./target.ts";

/** Scripts and Deno permissions, by kind; `memory` is the embedded default. */
const SCRIPTS: Record<ReferenceKind | "memory", { script: string; permissions: string[] }> = {
  hello: { script: "hello_world.ts", permissions: ["--allow-net"] },
  bare: {
    script: "bare_pop.ts",
    permissions: ["--allow-net", "--allow-env", "--allow-read", "--allow-sys"],
  },
  hold: { script: "bare_hold.ts", permissions: ["--allow-net"] },
  memory: { script: "memory_server.ts", permissions: ["--allow-net"] },
};

/** Which server: a reference, or the embedded default (`memory`). */
export type ServerKind = ReferenceKind | "memory";

/** Options of {@linkcode startReferenceServer}. */
export interface ReferenceOptions {
  /** The group that owns the process. */
  group: ProcessGroup;
  /** Directory for logs and bundles. */
  dir: string;
  /** The runtime to run it on. @default {"deno"} */
  runtime?: Runtime;
  /** The Redis the bare pop pops. */
  redis?: RedisServer;
  /** Flags for the runtime itself, e.g. `["--cpu-prof"]`. @default {[]} */
  runtimeFlags?: string[];
}

/**
 * Starts a reference server and waits until it listens. The bare pop needs
 * the Redis server whose lists it pops.
 *
 * @example
 * ```ts ignore
 * import { startReferenceServer } from "./reference_server.ts";
 * import { ProcessGroup } from "./process_group.ts";
 * await using group = new ProcessGroup();
 * const hold = await startReferenceServer("hold", { group, dir: "/tmp", runtime: "bun" });
 * console.log(hold.port);
 * ```
 */
export async function startReferenceServer(
  kind: ServerKind,
  options: ReferenceOptions,
): Promise<BenchTarget> {
  const runtime = options.runtime ?? "deno";
  const name = kind === "memory" ? embeddedName(runtime) : referenceName(kind, runtime);
  const port = freePort();
  const control = kind === "memory" ? freePort() : undefined;
  const ports = [port, control ?? options.redis?.port].filter((p) => p !== undefined);
  const log = `${options.dir}/${kind}-${runtime}-${port}.log`;
  const [command, ...args] = await _command(kind, runtime, options.dir);
  args.splice(runtime === "deno" ? 1 : 0, 0, ...options.runtimeFlags ?? []);
  const tracked = options.group.spawn({
    name,
    command,
    args: [...args, ...ports.map(String)],
    env: { NO_COLOR: "1" },
    logFile: log,
  });
  const stop = () => options.group.stop(tracked);
  const line = kind === "memory" ? "embedded memory server listening on" : "listening on";
  if (!await pollUntil(() => tail(log, 5).includes(line), { timeoutMs: 20_000, intervalMs: 25 })) {
    await stop();
    throw new Error(`Cannot start ${name}: not listening within 20 s; log:\n${tail(log, 20)}`);
  }
  const controlUrl = `http://127.0.0.1:${control}`;
  return {
    name,
    port,
    pollPath: "/?uid=",
    publish: control !== undefined
      ? { kind: "http", port: control, path: "/publish?uid=" }
      : options.redis === undefined
      ? { kind: "http", port, path: "/?uid=" }
      : { kind: "redis", port: options.redis.port, keyPrefix: "Q/MSG" },
    hitBody: kind === "hello" ? "Hello, world" : undefined,
    lists: control === undefined ? undefined : {
      fill: ({ prefix, uids, each, message }) =>
        _json(`${controlUrl}/fill?${_query(prefix, uids)}&each=${each}`, message),
      lengths: (prefix, uids) => _json(`${controlUrl}/lengths?${_query(prefix, uids)}`),
    },
    pids: () => [tracked.child.pid],
    heldCount: control === undefined
      ? () => Promise.resolve(undefined)
      : async () => Number(await (await fetch(`${controlUrl}/held`)).text()),
    stop,
  };
}

/** Bundles made in this run, by runtime-independent path. */
const _bundles = new Map<string, Promise<string>>();

/** The command line of `kind` on `runtime`, without the ports. */
async function _command(kind: ServerKind, runtime: Runtime, dir: string): Promise<string[]> {
  const { script, permissions } = SCRIPTS[kind];
  const path = new URL(`./${script}`, import.meta.url).pathname;
  if (runtime === "deno") return [Deno.execPath(), "run", ...permissions, path];
  const out = `${dir}/bundles/${script.replace(/\.ts$/, ".mjs")}`;
  let bundle = _bundles.get(out);
  if (bundle === undefined) {
    bundle = _bundle(path, out);
    _bundles.set(out, bundle);
  }
  return [runtime, await bundle];
}

async function _bundle(path: string, out: string): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "--output", out, path],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `Cannot bundle "${path}": ${new TextDecoder().decode(output.stderr).trim()}`,
    );
  }
  return out;
}

function _query(prefix: string, uids: number): string {
  return `prefix=${encodeURIComponent(prefix)}&uids=${uids}`;
}

/** GETs `url`, or POSTs `body` to it, and reads the JSON answer. */
async function _json(url: string, body?: string): Promise<number[]> {
  const response = await fetch(url, { method: body === undefined ? "GET" : "POST", body });
  const text = await response.text();
  if (!response.ok) throw new Error(`Cannot reach the memory store: ${url} answered ${text}`);
  return JSON.parse(text) as number[];
}
