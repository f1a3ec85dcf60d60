/**
 * How the settings of `deno task serve` read their values from text: each
 * parser returns the value, or throws an Error that says what was expected
 * (the settings add which setting and what it got).
 *
 * @module
 */

import { sentinelAddress } from "../store/redis_sentinel.ts";

/**
 * The shortest `SIGN_SECRET` or `PUBLISH_TOKEN` accepted, in bytes (each
 * entry of a list): as long as the HMAC-SHA256 key it feeds.
 *
 * @example
 * ```ts
 * import { MIN_SECRET_BYTES } from "./setting_values.ts";
 * console.log(MIN_SECRET_BYTES); // 32
 * ```
 */
export const MIN_SECRET_BYTES = 32;

function _secrets(text: string): readonly string[] {
  const secrets = text.split(",");
  if (secrets.some((secret) => secret === "" || secret.trim() !== secret)) {
    throw new Error(
      "expected a secret, or a comma-separated list of them, none empty and none with spaces around it",
    );
  }
  const encoder = new TextEncoder();
  if (secrets.some((secret) => encoder.encode(secret).length < MIN_SECRET_BYTES)) {
    throw new Error(
      `expected secrets of at least ${MIN_SECRET_BYTES} bytes each (make one with ` +
        '"deno task cli secret" or "openssl rand -hex 32")',
    );
  }
  return secrets;
}

function _text(text: string): string {
  return text;
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
function _sentinels(text: string): readonly string[] {
  const addresses = text.split(",").map((address) => address.trim());
  try {
    return addresses.map((address) => {
      const { host, port } = sentinelAddress(address);
      return `${host.includes(":") ? `[${host}]` : host}:${port}`;
    });
  } catch (error) {
    throw new Error(
      `expected a comma-separated list of Sentinels as host:port, but ${(error as Error).message}`,
    );
  }
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

function _list(text: string): readonly string[] {
  return text.split(",").map((item) => item.trim()).filter((item) => item !== "");
}

function _oneOf<T extends string>(text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw new Error(`expected one of ${choices.map((choice) => `"${choice}"`).join(", ")}`);
  }
  return text as T;
}

/**
 * The parsers of setting values, by kind. Each throws an Error saying what
 * it expected, such as `expected a whole number from 1 to 65535`.
 *
 * @example
 * ```ts
 * import { parseValue } from "./setting_values.ts";
 * console.log(parseValue.integer("8888", 1, 65535), parseValue.boolean("yes")); // 8888 true
 * console.log(parseValue.list("a, b,,c")); // [ "a", "b", "c" ]
 * try {
 *   parseValue.positive("-1");
 * } catch (error) {
 *   console.log((error as Error).message); // expected a number above 0
 * }
 * ```
 */
export const parseValue: {
  /** A comma-separated list of secrets, each of at least {@linkcode MIN_SECRET_BYTES}. */
  readonly secrets: (text: string) => readonly string[];
  /** Any text, as it is. */
  readonly text: (text: string) => string;
  /** A whole number from `min` to `max`. */
  readonly integer: (text: string, min: number, max: number) => number;
  /** A number above 0. */
  readonly positive: (text: string) => number;
  /** A number of at least 0. */
  readonly nonNegative: (text: string) => number;
  /** A `redis://` or `rediss://` URL, or a comma-separated list of them. */
  readonly redisUrl: (text: string) => string;
  /** A comma-separated list of Sentinels, each `host:port`. */
  readonly sentinels: (text: string) => readonly string[];
  /** Any text but the empty one. */
  readonly nonEmpty: (text: string) => string;
  /** `1`, `true`, `yes`, `on` or their opposites, in any case. */
  readonly boolean: (text: string) => boolean;
  /** A comma-separated list, each item trimmed, empty ones dropped. */
  readonly list: (text: string) => readonly string[];
  /** One of `choices`. */
  readonly oneOf: <T extends string>(text: string, choices: readonly T[]) => T;
} = Object.freeze({
  secrets: _secrets,
  text: _text,
  integer: _integer,
  positive: _positive,
  nonNegative: _nonNegative,
  redisUrl: _redisUrl,
  sentinels: _sentinels,
  nonEmpty: _nonEmpty,
  boolean: _boolean,
  list: _list,
  oneOf: _oneOf,
});
