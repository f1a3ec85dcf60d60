/**
 * How the Redis store names the keys it keeps beside a producer's list.
 *
 * @module
 */

/**
 * The key of the in-flight hash of list `key`, in the same Redis Cluster
 * hash slot as the list, without renaming the producers' key: it reuses the
 * list key's own hash tag if it has one, and makes the whole key the tag
 * otherwise.
 *
 * @example
 * ```ts
 * import { inFlightKey } from "./redis_keys.ts";
 * console.log(inFlightKey("Q/MSG42")); // {Q/MSG42}:inflight
 * console.log(inFlightKey("Q/{team}42")); // Q/{team}42:inflight
 * ```
 */
export function inFlightKey(key: string): string {
  const open = key.indexOf("{");
  const close = open === -1 ? -1 : key.indexOf("}", open + 1);
  return close > open + 1 ? `${key}:inflight` : `{${key}}:inflight`;
}
