import { type Clock, systemClock } from "./clock.ts";
import { createLogger, type Logger } from "./logger.ts";
import { Metrics } from "./metrics.ts";
import type { Presence } from "./presence.ts";
import { secretList, type Secrets } from "./secret_list.ts";
import { DEFAULT_PARAMS, DEFAULT_STOP_CODE, type ParamNames } from "./protocol.ts";
import type { VerifySignature } from "./signature.ts";
import type { MessageStore } from "./store/types.ts";

/** Options of `createLongPollHandler`. */
export interface LongPollOptions {
  /** Where the messages are: a `MemoryStore`, a `RedisStore`, or your own. */
  store: MessageStore;
  /**
   * Query parameter names, for front ends that use others.
   * @default {{ uid: "uid", sign: "sign", exp: "exp", callback: "jsonCallback", ack: "ack" }}
   */
  params?: Partial<ParamNames>;
  /**
   * HMAC-SHA256 secret for `sign`, or a list while one is rotated: current
   * first, then the previous ones; the first signs, any verifies. Without
   * it (and without `verify`), signatures are not checked.
   * @default {undefined}
   */
  secret?: Secrets;
  /** Replaces the HMAC check, e.g. for a legacy scheme. Return true to accept. */
  verify?: VerifySignature;
  /**
   * First wait of the hold, in seconds; each next wait doubles.
   * @default {15}
   */
  minWait?: number;
  /**
   * The hold ends with the stop code when the next wait would exceed this,
   * in seconds.
   * @default {900}
   */
  maxWait?: number;
  /**
   * Body sent when the hold runs out or the server drains.
   * @default {'{"stop":1}'}
   */
  stopCode?: string;
  /**
   * Origins allowed by CORS; `"*"` allows any. JSONP needs none.
   * @default {[]}
   */
  corsOrigins?: readonly string[];
  /**
   * Most polls held at once by this handler; more get 503.
   * @default {100000}
   */
  maxHeld?: number;
  /**
   * Most polls held at once for one uid; a newer poll supersedes the oldest,
   * which gets 409 instead of hanging on as a dead socket.
   * @default {1}
   */
  maxPollsPerUid?: number;
  /**
   * At-least-once delivery: a message stays in flight until the client's
   * next poll acknowledges it (`ack=<id>`), and is delivered again, marked
   * as redelivered, when the lease runs out. The id travels in the
   * `X-Ack-Id` header, and as a second callback argument through JSONP.
   * @default {false}
   */
  atLeastOnce?: boolean;
  /**
   * Seconds a client has to acknowledge a message in at-least-once mode.
   * @default {60}
   */
  lease?: number;
  /**
   * At-least-once: most messages of one uid handed out and not yet
   * acknowledged, each message of a batch counted (a batch is cut to the
   * room left). A client that never acknowledges gets its unacknowledged
   * messages again, in order, and no new ones; it slows nobody else.
   * @default {16}
   */
  maxInFlight?: number;
  /**
   * The cap on `max=`: most messages in one answer.
   * @default {32}
   */
  maxBatch?: number;
  /**
   * Longest query string accepted, in characters; longer gets 414.
   * @default {4096}
   */
  maxQueryLength?: number;
  /**
   * Longest uid accepted, in UTF-8 bytes; longer gets 400.
   * @default {256}
   */
  maxUidBytes?: number;
  /**
   * Seconds put in `Retry-After` on 503 answers.
   * @default {1}
   */
  retryAfter?: number;
  /**
   * Send the headers as soon as the poll is held, and the body when it ends.
   * Early headers keep proxies that cut silent requests happy; late headers
   * (the default) cost less memory per held poll. Such an answer cannot
   * carry `X-Stop` or `X-Ack-Id`, so the stop is told from a message only
   * through JSONP or with `max=`, and `atLeastOnce` is refused with it.
   * @default {false}
   */
  earlyHeaders?: boolean;
  /**
   * Time source for the schedule; inject a fake one in tests.
   * @default {systemClock}
   */
  clock?: Clock;
  /**
   * Where counters go; share one with the server's `/metrics`.
   * @default {new Metrics()}
   */
  metrics?: Metrics;
  /**
   * Where held polls are announced, for `GET /presence` and producers that
   * ask whether a user is connected: `new MemoryPresence()` in one
   * process, `redisStore.presence()` across processes.
   * @default {undefined}
   */
  presence?: Presence;
  /**
   * Seconds a uid stays present after its last poll ends, so a client
   * between two polls does not leave and enter again; 0 reports each exit
   * at once.
   * @default {5}
   */
  presenceLinger?: number;
  /**
   * Parses a message that is not JSON, such as a JavaScript object literal
   * `{'type':'chat','seq':1}` from a producer written for the original
   * service, and delivers what it returns as JSON; e.g. `JSON5.parse` from
   * npm `json5`. A message it cannot parse is delivered as before (through
   * JSONP as a string): raw text is never sent as script.
   * @default {undefined}
   */
  parseLiteral?: (text: string) => unknown;
  /**
   * Where the handler's lines go: a store unreachable and back, bugs.
   * @default {createLogger()}
   */
  logger?: Logger;
  /**
   * Where failures that should not happen are reported, such as a custom
   * `verify` that throws.
   * @default {an error line in `logger`, with the stack}
   */
  onError?: (error: unknown) => void;
}

/**
 * The defaults of every numeric and text option, in one place: the handler
 * and the settings of `deno task serve` both read them from here.
 *
 * @example
 * ```ts
 * import { DEFAULTS } from "./options.ts";
 * console.log(DEFAULTS.minWait, DEFAULTS.maxWait); // 15 900
 * ```
 */
export const DEFAULTS: Readonly<{
  minWait: number;
  maxWait: number;
  stopCode: string;
  maxHeld: number;
  maxPollsPerUid: number;
  atLeastOnce: boolean;
  lease: number;
  maxInFlight: number;
  maxBatch: number;
  maxQueryLength: number;
  maxUidBytes: number;
  retryAfter: number;
  earlyHeaders: boolean;
  presenceLinger: number;
}> = Object.freeze({
  minWait: 15,
  maxWait: 900,
  stopCode: DEFAULT_STOP_CODE,
  maxHeld: 100_000,
  maxPollsPerUid: 1,
  atLeastOnce: false,
  lease: 60,
  maxInFlight: 16,
  maxBatch: 32,
  maxQueryLength: 4096,
  maxUidBytes: 256,
  retryAfter: 1,
  earlyHeaders: false,
  presenceLinger: 5,
});

/**
 * {@linkcode LongPollOptions} with every default filled in and every range
 * checked; times in milliseconds.
 */
export interface ResolvedOptions {
  /** The store. */
  readonly store: MessageStore;
  /** Query parameter names. */
  readonly params: ParamNames;
  /** HMAC secrets, current first, if any. */
  readonly secret: readonly string[] | undefined;
  /** Custom signature check, if any. */
  readonly verify: VerifySignature | undefined;
  /** First wait of the hold, in milliseconds. */
  readonly minWaitMs: number;
  /** Longest single wait of the hold, in milliseconds. */
  readonly maxWaitMs: number;
  /** The stop code. */
  readonly stopCode: string;
  /** CORS allowlist. */
  readonly corsOrigins: ReadonlySet<string>;
  /** Most polls held at once. */
  readonly maxHeld: number;
  /** Most polls held at once per uid. */
  readonly maxPollsPerUid: number;
  /** At-least-once mode. */
  readonly atLeastOnce: boolean;
  /** Lease, in milliseconds. */
  readonly leaseMs: number;
  /** At-least-once: most messages of a uid in flight. */
  readonly maxInFlight: number;
  /** The cap on `max=`. */
  readonly maxBatch: number;
  /** Longest query string. */
  readonly maxQueryLength: number;
  /** Longest uid, in UTF-8 bytes. */
  readonly maxUidBytes: number;
  /** `Retry-After` of 503 answers, as sent. */
  readonly retryAfter: string;
  /** Early headers. */
  readonly earlyHeaders: boolean;
  /** The clock. */
  readonly clock: Clock;
  /** The counters. */
  readonly metrics: Metrics;
  /** Where held polls are announced, if anywhere. */
  readonly presence: Presence | undefined;
  /** How long a uid stays present after its last poll, in milliseconds. */
  readonly presenceLingerMs: number;
  /** Parses messages that are not JSON, if set. */
  readonly parseLiteral: ((text: string) => unknown) | undefined;
  /** Where lines go. */
  readonly logger: Logger;
  /** Where failures that should not happen go. */
  readonly onError: (error: unknown) => void;
}

/**
 * Fills in the defaults and checks every range, naming the first option
 * out of range in a RangeError.
 *
 * @example
 * ```ts
 * import { resolveOptions } from "./options.ts";
 * import { MemoryStore } from "./store/memory.ts";
 * const options = resolveOptions({ store: new MemoryStore(), minWait: 0.5 });
 * console.log(options.minWaitMs, options.params.callback); // 500 jsonCallback
 * try {
 *   resolveOptions({ store: new MemoryStore(), maxHeld: 0 });
 * } catch (error) {
 *   console.log((error as Error).message);
 *   // Cannot create handler: "maxHeld" is out of range, got 0
 * }
 * ```
 */
export function resolveOptions(options: LongPollOptions): ResolvedOptions {
  if (options.earlyHeaders === true && options.atLeastOnce === true) {
    throw new RangeError(
      'Cannot create handler: "earlyHeaders" cannot be combined with "atLeastOnce", as early headers cannot carry "X-Ack-Id"',
    );
  }
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger();
  return {
    store: options.store,
    params: { ...DEFAULT_PARAMS, ...options.params },
    secret: options.secret === undefined ? undefined : secretList("secret", options.secret),
    verify: options.verify,
    minWaitMs: 1000 * _checked("minWait", options.minWait ?? DEFAULTS.minWait, _positive),
    maxWaitMs: 1000 * _checked("maxWait", options.maxWait ?? DEFAULTS.maxWait, _atLeastZero),
    stopCode: options.stopCode ?? DEFAULTS.stopCode,
    corsOrigins: new Set(options.corsOrigins ?? []),
    maxHeld: _checked("maxHeld", options.maxHeld ?? DEFAULTS.maxHeld, _count),
    maxPollsPerUid: _checked(
      "maxPollsPerUid",
      options.maxPollsPerUid ?? DEFAULTS.maxPollsPerUid,
      _count,
    ),
    atLeastOnce: options.atLeastOnce ?? DEFAULTS.atLeastOnce,
    leaseMs: 1000 * _checked("lease", options.lease ?? DEFAULTS.lease, _positive),
    maxInFlight: _checked("maxInFlight", options.maxInFlight ?? DEFAULTS.maxInFlight, _count),
    maxBatch: _checked("maxBatch", options.maxBatch ?? DEFAULTS.maxBatch, _count),
    maxQueryLength: _checked(
      "maxQueryLength",
      options.maxQueryLength ?? DEFAULTS.maxQueryLength,
      _count,
    ),
    maxUidBytes: _checked("maxUidBytes", options.maxUidBytes ?? DEFAULTS.maxUidBytes, _count),
    retryAfter: String(
      _checked("retryAfter", options.retryAfter ?? DEFAULTS.retryAfter, _atLeastZero),
    ),
    earlyHeaders: options.earlyHeaders ?? DEFAULTS.earlyHeaders,
    clock,
    metrics: options.metrics ?? new Metrics(),
    presence: options.presence,
    presenceLingerMs: 1000 *
      _checked("presenceLinger", options.presenceLinger ?? DEFAULTS.presenceLinger, _atLeastZero),
    parseLiteral: options.parseLiteral,
    logger,
    onError: options.onError ?? ((error) => _logError(logger, error)),
  };
}

function _logError(logger: Logger, error: unknown): void {
  if (!(error instanceof Error)) return logger.error(String(error));
  logger.error(error.message, { stack: error.stack });
}

function _positive(value: number): boolean {
  return value > 0;
}

function _atLeastZero(value: number): boolean {
  return value >= 0;
}

function _count(value: number): boolean {
  return Number.isInteger(value) && value >= 1;
}

/** Returns `value` when it is finite and `valid`; throws a RangeError naming `name` otherwise. */
function _checked(name: string, value: number, valid: (value: number) => boolean): number {
  if (!Number.isFinite(value) || !valid(value)) {
    throw new RangeError(`Cannot create handler: "${name}" is out of range, got ${value}`);
  }
  return value;
}
