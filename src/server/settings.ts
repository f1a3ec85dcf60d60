import { parseArgs } from "node:util";
import { DEFAULTS, OPTION_SPECS } from "../options.ts";
import { parseValue } from "./setting_values.ts";

/**
 * One setting of `deno task serve`: its variable, the option it sets, its
 * default, its meaning, and how its text is read.
 */
export interface SettingSpec<K extends string = string, T = unknown, D = T | undefined> {
  /** Environment variable; the flag is its lower-case, dashed form. */
  readonly variable: string;
  /** The option it sets: a key of {@linkcode ServeConfig}. */
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
    "`redis://…`, or a comma-separated list of Redis Cluster nodes; unset means the in-memory store",
    parseValue.redisUrl,
  ),
  _setting(
    "REDIS_SENTINELS",
    "redisSentinels",
    undefined,
    "`host:port` of Redis Sentinels, comma-separated: the store follows the primary they name",
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
    "HMAC-SHA256 secret, or a comma-separated list to rotate (first signs); unset: no check, with a warning",
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
    `most polls held at once; more get 503. Unset: \`MAX_CONNECTIONS\` minus 64, at most ${DEFAULTS.maxHeld}`,
    (text) => parseValue.integer(text, 1, 2 ** 31),
  ),
  _setting(
    "MAX_CONNECTIONS",
    "maxConnections",
    undefined,
    "most connections open at once. Unset: the file limit (`ulimit -n`) minus 128 (Redis, logs)",
    (text) => parseValue.integer(text, 1, 2 ** 31),
  ),
  _setting(
    "HEADER_TIMEOUT",
    "headerTimeout",
    SERVE_DEFAULTS.headerTimeout,
    "seconds to send a request head (Node only: Deno.serve and Bun.serve have no such timeout)",
    parseValue.positive,
  ),
  _option(
    "MAX_POLLS_PER_UID",
    "maxPollsPerUid",
    "most polls held at once per uid; a newer poll supersedes the oldest (409)",
    (text) => parseValue.integer(text, 1, 2 ** 31),
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
    "most unacknowledged messages of one uid, batches counted by message; then its oldest come again",
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
    "seconds: a list expires that long after its last push, plain `LPUSH` producers included; store-wide",
    (text) => parseValue.integer(text, 1, 2 ** 31),
  ),
  _setting(
    "QUEUE_MAX",
    "queueMax",
    undefined,
    "messages: the oldest beyond it are dropped at each push and counted in `/metrics`; store-wide",
    (text) => parseValue.integer(text, 1, 2 ** 31),
  ),
  _option(
    "MAX_MESSAGE_BYTES",
    "maxMessageBytes",
    "largest message handed out; a larger one, or one not UTF-8, is set aside, logged and counted",
    (text) => parseValue.integer(text, 1, 2 ** 31),
  ),
  _setting(
    "PRESENCE_TTL",
    "presenceTtl",
    SERVE_DEFAULTS.presenceTtl,
    "seconds a process killed without cleaning up still counts its polls in `/presence`",
    parseValue.positive,
  ),
  _option(
    "PRESENCE_LINGER",
    "presenceLinger",
    "seconds a uid still counts as present after its last poll ends (a client holds none between two polls)",
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
    "deliver messages written as JavaScript object literals (`{'stop':1}`) as JSON, parsed by JSON5",
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

type _Settings = typeof SETTINGS[number];

/**
 * The settings of `deno task serve`, after flags, environment and defaults:
 * one property per entry of {@linkcode SETTINGS}, named after the option it
 * sets, undefined where unset.
 */
export type ServeConfig = {
  readonly [S in _Settings as S["key"]]: S extends SettingSpec<string, infer T, infer D>
    ? undefined extends D ? T | undefined : T
    : never;
};

/** Thrown by {@linkcode loadConfig} on a bad flag or value. */
export class ConfigError extends Error {
  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import { ConfigError } from "./settings.ts";
   * const error = new ConfigError('Cannot read "PORT": expected an integer, got "x"');
   * console.log(error.name); // ConfigError
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * Reads the settings: each from its flag (`--redis-url`), else its
 * environment variable (`REDIS_URL`), else its default.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./settings.ts";
 * const config = loadConfig(["--port", "9000"], { MIN_WAIT: "0.2" });
 * console.log(config.port, config.minWait, config.maxWait); // 9000 0.2 900
 * ```
 */
export function loadConfig(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ServeConfig {
  let flags: Record<string, string | boolean | undefined>;
  try {
    flags = parseArgs({
      args: [...args],
      options: Object.fromEntries(
        SETTINGS.map((setting) => [flagName(setting.variable), { type: "string" as const }]),
      ),
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new ConfigError(`Cannot read flags: ${_flagProblem(error as Error)}`);
  }
  const config: Record<string, unknown> = {};
  for (const setting of SETTINGS) {
    const fromFlag = flags[flagName(setting.variable)];
    config[setting.key] = readSetting(setting.key, {
      flag: typeof fromFlag === "string" ? fromFlag : undefined,
      env,
    });
  }
  if (config.redisSentinels !== undefined && String(config.redisUrl).includes(",")) {
    throw new ConfigError(
      'Cannot read "REDIS_SENTINELS": it cannot be combined with a list of cluster nodes in "REDIS_URL"; with Sentinel, give REDIS_URL one URL for the password and database, or none',
    );
  }
  if (config.earlyHeaders === true && config.atLeastOnce === true) {
    throw new ConfigError(
      'Cannot read "EARLY_HEADERS": it cannot be combined with "AT_LEAST_ONCE", as early headers cannot carry "X-Ack-Id"',
    );
  }
  return config as ServeConfig;
}

/** Where {@linkcode readSetting} reads a setting from. */
export interface SettingSources {
  /** The text of its flag, if given: it wins over the environment. */
  readonly flag?: string;
  /** The environment. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * Reads one setting as {@linkcode loadConfig} does, for a command that needs
 * only a few of them: from its flag, else its environment variable, else
 * its default. Throws a {@linkcode ConfigError} on a bad value.
 *
 * @example
 * ```ts
 * import { readSetting } from "./settings.ts";
 * console.log(readSetting("keyPrefix", { env: { KEY_PREFIX: "msg:" } })); // msg:
 * console.log(readSetting("redisUrl", { env: {} })); // undefined
 * ```
 */
export function readSetting<K extends keyof ServeConfig>(
  key: K,
  sources: SettingSources,
): ServeConfig[K] {
  const setting = (SETTINGS as readonly SettingSpec<string, unknown, unknown>[])
    .find((candidate) => candidate.key === key)!;
  const text = sources.flag ?? sources.env[setting.variable];
  if (text === undefined) return setting.defaultValue as ServeConfig[K];
  try {
    return setting.parse(text) as ServeConfig[K];
  } catch (error) {
    const source = sources.flag !== undefined
      ? `--${flagName(setting.variable)}`
      : setting.variable;
    const got = setting.secret ? `${text.length} characters` : `"${text}"`;
    throw new ConfigError(`Cannot read "${source}": ${(error as Error).message}, got ${got}`);
  }
}

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

/**
 * The flag of a setting's `variable`, without its dashes: lower case,
 * dashed.
 *
 * @example
 * ```ts
 * import { flagName } from "./settings.ts";
 * console.log(flagName("REDIS_URL")); // redis-url
 * ```
 */
export function flagName(variable: string): string {
  return variable.toLowerCase().replaceAll("_", "-");
}

/** What is wrong with the flags, naming the valid ones for an unknown flag. */
function _flagProblem(error: Error): string {
  const unknown = /^(?:Unknown option|Unexpected argument) '([^']*)'/.exec(error.message);
  if (unknown === null) return error.message;
  const valid = SETTINGS.map((setting) => `--${flagName(setting.variable)}`).join(", ");
  return `"${unknown[1]}" is not a flag; the flags are ${valid}, --help`;
}
