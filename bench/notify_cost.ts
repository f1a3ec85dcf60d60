/**
 * What keyspace notifications cost Redis: the same LPUSH + RPOP load with
 * notifications as our server sets them, then with them off.
 *
 * @module
 */
import { readCpuMs } from "./proc_stats.ts";
import type { ProcessGroup } from "./process_group.ts";
import type { RedisServer } from "../testing/redis_server.ts";
import { sideKey } from "../src/store/redis_keys.ts";
import { RespClient } from "./resp_client.ts";
import { startBenchRedis } from "./rig.ts";
import type { BenchTarget } from "./target.ts";

/** Result of {@linkcode measureNotifyCost}. */
export interface NotifyCost {
  /** `notify-keyspace-events` as the server left it. */
  flags: string;
  /** Redis CPU per 1,000 LPUSH + RPOP pairs with notifications on, in ms. */
  onMsPer1k: number;
  /** The same with notifications off, in ms. */
  offMsPer1k: number;
  /** Share of Redis CPU spent on notifications, in %. */
  sharePct: number;
  /**
   * Redis CPU per 1,000 pairs with notifications on and the server started
   * with `QUEUE_TTL` (it sends one `EXPIRE` per plain `LPUSH` it hears), in ms.
   */
  ttlMsPer1k: number;
}

/** Options of {@linkcode measureNotifyCost}. */
export interface NotifyCostOptions {
  /** The group that owns the processes. */
  group: ProcessGroup;
  /** Directory for logs. */
  dir: string;
  /**
   * Starts our server on a fresh Redis (it subscribes and turns
   * notifications on), with `env` added to its settings.
   */
  start: (redis: RedisServer, env?: Record<string, string>) => Promise<BenchTarget>;
  /** LPUSH + RPOP pairs per measure. */
  pairs: number;
}

/**
 * Runs the load three times on a fresh Redis with our server subscribed:
 * notifications on, off, and on with the server started with `QUEUE_TTL`;
 * then stops both.
 *
 * @example
 * ```ts ignore
 * import { measureNotifyCost } from "./notify_cost.ts";
 * const cost = await measureNotifyCost({ group, dir, start, pairs: 50_000 });
 * console.log(cost.sharePct);
 * ```
 */
export async function measureNotifyCost(options: NotifyCostOptions): Promise<NotifyCost> {
  const redis = await startBenchRedis(options);
  let target: BenchTarget | undefined;
  const client = await RespClient.connect({ port: redis.port });
  try {
    target = await options.start(redis);
    const reply = await client.command(["CONFIG", "GET", "notify-keyspace-events"]);
    const flags = Array.isArray(reply) && typeof reply[1] === "string" ? reply[1] : "";
    const on = await _load(client, redis.pid, options.pairs);
    await client.command(["CONFIG", "SET", "notify-keyspace-events", ""]);
    const off = await _load(client, redis.pid, options.pairs);
    await client.command(["CONFIG", "SET", "notify-keyspace-events", flags]);
    await target.stop();
    // The first server recorded its queue limits (none) for the prefix; a
    // server given others refuses to start until they are gone.
    await client.command(["DEL", sideKey("Q/MSG", "limits")]);
    target = await options.start(redis, { QUEUE_TTL: "3600" });
    const withTtl = await _load(client, redis.pid, options.pairs);
    return {
      flags,
      onMsPer1k: (on / options.pairs) * 1000,
      offMsPer1k: (off / options.pairs) * 1000,
      sharePct: on > 0 ? ((on - off) / on) * 100 : NaN,
      ttlMsPer1k: (withTtl / options.pairs) * 1000,
    };
  } finally {
    client.close();
    await target?.stop();
    await redis[Symbol.asyncDispose]();
  }
}

async function _load(client: RespClient, pid: number, pairs: number): Promise<number> {
  const before = readCpuMs(pid);
  const batch = 500;
  for (let sent = 0; sent < pairs; sent += batch) {
    const commands: string[][] = [];
    for (let i = 0; i < batch; i++) {
      // Keys no poll waits for: the server only hears the notification.
      commands.push(["LPUSH", `Q/MSGnotify${i}`, "{}"], ["RPOP", `Q/MSGnotify${i}`]);
    }
    await client.pipeline(commands);
  }
  return readCpuMs(pid) - before;
}
