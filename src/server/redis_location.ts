/**
 * Reading a `REDIS_URL` setting: where the store is (one URL, or the nodes
 * of a cluster), and the URL as logs may show it.
 *
 * @module
 */

/**
 * Where the store of a `REDIS_URL` is: one URL, or a comma-separated list
 * of Redis Cluster nodes, as `RedisStore` takes them.
 *
 * @example
 * ```ts
 * import { redisLocation } from "./redis_location.ts";
 * console.log(redisLocation("redis://a:7000, redis://b:7000")); // { nodes: [ "redis://a:7000", "redis://b:7000" ] }
 * ```
 */
export function redisLocation(redisUrl: string): { url: string } | { nodes: string[] } {
  const urls = redisUrl.split(",").map((url) => url.trim());
  return urls.length > 1 ? { nodes: urls } : { url: urls[0] };
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
