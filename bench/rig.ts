/**
 * What every scenario runs on: a fresh `redis-server`, the server under
 * test on it, and (once the scenario starts one) a load client, all stopped
 * together at the end of an `await using` block.
 *
 * @module
 */
import type { LoadClient } from "./load_client.ts";
import type { ProcessGroup } from "./process_group.ts";
import { type RedisServer, startRedisServer } from "./redis_server.ts";
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
  const redis = await startRedisServer({ group: options.group, dir: options.dir });
  let target: BenchTarget;
  try {
    target = await options.start(redis);
  } catch (error) {
    await redis.stop();
    throw error;
  }
  const rig: Rig = {
    redis,
    target,
    client: undefined,
    async [Symbol.asyncDispose]() {
      await rig.client?.close();
      await target.stop();
      await redis.stop();
    },
  };
  return rig;
}
