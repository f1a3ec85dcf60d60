import { type Clock, systemClock } from "./clock.ts";
import { createLogger, type Logger } from "./logger.ts";
import { Metrics } from "./metrics.ts";
import type { Presence } from "./presence.ts";
import { secretList, type Secrets } from "./secret_list.ts";
import { DEFAULT_PARAMS, type ParamNames } from "./protocol.ts";
import {
  DEFAULTS,
  type Delivery,
  IN_RANGE,
  type NumberOption,
  OPTION_SPECS,
  type OptionSpec,
} from "./option_defaults.ts";
import type { VerifySignature } from "./signature.ts";
import type { MessageStore } from "./store/types.ts";

/**
 * Options of `createLongPollHandler`. Only `store` is required; every other
 * option has the default its `@default` says.
 *
 * @example
 * ```ts
 * import { createLongPollHandler, type LongPollOptions, MemoryStore } from "@longpoll/redis-longpoll";
 * const options: LongPollOptions = {
 *   store: new MemoryStore(),
 *   secret: ["current-secret-of-at-least-32-bytes", "previous-secret-still-accepted-00"],
 *   maxWait: 60,
 *   corsOrigins: ["https://app.example.com"],
 * };
 * const poll = createLongPollHandler(options);
 * console.log(typeof poll); // function
 * ```
 */
export interface LongPollOptions {
  /** Where the messages are: a `MemoryStore`, a `RedisStore`, or your own. */
  store: MessageStore;
  /**
   * How messages reach the polls: `"queue"`, each message to one poll of
   * its uid; `"stream"`, every message to every poll of its uid, each
   * reading after its cursor (`since`) from the uid's history, which the
   * store keeps when made with `history` (it then has `readStream`). Not
   * with `atLeastOnce` (the cursor is the acknowledgement) nor with
   * `earlyHeaders` (an early answer could not carry the cursor).
   * @default {'queue'}
   */
  delivery?: "queue" | "stream";
  /**
   * Query parameter names, for front ends that use others. Each name left
   * out keeps its default: `uid`, `sign`, `exp`, `jsonCallback` (the
   * callback), `ack`, `wait`, `max`.
   * @default {DEFAULT_PARAMS}
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
   * Body sent when the hold runs out or the server drains: `{"stop":1}`
   * unless set.
   * @default {DEFAULT_STOP_CODE}
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
   * Stream delivery: most polls and Server-Sent Events streams held at once
   * for one uid (its devices); one more gets 429. Polls of a uid never
   * supersede each other in stream delivery.
   * @default {16}
   */
  maxStreamsPerUid?: number;
  /**
   * Seconds of silence after which a Server-Sent Events stream sends a
   * comment heartbeat, so proxies keep an idle stream open.
   * @default {25}
   */
  sseHeartbeat?: number;
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
 * {@linkcode LongPollOptions} with every default filled in and every range
 * checked; times in milliseconds.
 */
export interface ResolvedOptions extends
  Readonly<
    Pick<
      Required<LongPollOptions>,
      | "store"
      | "delivery"
      | "stopCode"
      | "maxHeld"
      | "maxPollsPerUid"
      | "maxStreamsPerUid"
      | "atLeastOnce"
      | "maxInFlight"
      | "maxBatch"
      | "maxQueryLength"
      | "maxUidBytes"
      | "earlyHeaders"
      | "clock"
      | "metrics"
      | "logger"
      | "onError"
    >
  > {
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
  /** CORS allowlist. */
  readonly corsOrigins: ReadonlySet<string>;
  /** Seconds of silence before a Server-Sent Events heartbeat, in milliseconds. */
  readonly sseHeartbeatMs: number;
  /** Lease, in milliseconds. */
  readonly leaseMs: number;
  /** `Retry-After` of 503 answers, as sent. */
  readonly retryAfter: string;
  /** Where held polls are announced, if anywhere. */
  readonly presence: Presence | undefined;
  /** How long a uid stays present after its last poll, in milliseconds. */
  readonly presenceLingerMs: number;
  /** Parses messages that are not JSON, if set. */
  readonly parseLiteral: ((text: string) => unknown) | undefined;
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
 * try {
 *   resolveOptions({ store: new MemoryStore(), delivery: "stream" });
 * } catch (error) {
 *   console.log((error as Error).message);
 *   // Cannot deliver "stream": the store keeps no history (create it with "history")
 * }
 * ```
 */
export function resolveOptions(options: LongPollOptions): ResolvedOptions {
  if (options.earlyHeaders === true && options.atLeastOnce === true) {
    throw new RangeError(
      'Cannot create handler: "earlyHeaders" cannot be combined with "atLeastOnce", as early headers cannot carry "X-Ack-Id"',
    );
  }
  const delivery = _delivery(options);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger();
  return {
    store: options.store,
    delivery,
    params: { ...DEFAULT_PARAMS, ...options.params },
    secret: options.secret === undefined ? undefined : secretList("secret", options.secret),
    verify: options.verify,
    minWaitMs: 1000 * _number(options, "minWait"),
    maxWaitMs: 1000 * _number(options, "maxWait"),
    stopCode: options.stopCode ?? DEFAULTS.stopCode,
    corsOrigins: new Set(options.corsOrigins ?? []),
    maxHeld: _number(options, "maxHeld"),
    maxPollsPerUid: _number(options, "maxPollsPerUid"),
    maxStreamsPerUid: _number(options, "maxStreamsPerUid"),
    sseHeartbeatMs: 1000 * _number(options, "sseHeartbeat"),
    atLeastOnce: options.atLeastOnce ?? DEFAULTS.atLeastOnce,
    leaseMs: 1000 * _number(options, "lease"),
    maxInFlight: _number(options, "maxInFlight"),
    maxBatch: _number(options, "maxBatch"),
    maxQueryLength: _number(options, "maxQueryLength"),
    maxUidBytes: _number(options, "maxUidBytes"),
    retryAfter: String(_number(options, "retryAfter")),
    earlyHeaders: options.earlyHeaders ?? DEFAULTS.earlyHeaders,
    clock,
    metrics: options.metrics ?? new Metrics(),
    presence: options.presence,
    presenceLingerMs: 1000 * _number(options, "presenceLinger"),
    parseLiteral: options.parseLiteral,
    logger,
    onError: options.onError ?? ((error) => _logError(logger, error)),
  };
}

/**
 * The `delivery` option, else its default, when it is a mode the handler
 * knows and the rest of `options` allows; throws naming the conflict.
 */
function _delivery(options: LongPollOptions): Delivery {
  const delivery = options.delivery ?? DEFAULTS.delivery;
  if (delivery !== "queue" && delivery !== "stream") {
    throw new RangeError(
      `Cannot create handler: "delivery" must be "queue" or "stream", got "${delivery}"`,
    );
  }
  if (delivery === "queue") return delivery;
  for (
    const [option, reason] of [
      ["atLeastOnce", "the cursor is the acknowledgement"],
      ["earlyHeaders", "early headers cannot carry the cursor"],
    ] as const
  ) {
    if (options[option] === true) {
      throw new RangeError(
        `Cannot create handler: "delivery" "stream" cannot be combined with "${option}", as ${reason}`,
      );
    }
  }
  if (options.store.readStream === undefined) {
    throw new TypeError(
      'Cannot deliver "stream": the store keeps no history (create it with "history")',
    );
  }
  return delivery;
}

function _logError(logger: Logger, error: unknown): void {
  if (!(error instanceof Error)) return logger.error(String(error));
  logger.error(error.message, { stack: error.stack });
}

/**
 * The option `name` of `options`, else its default, when it is finite and
 * in its range; throws a RangeError naming it otherwise.
 */
function _number(options: LongPollOptions, name: NumberOption): number {
  const spec: OptionSpec<number> = OPTION_SPECS[name];
  const value = options[name] ?? spec.defaultValue;
  if (!Number.isFinite(value) || (spec.range !== undefined && !IN_RANGE[spec.range](value))) {
    throw new RangeError(`Cannot create handler: "${name}" is out of range, got ${value}`);
  }
  return value;
}
