/**
 * The `deno task serve` application, apart from any runtime: it reads the
 * settings, opens the store, serves the routes, says where it listens, and
 * drains on SIGINT/SIGTERM so that held polls get the stop code and no
 * popped message is lost. Each runtime's entry in `deploy/` hands it a
 * {@linkcode ServeHost}: a few lines that listen and hear signals.
 *
 * @module
 */
import { createLogger, type Logger } from "../logger.ts";
import { Metrics } from "../metrics.ts";
import { DEFAULTS } from "../option_defaults.ts";
import type { Presence } from "../presence.ts";
import type { SetAside } from "../store/message_limits.ts";
import type { MessageStore } from "../store/types.ts";
import type { RedisStore } from "../store/redis.ts";
import { createServer } from "./app.ts";
import type { ConnectionInfo } from "./local_request.ts";
import { describeRedis, redisLocation } from "./redis_location.ts";
import { ConfigError, loadConfig, type ServeConfig } from "./config.ts";
import { settingsHelp } from "./settings_help.ts";

/** A server listening, as a runtime reports it. */
export interface Listener {
  /** The address it listens on. */
  readonly hostname: string;
  /** The port it listens on. */
  readonly port: number;
  /** Stops accepting, and resolves once the open requests are answered. */
  close(): Promise<void>;
}

/** How a runtime should listen: the address, and the limits it applies where it can. */
export interface ListenOptions {
  /** The address to listen on. */
  readonly host: string;
  /** The port to listen on; 0 for any. */
  readonly port: number;
  /** Share the port with other processes (SO_REUSEPORT). */
  readonly reusePort: boolean;
  /** Most connections open at once, or undefined for no cap. */
  readonly maxConnections: number | undefined;
  /** Seconds a connection may take to send a request head. */
  readonly headerTimeout: number;
  /** Where the runtime's entry reports trouble with its listener. */
  readonly logger: Logger;
}

/** What the serve application needs of a runtime. */
export interface ServeHost {
  /** The runtime's name and version, for the start-up line, e.g. `deno 2.9.6`. */
  readonly runtime: string;
  /** Command-line arguments after the entry. */
  readonly args: readonly string[];
  /** The environment. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** This process's id. */
  readonly pid: number;
  /** The process's open-file limit (`ulimit -n`), or undefined where it can't be read. */
  readonly fileLimit: number | undefined;
  /**
   * Whether the runtime closes a connection that has not sent its request
   * head within `HEADER_TIMEOUT` (Node does; `Deno.serve` and `Bun.serve`
   * can't).
   */
  readonly appliesHeaderTimeout: boolean;
  /** Serves `fetch` as `options` say. */
  listen(
    fetch: (request: Request, info?: ConnectionInfo) => Response | Promise<Response>,
    options: ListenOptions,
  ): Promise<Listener>;
  /** Calls `listener` on `signal`. */
  onSignal(signal: "SIGINT" | "SIGTERM", listener: () => void): void;
  /** Ends the process with `code`. */
  exit(code: number): void;
}

/** A loopback address or name. */
const LOOPBACK = /^(127\.|::1$|localhost$)/;
/** File descriptors left out of the default connection cap: Redis, logs, the runtime's own. */
const FILE_HEADROOM = 128;
/** Connections left over the default `MAX_HELD`: publishes, health checks, 503 answers. */
const HELD_MARGIN = 64;

/** The connection cap and the most held polls, as {@linkcode connectionLimits} derives them. */
export interface ConnectionLimits {
  /** Most connections open at once, or undefined for no cap. */
  readonly maxConnections: number | undefined;
  /** Most polls held at once. */
  readonly maxHeld: number;
}

/**
 * Derives the limits the settings leave unset from the process's file
 * limit: the connection cap is the file limit minus 128 (at least half of
 * it), and `MAX_HELD` the cap minus 64 (at least half of it), at most the
 * handler's default. Without a file limit there is no cap.
 *
 * @example
 * ```ts
 * import { connectionLimits } from "./serve.ts";
 * const limits = connectionLimits({ maxConnections: undefined, maxHeld: undefined }, 1024);
 * console.log(limits); // { maxConnections: 896, maxHeld: 832 }
 * ```
 */
export function connectionLimits(
  settings: Pick<ServeConfig, "maxConnections" | "maxHeld">,
  fileLimit: number | undefined,
): ConnectionLimits {
  const maxConnections = settings.maxConnections ??
    (fileLimit === undefined
      ? undefined
      : Math.max(Math.ceil(fileLimit / 2), fileLimit - FILE_HEADROOM));
  const maxHeld = settings.maxHeld ??
    (maxConnections === undefined ? DEFAULTS.maxHeld : Math.min(
      DEFAULTS.maxHeld,
      maxConnections - Math.min(HELD_MARGIN, Math.floor(maxConnections / 2)),
    ));
  return { maxConnections, maxHeld };
}

/**
 * Runs the serve application on `host` until a signal drains it; with
 * `--help` (or `-h`), prints the settings and exits 0; on a bad setting,
 * prints why and exits 2.
 *
 * @example
 * ```ts ignore
 * import { runServe } from "./serve.ts";
 * await runServe(denoHost); // see deploy/serve.ts
 * ```
 */
export async function runServe(host: ServeHost): Promise<void> {
  if (host.args.some((arg) => arg === "--help" || arg === "-h")) {
    console.log(settingsHelp());
    return host.exit(0);
  }
  let config: ServeConfig;
  try {
    config = loadConfig(host.args, host.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return host.exit(2);
  }
  const logger = createLogger({ format: config.logFormat });
  const metrics = new Metrics();
  const store = await _openStore(config, { logger, metrics });
  const refusal = _refusalOf(store);
  if (refusal !== undefined) {
    logger.error(refusal);
    await store.close();
    return host.exit(2);
  }
  const loopback = LOOPBACK.test(config.host);
  const openPublish = store.kind === "memory" && loopback;
  const parseLiteral = config.jsLiterals ? (await import("json5")).default.parse : undefined;
  const presence = await _presenceOf(store, config.presenceTtl);
  const limits = connectionLimits(config, host.fileLimit);
  const server = createServer({
    ...config,
    ...limits,
    store,
    openPublish,
    logger,
    metrics,
    parseLiteral,
    presence,
    collectMetrics: (counters) => {
      if ("notificationsRestored" in store) {
        counters.notificationsRestored = store.notificationsRestored as number;
      }
    },
  });
  if (config.secret === undefined) {
    logger.warn(
      "SIGN_SECRET is not set, so signatures are NOT checked: anyone can read any uid's messages",
    );
  }
  _warnAboutLimits(limits, host.fileLimit, logger);
  if (!host.appliesHeaderTimeout && !loopback) _warnWithoutProxy(config, host.runtime, logger);
  const listener = await host.listen(server.fetch, { ...config, ...limits, logger });
  const origin = `http://${listener.hostname}:${listener.port}`;
  const signatures = config.secret === undefined
    ? "NOT checked"
    : `checked (HMAC-SHA256${_rotating(config.secret.length, "secrets, the first signs")})`;
  const publish = config.publishToken !== undefined
    ? `on (bearer token${_rotating(config.publishToken.length, "tokens")})`
    : openPublish
    ? "open (in-memory store on loopback)"
    : "off";
  logger.info(
    `longpoll listening on ${origin} (pid ${host.pid}, ${host.runtime}), store: ${
      _describe(config)
    }, queue limits: ${_describeQueueLimits(store)}, delivery: ${
      _describeDelivery(config)
    }, signatures: ${signatures}, publish: ${publish}, connections: ${
      _describeLimits(limits, host.fileLimit)
    }${config.demo ? `, demo: ${origin}/demo` : ""}`,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const windowMs = config.drainWindow * 1000;
    logger.info(`${signal}: draining ${server.handler.held} held polls over ${windowMs} ms`);
    await Promise.all([server.drain({ windowMs }), listener.close()]);
    await store.close();
    const metrics = server.handler.metrics;
    logger.info("stopped", {
      delivered: metrics.delivered,
      timeouts: metrics.timeouts,
      drained: metrics.drained,
      pushed_back: metrics.pushedBack,
    });
    host.exit(0);
  };
  host.onSignal("SIGINT", () => stop("SIGINT"));
  host.onSignal("SIGTERM", () => stop("SIGTERM"));
}

/** Opens the store of `config`, its hooks counting into `metrics` and warning through `logger`. */
async function _openStore(
  config: ServeConfig,
  { logger, metrics }: { logger: Logger; metrics: Metrics },
): Promise<MessageStore> {
  const limits = {
    queueTtlSeconds: config.queueTtl,
    queueMax: config.queueMax,
    onTrimmed: (_uid: string, dropped: number) => (metrics.trimmed += dropped),
    maxMessageBytes: config.maxMessageBytes,
    onSetAside: ({ uid, reason, bytes, hash }: SetAside) => {
      metrics.setAside++;
      logger.error(`Cannot deliver a message of "${uid}": it is ${reason}, and was set aside`, {
        uid,
        bytes,
        hash,
      });
    },
  };
  const history = config.delivery === "stream"
    ? { max: config.historyMax, ttlSeconds: config.historyTtl }
    : undefined;
  const location = redisLocation(config);
  if (location === undefined) {
    const { MemoryStore } = await import("../store/memory.ts");
    return new MemoryStore({ ...limits, history });
  }
  const { RedisStore } = await import("../store/redis.ts");
  const redis = new RedisStore({
    ...location,
    ...limits,
    history,
    keyPrefix: config.keyPrefix,
    notifications: config.redisNotifications,
    onWarning: (message) => logger.warn(message),
    onPushedBack: () => metrics.pushedBack++,
    onLost: (uid, message, error) => {
      metrics.lost++;
      logger.error(`Cannot put back a message of "${uid}": it is lost`, {
        uid,
        message,
        error: error instanceof Error ? error.message : String(error),
      });
    },
  });
  if (!await redis.whenReady(5_000)) {
    logger.warn(
      `Redis at ${describeRedis(config)} is not ready: ${
        redis.notReadyReason ?? "it does not answer yet"
      }; polls get 503 until it is`,
    );
  }
  return redis;
}

/**
 * Why the server must not start on `store`: no Sentinel knows the primary's
 * name, or the queue limits given differ from those in force.
 */
function _refusalOf(store: MessageStore): string | undefined {
  if (store.kind !== "redis") return undefined;
  const redis = store as Partial<Pick<RedisStore, "sentinelNameUnknown" | "queueLimitsConflict">>;
  return redis.sentinelNameUnknown ?? redis.queueLimitsConflict;
}

/** Presence across the processes that share the store: in memory, this process alone. */
async function _presenceOf(store: MessageStore, ttlSeconds: number): Promise<Presence> {
  if (store.kind === "memory") {
    const { MemoryPresence } = await import("../presence.ts");
    return new MemoryPresence();
  }
  return (store as RedisStore).presence({ aliveMs: ttlSeconds * 1000 });
}

/** `, 2 secrets…` while a secret is rotated; nothing for one. */
function _rotating(count: number, what: string): string {
  return count > 1 ? `, ${count} ${what}` : "";
}

function _describe(config: ServeConfig): string {
  const kind = config.redisSentinels !== undefined
    ? "redis sentinel"
    : config.redisUrl?.includes(",")
    ? "redis cluster"
    : "redis";
  return config.redisUrl === undefined && config.redisSentinels === undefined
    ? "memory (set REDIS_URL to use Redis)"
    : `${kind} ${describeRedis(config)} prefix "${config.keyPrefix}"`;
}

function _describeQueueLimits(store: MessageStore): string {
  const { ttlSeconds, max } = store.queueLimits ?? { ttlSeconds: 0, max: 0 };
  const shared = store.kind === "memory" ? "" : " (in force for every process on the prefix)";
  return `QUEUE_TTL ${ttlSeconds === 0 ? "off" : `${ttlSeconds} s`}, QUEUE_MAX ${
    max === 0 ? "off" : max
  }${shared}`;
}

function _describeDelivery(config: ServeConfig): string {
  return config.delivery === "queue"
    ? "queue"
    : `stream (HISTORY_MAX ${config.historyMax}, HISTORY_TTL ${config.historyTtl} s)`;
}

function _describeLimits(limits: ConnectionLimits, fileLimit: number | undefined): string {
  const cap = limits.maxConnections === undefined ? "no cap" : `at most ${limits.maxConnections}`;
  const files = fileLimit === undefined ? "file limit unknown" : `file limit ${fileLimit}`;
  return `${cap} (${files}), MAX_HELD ${limits.maxHeld}`;
}

function _warnAboutLimits(
  limits: ConnectionLimits,
  fileLimit: number | undefined,
  logger: Logger,
): void {
  const { maxConnections, maxHeld } = limits;
  if (fileLimit !== undefined && maxConnections !== undefined && maxConnections > fileLimit) {
    logger.warn(
      `MAX_CONNECTIONS (${maxConnections}) is above the file limit (${fileLimit}): ` +
        "the process runs out of file descriptors before it reaches the cap",
    );
  }
  if (maxConnections !== undefined && maxHeld >= maxConnections) {
    logger.warn(
      `MAX_HELD (${maxHeld}) is not below MAX_CONNECTIONS (${maxConnections}): ` +
        "polls over the cap are closed rather than answered 503",
    );
  }
}

/**
 * Warns that slow request heads can take every connection of a runtime with
 * no header timeout, listening off loopback with no proxy off this host
 * trusted (so, as far as the settings tell, with no proxy in front).
 */
function _warnWithoutProxy(config: ServeConfig, runtime: string, logger: Logger): void {
  if (config.trustedProxies.some((address) => !LOOPBACK.test(address))) return;
  logger.warn(
    `Listening on "${config.host}" with no proxy in TRUSTED_PROXIES, but ${runtime} has no ` +
      "header timeout: clients that send their request heads slowly can take every connection " +
      '(see "Known limits" in README.md). Put nginx in front (deploy/nginx.conf) and listen on ' +
      "loopback, or list the proxy in TRUSTED_PROXIES",
  );
}
