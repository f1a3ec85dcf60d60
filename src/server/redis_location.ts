/**
 * Reading the Redis settings (`REDIS_URL`, `REDIS_SENTINELS`,
 * `REDIS_SENTINEL_NAME`): where the store is (one URL, the nodes of a
 * cluster, or the Sentinels of a primary), and where as logs may show it.
 *
 * @module
 */

/** The Redis settings, as read. */
export interface RedisSettings {
  /** `REDIS_URL`: one URL, or a comma-separated list of cluster nodes. */
  readonly redisUrl?: string;
  /** `REDIS_SENTINELS`: the Sentinels, each `host:port`. */
  readonly redisSentinels?: readonly string[];
  /** `REDIS_SENTINEL_NAME`: the name they monitor the primary under. */
  readonly sentinelName?: string;
}

/** Where the store is, as `RedisStore` takes it. */
export type RedisLocation =
  | { url: string }
  | { nodes: string[] }
  | { url?: string; sentinels: readonly string[]; sentinelName?: string };

/**
 * Where the store of the Redis settings is: one URL, a comma-separated list
 * of Redis Cluster nodes, or Sentinels (with the URL's password and
 * database, if one is given); undefined when none is set.
 *
 * @example
 * ```ts
 * import { redisLocation } from "./redis_location.ts";
 * console.log(redisLocation({ redisUrl: "redis://a:7000, redis://b:7000" })); // { nodes: [ "redis://a:7000", "redis://b:7000" ] }
 * console.log(redisLocation({ redisSentinels: ["s1:26379"], sentinelName: "m" })); // { url: undefined, sentinels: [ "s1:26379" ], sentinelName: "m" }
 * ```
 */
export function redisLocation(settings: RedisSettings): RedisLocation | undefined {
  const { redisUrl, redisSentinels, sentinelName } = settings;
  if (redisSentinels !== undefined) {
    return { url: redisUrl?.trim(), sentinels: redisSentinels, sentinelName };
  }
  if (redisUrl === undefined) return undefined;
  const urls = redisUrl.split(",").map((url) => url.trim());
  return urls.length > 1 ? { nodes: urls } : { url: urls[0] };
}

/**
 * Where the store of the Redis settings is, for logs: its URL (or nodes)
 * with credentials hidden, or its Sentinels and the primary's name.
 *
 * @example
 * ```ts
 * import { describeRedis } from "./redis_location.ts";
 * console.log(describeRedis({ redisUrl: "redis://app:s3cret@10.0.0.1:6379" })); // redis://***@10.0.0.1:6379
 * console.log(describeRedis({ redisSentinels: ["s1:26379", "s2:26379"], sentinelName: "m" })); // the primary "m" of Sentinels s1:26379,s2:26379
 * ```
 */
export function describeRedis(settings: RedisSettings): string {
  const { redisUrl, redisSentinels, sentinelName } = settings;
  if (redisSentinels !== undefined) {
    return `the primary "${sentinelName}" of Sentinels ${redisSentinels.join(",")}`;
  }
  return redactUrl(redisUrl ?? "");
}

/**
 * `url` with any user name and password hidden, for logs.
 *
 * @example
 * ```ts
 * import { redactUrl } from "./redis_location.ts";
 * console.log(redactUrl("redis://app:s3cret@10.0.0.1:6379")); // redis://***@10.0.0.1:6379
 * ```
 */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/g, "//***@");
}
