import { parseArgs } from "node:util";

/** The settings of `deno task serve`, after flags, environment and defaults. */
export interface ServeConfig {
  /** Listen port. */
  port: number;
  /** Listen address. */
  host: string;
  /** Redis URL, or comma-separated cluster nodes; undefined means the in-memory store. */
  redisUrl: string | undefined;
  /** List key = prefix + uid. */
  keyPrefix: string;
  /** HMAC secret; undefined means signatures are not checked. */
  signSecret: string | undefined;
  /** Bearer token for `POST /publish`. */
  publishToken: string | undefined;
  /** First wait of the hold, in seconds. */
  minWait: number;
  /** The hold ends when the next wait would exceed this, in seconds. */
  maxWait: number;
  /** Body of the answer when the hold runs out. */
  stopCode: string;
  /** Largest `POST /publish` body, in bytes. */
  maxBodyBytes: number;
  /** Origins allowed by CORS. */
  corsOrigins: string[];
  /** Most polls held at once by the process. */
  maxHeld: number;
  /** Most polls held at once for one uid; a newer one supersedes the oldest. */
  maxPollsPerUid: number;
  /** Longest uid, in UTF-8 bytes. */
  maxUidBytes: number;
  /** Longest query string, in characters. */
  maxQueryLength: number;
  /** At-least-once delivery: messages stay in flight until acknowledged. */
  atLeastOnce: boolean;
  /** Seconds a client has to acknowledge, in at-least-once mode. */
  lease: number;
  /** Seconds over which a shutdown spreads the stop answers. */
  drainWindow: number;
  /** Send headers as soon as a poll is held. */
  earlyHeaders: boolean;
  /** Keyspace notifications: "auto" turns them on, "off" leaves Redis alone. */
  redisNotifications: "auto" | "off";
  /** Share the port with other processes (SO_REUSEPORT). */
  reusePort: boolean;
  /** Peers whose X-Real-IP names the client. */
  trustedProxies: string[];
  /** Serve the demo page at /demo. */
  demo: boolean;
}

/** One setting: its variable, default, parser and meaning. */
export interface SettingSpec {
  /** Environment variable; the flag is its lower-case, dashed form. */
  readonly variable: string;
  /** The key in {@linkcode ServeConfig}. */
  readonly key: keyof ServeConfig;
  /** Default as shown in docs, or "unset". */
  readonly defaultText: string;
  /** What it means. */
  readonly meaning: string;
  /** Turns the raw text into the value; throws a message on bad input. */
  readonly parse: (text: string) => unknown;
}

/**
 * Every setting of `deno task serve`, in the order of the README's table.
 *
 * @example
 * ```ts
 * import { SETTINGS } from "./settings.ts";
 * console.log(SETTINGS.map((setting) => setting.variable).includes("REDIS_URL")); // true
 * ```
 */
export const SETTINGS: readonly SettingSpec[] = [
  _setting("PORT", "port", "8888", "listen port", (text) => _integer(text, 0, 65535)),
  _setting("HOST", "host", "127.0.0.1", "listen address", _nonEmpty),
  _setting(
    "REDIS_URL",
    "redisUrl",
    "unset",
    "`redis://…`, or a comma-separated list of Redis Cluster nodes; unset means the in-memory store",
    _redisUrl,
  ),
  _setting("KEY_PREFIX", "keyPrefix", "Q/MSG", "list key = prefix + uid", (text) => text),
  _setting(
    "SIGN_SECRET",
    "signSecret",
    "unset",
    "HMAC-SHA256 secret; unset means no check, with a warning",
    _nonEmpty,
  ),
  _setting("PUBLISH_TOKEN", "publishToken", "unset", "bearer token for `POST /publish`", _nonEmpty),
  _setting(
    "MIN_WAIT",
    "minWait",
    "15",
    "seconds before the first re-poll; each next wait doubles",
    _positive,
  ),
  _setting(
    "MAX_WAIT",
    "maxWait",
    "900",
    "seconds; the hold ends when the next wait would exceed it",
    _nonNegative,
  ),
  _setting(
    "STOP_CODE",
    "stopCode",
    '{"stop":1}',
    "body sent when the hold runs out",
    (text) => text,
  ),
  _setting(
    "MAX_BODY_BYTES",
    "maxBodyBytes",
    "65536",
    "largest `POST /publish` body",
    (text) => _integer(text, 1, 2 ** 31),
  ),
  _setting(
    "CORS_ORIGINS",
    "corsOrigins",
    "unset",
    "comma-separated origins allowed by CORS, or `*`",
    _list,
  ),
  _setting(
    "MAX_HELD",
    "maxHeld",
    "100000",
    "most polls held at once by the process; more get 503",
    (text) => _integer(text, 1, 2 ** 31),
  ),
  _setting(
    "MAX_POLLS_PER_UID",
    "maxPollsPerUid",
    "1",
    "most polls held at once per uid; a newer poll supersedes the oldest (409)",
    (text) => _integer(text, 1, 2 ** 31),
  ),
  _setting(
    "MAX_UID_BYTES",
    "maxUidBytes",
    "256",
    "longest uid, in UTF-8 bytes",
    (text) => _integer(text, 1, 65536),
  ),
  _setting(
    "MAX_QUERY_LENGTH",
    "maxQueryLength",
    "4096",
    "longest query string; longer gets 414",
    (text) => _integer(text, 16, 1 << 20),
  ),
  _setting(
    "AT_LEAST_ONCE",
    "atLeastOnce",
    "false",
    "keep each message in flight until the next poll acknowledges it (`ack=`)",
    _boolean,
  ),
  _setting(
    "LEASE",
    "lease",
    "60",
    "seconds to acknowledge before a message is delivered again (at-least-once)",
    _positive,
  ),
  _setting(
    "DRAIN_WINDOW",
    "drainWindow",
    "5",
    "seconds over which a shutdown spreads the stop answers",
    _nonNegative,
  ),
  _setting(
    "EARLY_HEADERS",
    "earlyHeaders",
    "false",
    "send headers as soon as a poll is held",
    _boolean,
  ),
  _setting(
    "REDIS_NOTIFICATIONS",
    "redisNotifications",
    "auto",
    "`auto` turns keyspace notifications on; `off` leaves Redis alone",
    (text) => _oneOf(text, ["auto", "off"]),
  ),
  _setting(
    "TRUSTED_PROXIES",
    "trustedProxies",
    "127.0.0.1,::1",
    "peer addresses whose `X-Real-IP` names the client (the nginx in front)",
    _list,
  ),
  _setting("DEMO", "demo", "false", "serve the demo page at `/demo`", _boolean),
  _setting(
    "REUSE_PORT",
    "reusePort",
    "false",
    "share the port with other processes (SO_REUSEPORT)",
    _boolean,
  ),
];

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
        SETTINGS.map((setting) => [_flagName(setting.variable), { type: "string" as const }]),
      ),
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new ConfigError(`Cannot read flags: ${(error as Error).message}`);
  }
  const config: Record<string, unknown> = {};
  for (const setting of SETTINGS) {
    const flag = _flagName(setting.variable);
    const fromFlag = flags[flag];
    const text = typeof fromFlag === "string" ? fromFlag : env[setting.variable];
    const source = typeof fromFlag === "string" ? `--${flag}` : setting.variable;
    const raw = text ?? (setting.defaultText === "unset" ? undefined : setting.defaultText);
    if (raw === undefined) {
      config[setting.key] = setting.key === "corsOrigins" ? [] : undefined;
      continue;
    }
    try {
      config[setting.key] = setting.parse(raw);
    } catch (error) {
      throw new ConfigError(`Cannot read "${source}": ${(error as Error).message}, got "${raw}"`);
    }
  }
  return config as unknown as ServeConfig;
}

function _setting(
  variable: string,
  key: keyof ServeConfig,
  defaultText: string,
  meaning: string,
  parse: (text: string) => unknown,
): SettingSpec {
  return { variable, key, defaultText, meaning, parse };
}

function _flagName(variable: string): string {
  return variable.toLowerCase().replaceAll("_", "-");
}

function _integer(text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
    throw new Error(`expected a whole number from ${min} to ${max}`);
  }
  return value;
}

function _positive(text: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value <= 0) {
    throw new Error("expected a number above 0");
  }
  return value;
}

function _nonNegative(text: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < 0) {
    throw new Error("expected a number of at least 0");
  }
  return value;
}

function _redisUrl(text: string): string {
  for (const url of text.split(",")) {
    if (!/^rediss?:\/\/[^\s]+$/.test(url.trim())) {
      throw new Error(
        "expected a redis:// or rediss:// URL, or a comma-separated list of cluster nodes",
      );
    }
  }
  return text;
}
function _nonEmpty(text: string): string {
  if (text === "") throw new Error("expected a value");
  return text;
}

function _boolean(text: string): boolean {
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (/^(0|false|no|off)$/i.test(text)) return false;
  throw new Error("expected true or false");
}

function _list(text: string): string[] {
  return text.split(",").map((item) => item.trim()).filter((item) => item !== "");
}

function _oneOf<T extends string>(text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw new Error(`expected one of ${choices.map((choice) => `"${choice}"`).join(", ")}`);
  }
  return text as T;
}
