/**
 * The Lua scripts of the Redis store: each runs atomically, so a crash at
 * any point loses nothing.
 *
 * @module
 */

/**
 * Lua: `takeQueued(list, aside, count, max, kept)` takes up to `count` of
 * the oldest messages of `list`, at most `max` bytes in all (the first one
 * always goes), and moves the first message over `max` bytes to the `aside`
 * list (keeping the newest `kept`) without returning it, and stops there, so
 * one call reads at most one such message. Returns the messages taken, oldest first, and a flat list of the
 * length and short hash (12 hex digits of SHA-1) of each one moved aside.
 */
const TAKE_QUEUED = `local function takeQueued(list, aside, count, max, kept)
  local items, asides, total = {}, {}, 0
  max = tonumber(max)
  while #items < count and #asides == 0 do
    local message = redis.call("LINDEX", list, -1)
    if not message then break end
    if #message > max then
      redis.call("LMOVE", list, aside, "RIGHT", "LEFT")
      redis.call("LTRIM", aside, 0, tonumber(kept) - 1)
      asides[#asides + 1] = #message
      asides[#asides + 1] = string.sub(redis.sha1hex(message), 1, 12)
    elseif #items > 0 and total + #message > max then
      break
    else
      redis.call("LTRIM", list, 0, -2)
      items[#items + 1] = message
      total = total + #message
    end
  end
  return items, asides
end`;

/**
 * Pops up to a count of the oldest messages, within the byte limits, and
 * moves each one too large aside (see {@linkcode TAKE}). KEYS: the list,
 * its list of messages set aside. ARGV: most messages, most bytes of a
 * message and of them all, messages set aside kept. Returns `{messages,
 * asides}`.
 *
 * @example
 * ```ts
 * import { POP } from "./redis_scripts.ts";
 * console.log(POP.includes('"LMOVE"')); // true
 * ```
 */
export const POP = `${TAKE_QUEUED}
return {takeQueued(KEYS[1], KEYS[2], tonumber(ARGV[1]), ARGV[2], ARGV[3])}`;

/**
 * Sets aside messages the process found undeliverable (not UTF-8). KEYS:
 * the in-flight hash, the lease set, the list of messages set aside. ARGV:
 * the lease id that held them or "", its entry now ("": the lease ends),
 * messages set aside kept, then the messages. Keeps the count of batch
 * messages in flight (field "#") right.
 *
 * @example
 * ```ts
 * import { SET_ASIDE } from "./redis_scripts.ts";
 * console.log(SET_ASIDE.includes('"LTRIM"')); // true
 * ```
 */
export const SET_ASIDE = `local function size(entry)
  if not entry then return 1 end
  return tonumber(string.match(entry, "^%d+b(%d+)|") or "1")
end
local entry = ARGV[1] ~= "" and redis.call("HGET", KEYS[1], ARGV[1])
if entry then
  local change = 1 - size(entry)
  if ARGV[2] == "" then
    redis.call("HDEL", KEYS[1], ARGV[1])
    redis.call("ZREM", KEYS[2], ARGV[1])
  else
    redis.call("HSET", KEYS[1], ARGV[1], ARGV[2])
    change = change + size(ARGV[2]) - 1
  end
  if change ~= 0 and redis.call("HINCRBY", KEYS[1], "#", change) <= 0 then
    redis.call("HDEL", KEYS[1], "#")
  end
end
for i = 4, #ARGV do redis.call("LPUSH", KEYS[3], ARGV[i]) end
redis.call("LTRIM", KEYS[3], 0, tonumber(ARGV[3]) - 1)
return 1`;

/**
 * At-least-once take. KEYS: the list, its in-flight hash, its lease set
 * and its list of messages set aside (all in one hash slot). ARGV: ack id
 * or "", now, lease ms, new id, most messages in flight, seconds both side
 * keys live after it ("0": for ever), most messages in one lease (a batch:
 * above 1), most bytes of a message and of a batch, messages set aside kept.
 * Returns `{id, deliveries, message, kind, asides}`, or `{asides}` when it
 * leases nothing, where `asides` lists the length and short hash of each
 * message too large that it moved aside. The hash maps a delivery id
 * to "<deliveries>|<message>", or "<deliveries>b<n>|<JSON array of the n
 * messages>" for a batch, and field "#" counts the messages of batches
 * beyond one a lease, so leases plus "#" is the messages in flight; a batch
 * is cut to the room left under the bound. The sorted set scores each id by
 * its lease deadline, growing per uid, so the lowest is due first and leases
 * come due in the order taken. Acks, then re-leases the lease due first if it
 * ran out, else moves the oldest queued messages in flight unless the bound
 * is reached. A lease whose entry is gone (the hash was evicted) is dropped,
 * its message with it; a lost "#" is forgotten with the last lease. Every
 * step is O(log n).
 *
 * @example
 * ```ts
 * import { TAKE } from "./redis_scripts.ts";
 * console.log(TAKE.includes('"RPOP"')); // true
 * ```
 */
export const TAKE = `${TAKE_QUEUED}
local asides = {}
local now = tonumber(ARGV[2])
local function extra(entry)
  local n = string.match(entry, "^%d+b(%d+)|")
  return n and tonumber(n) - 1 or 0
end
local function count(n)
  if n ~= 0 and redis.call("HINCRBY", KEYS[2], "#", n) <= 0 then
    redis.call("HDEL", KEYS[2], "#")
  end
end
if ARGV[1] ~= "" and redis.call("ZREM", KEYS[3], ARGV[1]) == 1 then
  local acked = redis.call("HGET", KEYS[2], ARGV[1])
  if acked then
    redis.call("HDEL", KEYS[2], ARGV[1])
    count(-extra(acked))
  end
end
local deliveries, message, entry
local kind = ""
local due = redis.call("ZRANGE", KEYS[3], 0, 0, "WITHSCORES")
while due[1] and tonumber(due[2]) <= now do
  entry = redis.call("HGET", KEYS[2], due[1])
  redis.call("ZREM", KEYS[3], due[1])
  if entry then break end
  due = redis.call("ZRANGE", KEYS[3], 0, 0, "WITHSCORES")
end
if entry then
  redis.call("HDEL", KEYS[2], due[1])
  local bar = string.find(entry, "|", 1, true)
  local head = string.sub(entry, 1, bar - 1)
  deliveries = tonumber(string.match(head, "^%d+")) + 1
  kind = string.match(head, "^%d+(.*)$")
  message = string.sub(entry, bar + 1)
else
  local leases = redis.call("ZCARD", KEYS[3])
  if leases == 0 then redis.call("HDEL", KEYS[2], "#") end
  local room = tonumber(ARGV[5]) - leases - tonumber(redis.call("HGET", KEYS[2], "#") or "0")
  if room <= 0 then return {asides} end
  local items
  items, asides = takeQueued(KEYS[1], KEYS[4], math.min(tonumber(ARGV[7]), room), ARGV[8], ARGV[9])
  if #items == 0 then return {asides} end
  if tonumber(ARGV[7]) > 1 then
    message, kind = cjson.encode(items), "b" .. #items
    count(#items - 1)
  else
    message = items[1]
  end
  deliveries = 1
end
local deadline = now + tonumber(ARGV[3])
local last = redis.call("ZRANGE", KEYS[3], -1, -1, "WITHSCORES")
if last[2] and tonumber(last[2]) >= deadline then deadline = tonumber(last[2]) + 1 end
redis.call("ZADD", KEYS[3], string.format("%.0f", deadline), ARGV[4])
redis.call("HSET", KEYS[2], ARGV[4], deliveries .. kind .. "|" .. message)
if ARGV[6] ~= "0" then
  redis.call("EXPIRE", KEYS[2], ARGV[6])
  redis.call("EXPIRE", KEYS[3], ARGV[6])
end
return {ARGV[4], deliveries, message, kind, asides}`;

/**
 * Ends a lease now: its deadline drops by an offset larger than any
 * deadline, so it is due first, and released leases keep their order.
 * KEYS: the lease set. ARGV: id, wake channel, uid, offset.
 *
 * @example
 * ```ts
 * import { RELEASE } from "./redis_scripts.ts";
 * console.log(RELEASE.includes('"PUBLISH"')); // true
 * ```
 */
export const RELEASE = `local score = redis.call("ZSCORE", KEYS[1], ARGV[1])
if not score then return 0 end
score = tonumber(score)
if score >= 0 then
  redis.call("ZADD", KEYS[1], string.format("%.0f", score - tonumber(ARGV[4])), ARGV[1])
end
redis.call("PUBLISH", ARGV[2], ARGV[3])
return 1`;

/**
 * LPUSH, applies the queue limits, then announces the uid on the wake
 * channel, atomically. A push that fails (e.g. WRONGTYPE) raises before
 * the PUBLISH, so it wakes nobody, which MULTI would not guarantee. KEYS:
 * the list. ARGV: message, wake channel, uid, TTL seconds ("0": none),
 * most messages ("0": no limit). Returns how many old messages it dropped.
 *
 * @example
 * ```ts
 * import { PUSH_AND_WAKE } from "./redis_scripts.ts";
 * console.log(PUSH_AND_WAKE.includes('"LPUSH"')); // true
 * ```
 */
export const PUSH_AND_WAKE = `local length = redis.call("LPUSH", KEYS[1], ARGV[1])
local dropped = 0
local max = tonumber(ARGV[5])
if max > 0 and length > max then
  redis.call("LTRIM", KEYS[1], 0, max - 1)
  dropped = length - max
end
if ARGV[4] ~= "0" then redis.call("EXPIRE", KEYS[1], ARGV[4]) end
redis.call("PUBLISH", ARGV[2], ARGV[3])
return dropped`;

/**
 * The queue limits, after a push by someone else (a plain LPUSH producer).
 * KEYS: the list. ARGV: TTL seconds ("0": none), most messages ("0": no
 * limit). Returns how many old messages it dropped: every store hears the
 * push, the first one trims, and the others find nothing left to drop.
 *
 * @example
 * ```ts
 * import { LIMIT } from "./redis_scripts.ts";
 * console.log(LIMIT.includes('"LTRIM"')); // true
 * ```
 */
export const LIMIT = `local dropped = 0
local max = tonumber(ARGV[2])
if max > 0 then
  local length = redis.call("LLEN", KEYS[1])
  if length > max then
    redis.call("LTRIM", KEYS[1], 0, max - 1)
    dropped = length - max
  end
end
if ARGV[1] ~= "0" then redis.call("EXPIRE", KEYS[1], ARGV[1]) end
return dropped`;

/**
 * The queue limits in force for a key prefix: those already kept, else the
 * ones asked for, kept from now on, so the first process to ask sets them
 * for every process on the prefix. KEYS: the limits hash. ARGV: TTL
 * seconds and most messages ("0": off), or "" and "" to only read. Returns
 * {ttl, max} as kept, or false when none are.
 *
 * @example
 * ```ts
 * import { CLAIM_LIMITS } from "./redis_scripts.ts";
 * console.log(CLAIM_LIMITS.includes('"HSET"')); // true
 * ```
 */
export const CLAIM_LIMITS = `local kept = redis.call("HMGET", KEYS[1], "ttl", "max")
if kept[1] or kept[2] then return kept end
if ARGV[1] == "" then return false end
redis.call("HSET", KEYS[1], "ttl", ARGV[1], "max", ARGV[2])
return {ARGV[1], ARGV[2]}`;

/**
 * Lua: `isUtf8(text)` is true when `text` is well-formed UTF-8 as a fatal
 * `TextDecoder` reads it (no overlong forms, no surrogates, nothing past
 * U+10FFFF); plain ASCII is found so in one pattern search.
 */
const IS_UTF8 = `local function isUtf8(text)
  if not string.find(text, "[\\128-\\255]") then return true end
  local i, n = 1, #text
  while i <= n do
    local c = string.byte(text, i)
    if c < 128 then
      i = i + 1
    elseif c >= 194 and c <= 223 then
      local c2 = string.byte(text, i + 1)
      if not c2 or c2 < 128 or c2 > 191 then return false end
      i = i + 2
    elseif c >= 224 and c <= 244 then
      local width = c >= 240 and 4 or 3
      local low, high = 128, 191
      if c == 224 then low = 160 elseif c == 237 then high = 159
      elseif c == 240 then low = 144 elseif c == 244 then high = 143 end
      local c2, c3, c4 = string.byte(text, i + 1, i + width - 1)
      if not c2 or c2 < low or c2 > high or not c3 or c3 < 128 or c3 > 191 then return false end
      if width == 4 and (not c4 or c4 < 128 or c4 > 191) then return false end
      i = i + width
    else
      return false
    end
  end
  return true
end`;

/**
 * Stream delivery: moves what waits in a uid's list into its history (a
 * Redis stream, one field `m` per entry), oldest first, then reads the
 * history after a cursor, in one atomic call, so every message is moved
 * exactly once and in order whichever process runs it.
 *
 * KEYS: the list, the history, its floor (written once messages are lost:
 * the newest id trimmed, or the first id moved after messages dropped
 * unmoved; a cursor before it, or `0-0`, is a reset; without it, a cursor
 * before the first entry is; `0` never is), the list of messages set aside (all in one
 * hash slot). ARGV: most entries kept, seconds the history lives after its
 * last message, the cursor (`<ms>-<seq>`; `0` for all that is kept; "" for
 * now, "!" to move only), most entries read, most bytes of a message and
 * of a read (the first entry always goes), messages set aside kept.
 *
 * Of more messages waiting than the history keeps, only the newest are
 * moved, and every older cursor becomes a reset. A message too large or not
 * UTF-8 is set aside, never moved. A write refused (a key of the wrong
 * type) puts the message it held back first in line before the error, since
 * a script stopped by an error keeps the writes it made. Returns `{reset (0 or 1), next, ids,
 * messages, tooLarge, notUtf8}`, the last two flat lists of the length and
 * short hash of each message set aside.
 *
 * @example
 * ```ts
 * import { MOVE_AND_READ } from "./redis_scripts.ts";
 * console.log(MOVE_AND_READ.includes('"XADD"')); // true
 * ```
 */
export const MOVE_AND_READ = `${IS_UTF8}
local function before(a, b)
  local am, as = string.match(a, "^(%d+)-(%d+)$")
  local bm, bs = string.match(b, "^(%d+)-(%d+)$")
  if am ~= bm then return tonumber(am) < tonumber(bm) end
  return tonumber(as) < tonumber(bs)
end
local list, history, floorKey, aside = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local max, cursor, count, maxBytes = tonumber(ARGV[1]), ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local tooLarge, notUtf8 = {}, {}
local function keep(message, command, ...)
  local reply = redis.pcall(command, ...)
  if type(reply) == "table" and reply.err then
    redis.call("RPUSH", list, message)
    error(reply)
  end
  return reply
end
local function setAside(message, report)
  keep(message, "LPUSH", aside, message)
  redis.call("LTRIM", aside, 0, tonumber(ARGV[6]) - 1)
  report[#report + 1] = #message
  report[#report + 1] = string.sub(redis.sha1hex(message), 1, 12)
end
local waiting = redis.call("LLEN", list)
local first, newest
if waiting > 0 then
  local dropped = waiting > max
  if dropped then
    redis.call("LTRIM", list, 0, max - 1)
    waiting = max
  end
  for _ = 1, waiting do
    local message = redis.call("RPOP", list)
    if #message > maxBytes then
      setAside(message, tooLarge)
    elseif not isUtf8(message) then
      setAside(message, notUtf8)
    else
      newest = keep(message, "XADD", history, "*", "m", message)
      first = first or newest
    end
  end
  if first then
    local floor = dropped and first or nil
    local length = redis.call("XLEN", history)
    if length > max then
      local gone = redis.call("XRANGE", history, "-", "+", "COUNT", length - max)
      local trimmed = gone[#gone][1]
      if not floor or before(floor, trimmed) then floor = trimmed end
      redis.call("XTRIM", history, "MAXLEN", max)
    end
    if floor then redis.call("SET", floorKey, floor) end
    redis.call("EXPIRE", history, ARGV[2])
    redis.call("EXPIRE", floorKey, ARGV[2])
  end
end
if cursor == "!" then return {0, "", {}, {}, tooLarge, notUtf8} end
if not newest then
  local top = redis.call("XREVRANGE", history, "+", "-", "COUNT", 1)
  newest = top[1] and top[1][1]
end
if cursor == "" then return {0, newest or "0-0", {}, {}, tooLarge, notUtf8} end
local whole = cursor == "0"
local fromStart = whole or cursor == "0-0"
local floor = redis.call("GET", floorKey)
local reset = fromStart and not whole and floor
if not fromStart then
  reset = not newest or before(newest, cursor)
  if not reset then
    if not floor then floor = redis.call("XRANGE", history, "-", "+", "COUNT", 1)[1][1] end
    reset = before(cursor, floor)
  end
end
if reset then return {1, newest or "0-0", {}, {}, tooLarge, notUtf8} end
local entries = redis.call("XRANGE", history, fromStart and "-" or "(" .. cursor, "+", "COUNT", count)
local ids, messages, total = {}, {}, 0
for _, entry in ipairs(entries) do
  local message = entry[2][2]
  if #ids > 0 and total + #message > maxBytes then break end
  ids[#ids + 1] = entry[1]
  messages[#messages + 1] = message
  total = total + #message
end
return {0, ids[#ids] or (whole and (newest or "0-0")) or cursor, ids, messages, tooLarge, notUtf8}`;
