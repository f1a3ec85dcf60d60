/**
 * Loading the settings of `deno task serve`: each from its flag, else its
 * environment variable, else its default, as the table of
 * {@linkcode SETTINGS} describes them; and the error a bad one gets.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { SETTINGS, type SettingSpec } from "./settings.ts";

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
   * import { ConfigError } from "./config.ts";
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
 * import { loadConfig } from "./config.ts";
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
  if (config.delivery === "stream") _checkStreamDelivery(config);
  return config as ServeConfig;
}

/** Refuses the settings that stream delivery cannot honour. */
function _checkStreamDelivery(config: Record<string, unknown>): void {
  for (
    const [variable, key, reason] of [
      ["AT_LEAST_ONCE", "atLeastOnce", "the cursor is the acknowledgement"],
      ["EARLY_HEADERS", "earlyHeaders", "an early answer could not carry the cursor"],
    ] as const
  ) {
    if (config[key] === true) {
      throw new ConfigError(
        `Cannot read "DELIVERY": "stream" cannot be combined with "${variable}", as ${reason}`,
      );
    }
  }
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
 * import { readSetting } from "./config.ts";
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

/**
 * The flag of a setting's `variable`, without its dashes: lower case,
 * dashed.
 *
 * @example
 * ```ts
 * import { flagName } from "./config.ts";
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
