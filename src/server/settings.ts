import { DEFAULTS, OPTION_SPECS } from "../option_defaults.ts";
import { parseValue } from "./setting_values.ts";
import { HISTORY_RANGES } from "../store/history_options.ts";

/**
 * One setting of `deno task serve`: its variable, the option it sets, its
 * default, its meaning, and how its text is read.
 */
export interface SettingSpec<K extends string = string, T = unknown, D = T | undefined> {
  /** Environment variable; the flag is its lower-case, dashed form. */
  readonly variable: string;
  /** The option it sets: a key of `ServeConfig` (see config.ts). */
  readonly key: K;
  /** The default, or undefined for "unset". */
  readonly defaultValue: D;
  /** The default as the README shows it, or "unset". */
  readonly defaultText: string;
  /** What it means. */
  readonly meaning: string;
  /** Turns the raw text into the value; throws a message on bad input. */
  readonly parse: (text: string) => T;
  /** A secret: an error about it does not repeat its value. */
  readonly secret?: boolean;
}

/**
 * The defaults of the settings that only the serve application has; those
 * of the handler's and the stores' options live in `OPTION_SPECS`.
 *
 * @example
 * ```ts
 * import { SERVE_DEFAULTS } from "./settings.ts";
 * console.log(SERVE_DEFAULTS.port, SERVE_DEFAULTS.maxBodyBytes); // 8888 65536
 * ```
 */
export const SERVE_DEFAULTS = Object.freeze({
  port: 8888,
  host: "127.0.0.1",
  maxBodyBytes: 65536,
  drainWindow: 5,
  headerTimeout: 10,
  redisNotifications: "auto" as "auto" | "off",
  trustedProxies: Object.freeze(["127.0.0.1", "::1"]) as readonly string[],
  demo: false,
  reusePort: false,
  logFormat: "text" as "text" | "json",
  jsLiterals: false,
  presenceTtl: 30,
  historyMax: 1000,
  historyTtl: 86_400,
});

/**
 * Every setting of `deno task serve`, in the order of the README's table.
 * Each key is the name of the option it sets, so the resolved settings go
 * to `createServer` as they are.
 *
 * @example
 * ```ts
 * import { SETTINGS } from "./settings.ts";
 * console.log(SETTINGS.map((setting) => setting.variable).includes("REDIS_URL")); // true
 * ```
 */
export const SETTINGS = [
  _setting(
    "PORT",
    "port",
    SERVE_DEFAULTS.port,
    "listen port",
    (text) => parseValue.integer(text, 0, 65535),
  ),
  _setting("HOST", "host", SERVE_DEFAULTS.host, "listen address", parseValue.nonEmpty),
  _setting(
    "REDIS_URL",
    "redisUrl",
    undefined,
    "`redis://…` or comma-separated Cluster nodes; unset (no Sentinels): the memory store",
    parseValue.redisUrl,
  ),
  _setting(
    "REDIS_SENTINELS",
    "redisSentinels",
    undefined,
    "Sentinels' `host:port`, comma-separated: the store follows the primary they name",
    parseValue.sentinels,
  ),
  _option(
    "REDIS_SENTINEL_NAME",
    "sentinelName",
    "with `REDIS_SENTINELS`: the name the Sentinels monitor the primary under",
    parseValue.nonEmpty,
  ),
  _option("KEY_PREFIX", "keyPrefix", "list key = prefix + uid", parseValue.text),
  _secretSetting(
    "SIGN_SECRET",
    "secret",
    "HMAC-SHA256 secret, or a comma-separated list to rotate; unset: no check (warned)",
  ),
  _secretSetting(
    "PUBLISH_TOKEN",
    "publishToken",
    "bearer token for `POST /publish`, or a comma-separated list to rotate",
  ),
  _option(
    "MIN_WAIT",
    "minWait",
    "seconds before the first re-poll; each next wait doubles",
    parseValue.positive,
  ),
  _option(
    "MAX_WAIT",
    "maxWait",
    "seconds; the hold ends when the next wait would exceed it",
    parseValue.nonNegative,
  ),
  _option("STOP_CODE", "stopCode", "body sent when the hold runs out", parseValue.text),
  _setting(
    "MAX_BODY_BYTES",
    "maxBodyBytes",
    SERVE_DEFAULTS.maxBodyBytes,
    "largest `POST /publish` body",
    (text) => parseValue.integer(text, 1, 2 ** 31),
  ),
  _setting(
    "CORS_ORIGINS",
    "corsOrigins",
    [] as readonly string[],
    "comma-separated origins allowed by CORS, or `*`",
    parseValue.list,
  ),
  _setting(
    "MAX_HELD",
    "maxHeld",
    undefined,
    `polls held at once, more get 503; unset: \`MAX_CONNECTIONS\` minus 64, max ${DEFAULTS.maxHeld}`,
    (text) => parseValue.integer(text, 1, 2 ** 31),
  ),
  _setting(
    "MAX_CONNECTIONS",
    "maxConnections",
    undefined,
    "connections open at once; unset: the file limit (`ulimit -n`) minus 128",
    (text) => parseValue.integer(text, 1, 2 ** 31),
  ),
  _setting(
    "HEADER_TIMEOUT",
    "headerTimeout",
    SERVE_DEFAULTS.headerTimeout,
    "seconds to send a request head (Node only: Deno and Bun have no such timeout)",
    parseValue.positive,
  ),
  _option(
    "MAX_POLLS_PER_UID",
    "maxPollsPerUid",
    "most polls held at once per uid; a newer poll supersedes the oldest (409)",
    (text) => parseValue.integer(text, 1, 2 ** 31),
  ),
  _option(
    "MAX_STREAMS_PER_UID",
    "maxStreamsPerUid",
    "`DELIVERY=stream`: most polls and SSE streams held per uid; one more gets 429",
    (text) => parseValue.integer(text, 1, 1000),
  ),
  _option(
    "SSE_HEARTBEAT",
    "sseHeartbeat",
    "seconds of silence before an SSE comment heartbeat",
    (text) => parseValue.integer(text, 1, 3600),
  ),
  _option(
    "MAX_UID_BYTES",
    "maxUidBytes",
    "longest uid, in UTF-8 bytes",
    (text) => parseValue.integer(text, 1, 65536),
  ),
  _option(
    "MAX_QUERY_LENGTH",
    "maxQueryLength",
    "longest query string; longer gets 414",
    (text) => parseValue.integer(text, 16, 1 << 20),
  ),
  _option(
    "AT_LEAST_ONCE",
    "atLeastOnce",
    "keep each message in flight until the next poll acknowledges it (`ack=`)",
    parseValue.boolean,
  ),
  _option(
    "LEASE",
    "lease",
    "seconds to acknowledge before a message is delivered again (at-least-once)",
    parseValue.positive,
  ),
  _option(
    "MAX_IN_FLIGHT",
    "maxInFlight",
    "most unacknowledged messages of a uid (batches by message); then the oldest again",
    (text) => parseValue.integer(text, 1, 10_000),
  ),
  _option(
    "MAX_BATCH",
    "maxBatch",
    "the cap on `max=`: most messages in one answer",
    (text) => parseValue.integer(text, 1, 10_000),
  ),
  _setting(
    "QUEUE_TTL",
    "queueTtl",
    undefined,
    "seconds a list lives after its last push, `LPUSH` producers included; store-wide",
    (text) => parseValue.integer(text, 1, 2 ** 31),
  ),
  _setting(
    "QUEUE_MAX",
    "queueMax",
    undefined,
    "messages: the oldest beyond it are dropped at each push and counted; store-wide",
    (text) => parseValue.integer(text, 1, 2 ** 31),
  ),
  _option(
    "MAX_MESSAGE_BYTES",
    "maxMessageBytes",
    "largest message handed out; a larger one, or not UTF-8, is set aside and counted",
    (text) => parseValue.integer(text, 1, 2 ** 31),
  ),
  _option(
    "DELIVERY",
    "delivery",
    "`queue`: each message to one poll of its uid; `stream`: to every reader of a uid",
    (text) => parseValue.oneOf(text, ["queue", "stream"] as const),
  ),
  _setting(
    "HISTORY_MAX",
    "historyMax",
    SERVE_DEFAULTS.historyMax,
    "messages kept per uid in stream delivery; each one more drops the oldest",
    (text) => parseValue.integer(text, HISTORY_RANGES.max.min, HISTORY_RANGES.max.max),
  ),
  _setting(
    "HISTORY_TTL",
    "historyTtl",
    SERVE_DEFAULTS.historyTtl,
    "seconds a uid's history lives after its last message, in stream delivery",
    (text) =>
      parseValue.integer(text, HISTORY_RANGES.ttlSeconds.min, HISTORY_RANGES.ttlSeconds.max),
  ),
  _setting(
    "PRESENCE_TTL",
    "presenceTtl",
    SERVE_DEFAULTS.presenceTtl,
    "seconds a process killed without cleaning up still counts in `/presence`",
    parseValue.positive,
  ),
  _option(
    "PRESENCE_LINGER",
    "presenceLinger",
    "seconds a uid counts as present after its last poll ends (between two polls)",
    parseValue.nonNegative,
  ),
  _setting(
    "DRAIN_WINDOW",
    "drainWindow",
    SERVE_DEFAULTS.drainWindow,
    "seconds over which a shutdown spreads the stop answers",
    parseValue.nonNegative,
  ),
  _option(
    "EARLY_HEADERS",
    "earlyHeaders",
    "send headers as soon as a poll is held; not with `AT_LEAST_ONCE`",
    parseValue.boolean,
  ),
  _setting(
    "REDIS_NOTIFICATIONS",
    "redisNotifications",
    SERVE_DEFAULTS.redisNotifications,
    "`auto` turns keyspace notifications on; `off` leaves Redis alone",
    (text) => parseValue.oneOf(text, ["auto", "off"] as const),
  ),
  _setting(
    "TRUSTED_PROXIES",
    "trustedProxies",
    SERVE_DEFAULTS.trustedProxies,
    "peer addresses whose `X-Real-IP` names the client (the nginx in front)",
    parseValue.list,
  ),
  _setting(
    "JS_LITERALS",
    "jsLiterals",
    SERVE_DEFAULTS.jsLiterals,
    "deliver JavaScript object literals (`{'stop':1}`) as JSON, parsed by JSON5",
    parseValue.boolean,
  ),
  _setting(
    "LOG_FORMAT",
    "logFormat",
    SERVE_DEFAULTS.logFormat,
    "`text`, or `json`: one JSON object per line with a level",
    (text) => parseValue.oneOf(text, ["text", "json"] as const),
  ),
  _setting(
    "DEMO",
    "demo",
    SERVE_DEFAULTS.demo,
    "serve the demo page at `/demo`",
    parseValue.boolean,
  ),
  _setting(
    "REUSE_PORT",
    "reusePort",
    SERVE_DEFAULTS.reusePort,
    "share the port with other processes (SO_REUSEPORT)",
    parseValue.boolean,
  ),
] as const;

/** A setting of an option of {@linkcode OPTION_SPECS}, whose default it takes. */
function _option<K extends keyof typeof OPTION_SPECS>(
  variable: string,
  key: K,
  meaning: string,
  parse: (text: string) => typeof OPTION_SPECS[K]["defaultValue"],
): SettingSpec<K, typeof OPTION_SPECS[K]["defaultValue"]> {
  return _setting(variable, key, OPTION_SPECS[key].defaultValue, meaning, parse);
}

function _setting<K extends string, T, D extends T | undefined>(
  variable: string,
  key: K,
  defaultValue: D,
  meaning: string,
  parse: (text: string) => T,
): SettingSpec<K, T, D> {
  const defaultText = defaultValue === undefined
    ? "unset"
    : Array.isArray(defaultValue)
    ? defaultValue.join(",") || "unset"
    : String(defaultValue);
  return { variable, key, defaultValue, defaultText, meaning, parse };
}

/** A setting holding secrets: a comma-separated list, unset by default, never echoed. */
function _secretSetting<K extends string>(
  variable: string,
  key: K,
  meaning: string,
): SettingSpec<K, readonly string[], undefined> {
  return { ..._setting(variable, key, undefined, meaning, parseValue.secrets), secret: true };
}
