/**
 * Starts a reference server of the hit scenario as a target: Deno's hello
 * world (`hello_world.ts`, the ceiling) or the bare node-redis pop
 * (`bare_pop.ts`, the floor of a hit on Deno).
 *
 * @module
 */
import type { RedisServer } from "../testing/redis_server.ts";
import { freePort } from "../testing/free_port.ts";
import { pollUntil } from "../testing/wait_until.ts";
import type { ProcessGroup } from "./process_group.ts";
import { NAMES } from "./results.ts";
import { type BenchTarget, tail } from "./target.ts";

/** The reference servers, by kind. */
const REFERENCES = {
  hello: {
    name: NAMES.hello,
    script: "./hello_world.ts",
    permissions: ["--allow-net"],
    hitBody: "Hello, world",
  },
  bare: {
    name: NAMES.bare,
    script: "./bare_pop.ts",
    permissions: ["--allow-net", "--allow-env", "--allow-read", "--allow-sys"],
    hitBody: undefined,
  },
} as const;

/** Which reference server: hello world, or the bare pop. */
export type ReferenceKind = keyof typeof REFERENCES;

/**
 * Starts a reference server and waits until it listens. The bare pop needs
 * the Redis server whose lists it pops.
 *
 * @example
 * ```ts ignore
 * import { startReferenceServer } from "./reference_server.ts";
 * import { ProcessGroup } from "./process_group.ts";
 * await using group = new ProcessGroup();
 * const hello = await startReferenceServer("hello", { group, dir: "/tmp" });
 * console.log(hello.port);
 * ```
 */
export async function startReferenceServer(
  kind: ReferenceKind,
  options: { group: ProcessGroup; dir: string; redis?: RedisServer },
): Promise<BenchTarget> {
  const reference = REFERENCES[kind];
  const port = freePort();
  const log = `${options.dir}/${kind}-${port}.log`;
  const tracked = options.group.spawn({
    name: reference.name,
    command: Deno.execPath(),
    args: [
      "run",
      ...reference.permissions,
      new URL(reference.script, import.meta.url).pathname,
      `${port}`,
      ...(options.redis === undefined ? [] : [`${options.redis.port}`]),
    ],
    env: { NO_COLOR: "1" },
    logFile: log,
  });
  const stop = () => options.group.stop(tracked);
  if (
    !await pollUntil(() => tail(log, 5).includes("listening on"), {
      timeoutMs: 20_000,
      intervalMs: 25,
    })
  ) {
    await stop();
    throw new Error(
      `Cannot start ${reference.name}: not listening within 20 s; log:\n${tail(log, 20)}`,
    );
  }
  return {
    name: reference.name,
    port,
    pollPath: "/?uid=",
    publish: options.redis === undefined
      ? { kind: "http", port, path: "/?uid=" }
      : { kind: "redis", port: options.redis.port, keyPrefix: "Q/MSG" },
    hitBody: reference.hitBody,
    pids: () => [tracked.child.pid],
    heldCount: () => Promise.resolve(undefined),
    stop,
  };
}
