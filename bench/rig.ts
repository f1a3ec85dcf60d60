/**
 * What every scenario runs on: a fresh `redis-server`, the server under
 * test on it, and (once the scenario starts one) a load client, all stopped
 * together at the end of an `await using` block.
 *
 * @module
 */
import type { LoadClient } from "./load_client.ts";
import type { ProcessGroup } from "./process_group.ts";
import { type RedisServer, startRedisServer } from "../testing/redis_server.ts";
import type { BenchTarget } from "./target.ts";

/** Options of {@linkcode startRig}. */
export interface RigOptions {
  /** Owns every process started. */
  group: ProcessGroup;
  /** Directory for logs. */
  dir: string;
  /** Starts the server under test on the fresh Redis. */
  start: (redis: RedisServer) => Promise<BenchTarget>;
}

/** A fresh Redis and the target on it; set `client` to have it closed too. */
export interface Rig extends AsyncDisposable {
  readonly redis: RedisServer;
  readonly target: BenchTarget;
  client: LoadClient | undefined;
}

/**
 * Starts a `redis-server` for the bench: nothing kept on disk, no limit on
 * the output buffer of the subscriber (a burst of wakes must not cut it), room
 * for 10,000 clients, its log in `dir`. `group` stops it on Ctrl-C.
 *
 * @example
 * ```ts ignore
 * import { startBenchRedis } from "./rig.ts";
 * await using redis = await startBenchRedis({ group, dir });
 * console.log(redis.url);
 * ```
 */
export async function startBenchRedis(
  options: { group: ProcessGroup; dir: string },
): Promise<RedisServer> {
  const redis = await startRedisServer({
    dir: options.dir,
    persistent: false,
    extraArgs: ["--client-output-buffer-limit", "pubsub 0 0 0", "--maxclients", "10000"],
  });
  return options.group.use(redis);
}

/**
 * Starts Redis, then the target on it; if the target fails to start, Redis
 * is stopped before the error goes on.
 *
 * @example
 * ```ts ignore
 * import { startRig } from "./rig.ts";
 * await using rig = await startRig({ group, dir, start });
 * rig.client = LoadClient.start({ group, workers: 2 });
 * ```
 */
export async function startRig(options: RigOptions): Promise<Rig> {
  const redis = await startBenchRedis(options);
  let target: BenchTarget;
  try {
    target = await options.start(redis);
  } catch (error) {
    await redis[Symbol.asyncDispose]();
    throw error;
  }
  const rig: Rig = {
    redis,
    target,
    client: undefined,
    async [Symbol.asyncDispose]() {
      await rig.client?.close();
      await target.stop();
      await redis[Symbol.asyncDispose]();
    },
  };
  return rig;
}
