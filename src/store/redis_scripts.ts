/**
 * The Lua scripts of the Redis store: each runs atomically, so a crash at
 * any point loses nothing.
 *
 * @module
 */

/**
 * At-least-once take. KEYS: the list, its in-flight hash (same hash slot).
 * ARGV: ack id or "", now, lease ms, new id. In-flight values read
 * "<deadline>|<deliveries>|<message>". Acks, then re-leases the in-flight
 * message whose lease ran out first, else moves the oldest queued message
 * in flight.
 *
 * @example
 * ```ts
 * import { TAKE } from "./redis_scripts.ts";
 * console.log(TAKE.includes('"RPOP"')); // true
 * ```
 */
export const TAKE = `if ARGV[1] ~= "" then redis.call("HDEL", KEYS[2], ARGV[1]) end
local now = tonumber(ARGV[2])
local entries = redis.call("HGETALL", KEYS[2])
local due, dueDeadline
for i = 1, #entries, 2 do
  local deadline = tonumber(string.match(entries[i + 1], "^(%d+)|"))
  if deadline <= now and (due == nil or deadline < dueDeadline) then
    due, dueDeadline = i, deadline
  end
end
local deliveries, message
if due ~= nil then
  local _, _, count, body = string.find(entries[due + 1], "^%d+|(%d+)|(.*)$")
  redis.call("HDEL", KEYS[2], entries[due])
  deliveries, message = tonumber(count) + 1, body
else
  message = redis.call("RPOP", KEYS[1])
  if not message then return false end
  deliveries = 1
end
redis.call("HSET", KEYS[2], ARGV[4], (now + tonumber(ARGV[3])) .. "|" .. deliveries .. "|" .. message)
return {ARGV[4], deliveries, message}`;

/**
 * Ends a lease now. KEYS: the in-flight hash. ARGV: id, wake channel, uid.
 *
 * @example
 * ```ts
 * import { RELEASE } from "./redis_scripts.ts";
 * console.log(RELEASE.includes('"PUBLISH"')); // true
 * ```
 */
export const RELEASE = `local value = redis.call("HGET", KEYS[1], ARGV[1])
if not value then return 0 end
redis.call("HSET", KEYS[1], ARGV[1], (string.gsub(value, "^%d+", "0", 1)))
redis.call("PUBLISH", ARGV[2], ARGV[3])
return 1`;

/**
 * LPUSH, then announce the uid on the wake channel, atomically. A push that
 * fails (e.g. WRONGTYPE) raises before the PUBLISH, so it wakes nobody,
 * which MULTI would not guarantee. KEYS: the list. ARGV: message, wake
 * channel, uid.
 *
 * @example
 * ```ts
 * import { PUSH_AND_WAKE } from "./redis_scripts.ts";
 * console.log(PUSH_AND_WAKE.includes('"LPUSH"')); // true
 * ```
 */
export const PUSH_AND_WAKE = `redis.call("LPUSH", KEYS[1], ARGV[1])
redis.call("PUBLISH", ARGV[2], ARGV[3])
return 1`;
