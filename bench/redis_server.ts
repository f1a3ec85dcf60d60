/**
 * Starts a throwaway `redis-server` on a free loopback port.
 *
 * @module
 */
import { freePort } from "./free_port.ts";
import type { ProcessGroup, Tracked } from "./process_group.ts";
import { RespClient } from "./resp_client.ts";

/** A running `redis-server`. */
export interface RedisServer {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Its process id. */
  readonly pid: number;
  /** Stops it. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startRedisServer}. */
export interface RedisServerOptions {
  /** The group that owns the process. */
  group: ProcessGroup;
  /** Directory for its log and data. */
  dir: string;
}

/**
 * Starts `redis-server` with no persistence on a free port and waits for PING.
 *
 * @example
 * ```ts ignore
 * import { ProcessGroup } from "./process_group.ts";
 * import { startRedisServer } from "./redis_server.ts";
 * await using group = new ProcessGroup();
 * const redis = await startRedisServer({ group, dir: await Deno.makeTempDir() });
 * console.log(redis.url);
 * ```
 */
export async function startRedisServer(options: RedisServerOptions): Promise<RedisServer> {
  const port = freePort();
  const tracked: Tracked = options.group.spawn({
    name: "redis-server",
    command: "redis-server",
    args: [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      options.dir,
      "--client-output-buffer-limit",
      "pubsub 0 0 0",
      "--maxclients",
      "10000",
    ],
    logFile: `${options.dir}/redis-${port}.log`,
    stopSignal: "SIGTERM",
  });
  const deadline = Date.now() + 10_000;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    try {
      const client = await RespClient.connect({ port });
      const reply = await client.command(["PING"]);
      client.close();
      if (reply === "PONG") break;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
    if (Date.now() >= deadline) {
      await options.group.stop(tracked);
      throw new Error(`Cannot start redis-server: port ${port} did not answer PING within 10 s`);
    }
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: tracked.child.pid,
    stop: () => options.group.stop(tracked),
  };
}
