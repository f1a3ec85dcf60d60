/**
 * The one home of every option's default and range: the handler's options
 * and those of the stores that `deno task serve` sets too.
 *
 * @module
 */
import { DEFAULT_DELIVERY, DEFAULT_STOP_CODE } from "./protocol.ts";

/**
 * How the handler delivers: `"queue"`, each message to one poll of its uid,
 * which takes it from the queue; `"stream"`, every message to every reader
 * of its uid, read after a cursor from the uid's history in the store.
 *
 * @example
 * ```ts
 * import type { Delivery } from "./option_defaults.ts";
 * const delivery: Delivery = "stream";
 * console.log(delivery); // stream
 * ```
 */
export type Delivery = "queue" | "stream";

/** How a number option is checked: above 0, at least 0, or a whole number of at least 1. */
export type OptionRange = "positive" | "atLeastZero" | "count";

/** One entry of {@linkcode OPTION_SPECS}: an option's default, and the range its value must be in. */
export interface OptionSpec<T> {
  /** The value when the option is not given. */
  readonly defaultValue: T;
  /** The range a number must be in, checked by `resolveOptions`. */
  readonly range?: OptionRange;
}

/** The handler's options: the keys of {@linkcode DEFAULTS}. */
export const HANDLER_SPECS = {
  delivery: _spec<Delivery>(DEFAULT_DELIVERY),
  minWait: _spec(15, "positive"),
  maxWait: _spec(900, "atLeastZero"),
  stopCode: _spec(DEFAULT_STOP_CODE),
  maxHeld: _spec(100_000, "count"),
  maxPollsPerUid: _spec(1, "count"),
  maxStreamsPerUid: _spec(16, "count"),
  sseHeartbeat: _spec(25, "positive"),
  atLeastOnce: _spec(false),
  lease: _spec(60, "positive"),
  maxInFlight: _spec(16, "count"),
  maxBatch: _spec(32, "count"),
  maxQueryLength: _spec(4096, "count"),
  maxUidBytes: _spec(256, "count"),
  retryAfter: _spec(1, "atLeastZero"),
  earlyHeaders: _spec(false),
  presenceLinger: _spec(5, "atLeastZero"),
};

/** The stores' options that `deno task serve` sets too; the stores check their ranges. */
const _STORE_SPECS = {
  keyPrefix: _spec("Q/MSG"),
  sentinelName: _spec("mymaster"),
  maxMessageBytes: _spec(4 * 1024 * 1024),
};

/**
 * Every option with a default, the handler's and the stores', in one table:
 * the one home of each default value. {@linkcode DEFAULTS},
 * `resolveOptions`, the stores and the settings of
 * `deno task serve` all read them from here, and a test checks each
 * `@default` tag and the README's settings table against it.
 *
 * @example
 * ```ts
 * import { OPTION_SPECS } from "./option_defaults.ts";
 * console.log(OPTION_SPECS.minWait.defaultValue, OPTION_SPECS.keyPrefix.defaultValue); // 15 Q/MSG
 * ```
 */
export const OPTION_SPECS = Object.freeze({ ...HANDLER_SPECS, ..._STORE_SPECS });

/**
 * The defaults of every numeric and text option of the handler, read from
 * {@linkcode OPTION_SPECS}.
 *
 * @example
 * ```ts
 * import { DEFAULTS } from "./option_defaults.ts";
 * console.log(DEFAULTS.minWait, DEFAULTS.maxWait); // 15 900
 * ```
 */
export const DEFAULTS: Readonly<{
  delivery: Delivery;
  minWait: number;
  maxWait: number;
  stopCode: string;
  maxHeld: number;
  maxPollsPerUid: number;
  maxStreamsPerUid: number;
  sseHeartbeat: number;
  atLeastOnce: boolean;
  lease: number;
  maxInFlight: number;
  maxBatch: number;
  maxQueryLength: number;
  maxUidBytes: number;
  retryAfter: number;
  earlyHeaders: boolean;
  presenceLinger: number;
}> = Object.freeze(_defaultsOf(HANDLER_SPECS));

/** The handler options that are numbers. */
export type NumberOption = {
  [K in keyof typeof HANDLER_SPECS]: typeof HANDLER_SPECS[K] extends OptionSpec<number> ? K
    : never;
}[keyof typeof HANDLER_SPECS];

function _spec<T>(defaultValue: T, range?: OptionRange): OptionSpec<T> {
  return range === undefined ? { defaultValue } : { defaultValue, range };
}

function _defaultsOf<S extends Record<string, OptionSpec<unknown>>>(
  specs: S,
): { [K in keyof S]: S[K]["defaultValue"] } {
  return Object.fromEntries(
    Object.entries(specs).map(([key, spec]) => [key, spec.defaultValue]),
  ) as { [K in keyof S]: S[K]["defaultValue"] };
}

/** Whether a number is in each range. */
export const IN_RANGE: Readonly<Record<OptionRange, (value: number) => boolean>> = {
  positive: (value) => value > 0,
  atLeastZero: (value) => value >= 0,
  count: (value) => Number.isInteger(value) && value >= 1,
};
