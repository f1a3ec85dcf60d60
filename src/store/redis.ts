/**
 * The Redis store: per-user lists on a shared Redis, compatible with
 * producers that `LPUSH Q/MSG<uid> <message>`.
 *
 * @example
 * ```ts ignore
 * import { createLongPollHandler } from "@longpoll/redis-longpoll";
 * import { RedisStore } from "@longpoll/redis-longpoll/redis";
 *
 * const store = new RedisStore({ url: "redis://127.0.0.1:6379" });
 * await store.whenReady(5_000);
 * Deno.serve(createLongPollHandler({ store }));
 * ```
 *
 * @module
 */
import { createClient, createCluster, type RedisClientType } from "redis";
import { exponentialBackoff } from "../backoff.ts";
import type { LeasedMessage, MessageStore, TakeOptions, Waiter } from "./types.ts";
import { WaiterRegistry } from "./waiters.ts";

/** Options of {@linkcode RedisStore}. */
export interface RedisStoreOptions {
  /**
   * Where Redis is: `redis://[user:pass@]host:port[/db]`.
   * @default {"redis://127.0.0.1:6379"}
   */
  url?: string;
  /**
   * Redis Cluster: the URLs of some of its nodes (the rest are discovered).
   * When given, `url` is ignored; credentials come from the first URL.
   * Keyspace notifications are heard from every master.
   */
  nodes?: readonly string[];
  /**
   * List key of a uid = prefix + uid.
   * @default {"Q/MSG"}
   */
  keyPrefix?: string;
  /**
   * Pub/sub channel on which `publish` announces a uid, so waiters wake even
   * with keyspace notifications off.
   * @default {keyPrefix + ":wake"}
   */
  wakeChannel?: string;
  /**
   * Wake on keyspace notifications, so a plain `LPUSH` by any producer wakes
   * waiters at once. `"auto"` turns the needed flags on with `CONFIG SET`
   * (adding to those already set) and warns when it can't; `"off"` relies on
   * the wake channel and the hold's backoff schedule.
   * @default {"auto"}
   */
  notifications?: "auto" | "off";
  /**
   * A pop not answered within this many milliseconds fails, so the poll gets
   * 503; a message it brings back later is pushed back.
   * @default {1500}
   */
  commandTimeoutMs?: number;
  /**
   * Where warnings go, such as "CONFIG is not allowed".
   * @default {console.warn}
   */
  onWarning?: (message: string) => void;
}

type Client = RedisClientType;

/** What the store needs of a client or a cluster to run its commands. */
interface _Commands {
  rPop(key: string): Promise<string | null>;
  rPush(key: string, value: string): Promise<number>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  on(event: "error", listener: () => void): unknown;
  readonly isReady: boolean;
  readonly isOpen: boolean;
}

interface _PendingPop {
  readonly uid: string;
  readonly startedAt: number;
  readonly reject: (error: Error) => void;
  timedOut: boolean;
}

const TIMEOUT_CHECK_MS = 100;

/**
 * At-least-once take. KEYS: the list, its in-flight hash (same hash slot).
 * ARGV: ack id or "", now, lease ms, new id. In-flight values read
 * "<deadline>|<deliveries>|<message>". Acks, then re-leases the in-flight
 * message whose lease ran out first, else moves the oldest queued message
 * in flight; all in one step, so a crash at any point loses nothing.
 */
const TAKE = `if ARGV[1] ~= "" then redis.call("HDEL", KEYS[2], ARGV[1]) end
local now = tonumber(ARGV[2])
local entries = redis.call("HGETALL", KEYS[2])
local due, dueDeadline
for i = 1, #entries, 2 do
  local deadline = tonumber(string.match(entries[i + 1], "^(%d+)|"))
  if deadline <= now and (due == nil or deadline < dueDeadline) then
    due, dueDeadline = i, deadline
  end
end
local deliveries, message
if due ~= nil then
  local _, _, count, body = string.find(entries[due + 1], "^%d+|(%d+)|(.*)$")
  redis.call("HDEL", KEYS[2], entries[due])
  deliveries, message = tonumber(count) + 1, body
else
  message = redis.call("RPOP", KEYS[1])
  if not message then return false end
  deliveries = 1
end
redis.call("HSET", KEYS[2], ARGV[4], (now + tonumber(ARGV[3])) .. "|" .. deliveries .. "|" .. message)
return {ARGV[4], deliveries, message}`;

/**
 * Ends a lease now. KEYS: the in-flight hash. ARGV: id, wake channel, uid.
 */
const RELEASE = `local value = redis.call("HGET", KEYS[1], ARGV[1])
if not value then return 0 end
redis.call("HSET", KEYS[1], ARGV[1], (string.gsub(value, "^%d+", "0", 1)))
redis.call("PUBLISH", ARGV[2], ARGV[3])
return 1`;

/**
 * LPUSH, then announce the uid on the wake channel, atomically. A push that
 * fails (e.g. WRONGTYPE) raises before the PUBLISH, so it wakes nobody,
 * which MULTI would not guarantee.
 */
const PUSH_AND_WAKE = `redis.call("LPUSH", KEYS[1], ARGV[1])
redis.call("PUBLISH", ARGV[2], ARGV[3])
return 1`;

/**
 * A {@linkcode MessageStore} on Redis. One command connection per process
 * pops (`RPOP`), pushes back (`RPUSH`) and publishes (`LPUSH` plus a wake,
 * in one script); one subscriber connection hears keyspace notifications
 * and the wake channel and wakes waiters through a uid map, so a wake costs
 * the same with 10 or 19,000 polls held. After the subscriber reconnects,
 * every held uid is woken to check again. On Redis Cluster (`nodes`), the
 * commands go through the cluster client and there is one subscriber per
 * master, since keyspace notifications stay on the node that made them.
 *
 * @example
 * ```ts ignore
 * import { RedisStore } from "./redis.ts";
 * const store = new RedisStore({ url: "redis://127.0.0.1:6379" });
 * await store.publish("42", '{"hi":1}');
 * console.log(await store.pop("42")); // {"hi":1}
 * await store.close();
 *
 * const cluster = new RedisStore({ nodes: ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"] });
 * await cluster.whenReady(10_000);
 * ```
 */
export class RedisStore implements MessageStore {
  readonly kind: string = "redis";
  /** The list key prefix. */
  readonly keyPrefix: string;
  /** The wake channel. */
  readonly wakeChannel: string;
  readonly #client: _Commands;
  readonly #subscribers: Client[] = [];
  readonly #waiters = new WaiterRegistry();
  readonly #pending = new Set<_PendingPop>();
  readonly #commandTimeoutMs: number;
  readonly #notifications: "auto" | "off";
  readonly #keyEventChannels: string[];
  readonly #onWarning: (message: string) => void;
  readonly #connected: Promise<unknown>;
  #timeoutTimer: ReturnType<typeof setInterval> | undefined;
  #subscribed = false;
  #configured = false;
  #warnedAboutConfig = false;
  #notificationsOn = false;
  #closed = false;

  /** Starts connecting; polls fail with 503 until Redis answers. */
  constructor(options: RedisStoreOptions = {}) {
    const nodes = options.nodes ?? [];
    const url = nodes[0] ?? options.url ?? "redis://127.0.0.1:6379";
    for (const candidate of [url, ...nodes]) {
      if (!/^rediss?:\/\//.test(candidate) || URL.parse(candidate) === null) {
        throw new TypeError(
          `Cannot create RedisStore: expected a redis:// or rediss:// URL, got "${candidate}"`,
        );
      }
    }
    this.keyPrefix = options.keyPrefix ?? "Q/MSG";
    this.wakeChannel = options.wakeChannel ?? `${this.keyPrefix}:wake`;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 1500;
    this.#notifications = options.notifications ?? "auto";
    this.#onWarning = options.onWarning ?? ((message) => console.warn(message));
    const db = nodes.length > 0 ? 0 : _databaseOf(url);
    this.#keyEventChannels = [`__keyevent@${db}__:lpush`, `__keyevent@${db}__:rpush`];
    const connection = _connectionOptions();
    if (nodes.length === 0) {
      const client = createClient({
        ...connection,
        url,
        disableOfflineQueue: true,
        name: "longpoll",
      }) as Client;
      // Standalone: set the notification flags at each (re)connect.
      client.on("ready", () => this.#configureNotifications([client]));
      this.#client = client;
      this.#connected = Promise.all([
        client.connect().catch(_ignore),
        this.#subscribe([url]).catch(_ignore),
      ]);
    } else {
      const { username, password } = _credentialsOf(url);
      const cluster = createCluster({
        rootNodes: nodes.map((node) => ({ url: node })),
        defaults: { ...connection, username, password, disableOfflineQueue: true },
        commandOptions: connection.commandOptions,
      });
      this.#client = cluster as unknown as _Commands;
      this.#connected = this.#startCluster(cluster, url).catch(_ignore);
    }
    // Errors surface as failed commands and through `ready`; the event only
    // needs a listener so that it doesn't crash the process.
    this.#client.on("error", _ignore);
  }

  /** True while the command connection is up. */
  get ready(): boolean {
    return this.#client.isReady;
  }

  /** True once keyspace notifications for list pushes are known to be on. */
  get notificationsOn(): boolean {
    return this.#notificationsOn;
  }

  /**
   * Resolves true once both connections are up, subscribed, and keyspace
   * notifications configured (or found forbidden); false after `timeoutMs`.
   */
  async whenReady(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const up = () =>
      this.#client.isReady && this.#subscribed && this.#configured &&
      this.#subscribers.every((subscriber) => subscriber.isReady);
    while (Date.now() < deadline && !this.#closed && !up()) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return up();
  }

  pop(uid: string): Promise<string | null> {
    return new Promise((resolve, reject) => {
      const pending: _PendingPop = { uid, startedAt: Date.now(), reject, timedOut: false };
      this.#track(pending);
      this.#client.rPop(this.keyPrefix + uid).then(
        (message) => {
          this.#pending.delete(pending);
          if (!pending.timedOut) resolve(message);
          else if (message !== null) this.pushBack(uid, message).catch(_ignore);
        },
        (error) => {
          this.#pending.delete(pending);
          reject(_storeError("pop", error));
        },
      );
    });
  }

  async pushBack(uid: string, message: string): Promise<void> {
    try {
      await this.#client.rPush(this.keyPrefix + uid, message);
    } catch (error) {
      throw _storeError("push back", error);
    }
  }

  async take(uid: string, options: TakeOptions): Promise<LeasedMessage | null> {
    const key = this.keyPrefix + uid;
    let reply;
    try {
      reply = await this.#client.eval(TAKE, {
        keys: [key, inFlightKey(key)],
        arguments: [options.ack ?? "", String(options.now), String(options.leaseMs), options.id],
      }) as [string, number, string] | null;
    } catch (error) {
      throw _storeError("take", error);
    }
    if (reply === null) return null;
    return { id: reply[0], deliveries: Number(reply[1]), message: reply[2] };
  }

  async release(uid: string, id: string): Promise<void> {
    try {
      await this.#client.eval(RELEASE, {
        keys: [inFlightKey(this.keyPrefix + uid)],
        arguments: [id, this.wakeChannel, uid],
      });
    } catch (error) {
      throw _storeError("release", error);
    }
  }

  async publish(uid: string, message: string): Promise<void> {
    try {
      await this.#client.eval(PUSH_AND_WAKE, {
        keys: [this.keyPrefix + uid],
        arguments: [message, this.wakeChannel, uid],
      });
    } catch (error) {
      throw _storeError("publish", error);
    }
  }

  watch(uid: string, waiter: Waiter): void {
    this.#waiters.add(uid, waiter);
  }

  unwatch(uid: string, waiter: Waiter): void {
    this.#waiters.delete(uid, waiter);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timeoutTimer);
    // A connected client closes gracefully, after its replies; one still
    // trying to connect is torn down, which also stops its retries.
    await Promise.all([this.#client, ...this.#subscribers].map((client) => {
      if (client.isReady) return client.close().catch(_ignore);
      if (client.isOpen) client.destroy();
    }));
    await this.#connected;
  }
  /** Closes the store at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * One subscriber connection per node URL, all feeding the uid map; the
   * first also hears the wake channel (a PUBLISH reaches every node of a
   * cluster). After a subscriber reconnects, every held uid checks again,
   * since notifications sent in the gap are gone.
   */
  async #subscribe(urls: readonly string[]): Promise<void> {
    const listener = (message: string, channel: string) => {
      if (channel === this.wakeChannel) return this.#waiters.wake(message);
      if (message.startsWith(this.keyPrefix)) {
        this.#waiters.wake(message.slice(this.keyPrefix.length));
      }
    };
    await Promise.all(urls.map(async (url, index) => {
      const subscriber = createClient({
        ..._connectionOptions(),
        url,
        name: "longpoll-subscriber",
      }) as Client;
      this.#subscribers.push(subscriber);
      subscriber.on("error", _ignore);
      let readyBefore = false;
      subscriber.on("ready", () => {
        if (readyBefore) this.#waiters.wakeAll();
        readyBefore = true;
      });
      await subscriber.connect();
      const channels = index === 0 ? [this.wakeChannel] : [];
      if (this.#notifications === "auto") channels.push(...this.#keyEventChannels);
      if (channels.length > 0) await subscriber.subscribe(channels, listener);
    }));
    this.#subscribed = true;
    // Polls held before the subscriptions were in place may have missed a push.
    this.#waiters.wakeAll();
  }

  /** Cluster: connect, then subscribe to and configure every master. */
  async #startCluster<Master extends { host: string; port: number }>(
    cluster: {
      connect(): Promise<unknown>;
      readonly masters: Master[];
      nodeClient(master: Master): Promise<unknown>;
    },
    firstUrl: string,
  ): Promise<void> {
    await cluster.connect();
    const { username, password } = _credentialsOf(firstUrl);
    const auth = username || password
      ? `${encodeURIComponent(username ?? "")}:${encodeURIComponent(password ?? "")}@`
      : "";
    const masters = cluster.masters;
    await this.#subscribe(masters.map((master) => `redis://${auth}${master.host}:${master.port}`));
    const configTargets = await Promise.all(
      masters.map((master) => cluster.nodeClient(master)),
    );
    await this.#configureNotifications(configTargets as unknown as Client[]);
  }

  async #configureNotifications(nodes: readonly Client[]): Promise<void> {
    try {
      await this.#turnOnNotifications(nodes);
    } finally {
      this.#configured = true;
    }
  }

  /** Adds the list-push flags on every node, where CONFIG is allowed. */
  async #turnOnNotifications(nodes: readonly Client[]): Promise<void> {
    if (this.#notifications === "off") return;
    try {
      for (const node of nodes) {
        const current = (await node.configGet("notify-keyspace-events"))[
          "notify-keyspace-events"
        ] ?? "";
        const wanted = _withListEvents(current);
        if (wanted !== current) await node.configSet("notify-keyspace-events", wanted);
      }
      this.#notificationsOn = true;
    } catch (error) {
      this.#notificationsOn = false;
      if (this.#warnedAboutConfig) return;
      this.#warnedAboutConfig = true;
      this.#onWarning(
        `Cannot turn on keyspace notifications: ${_messageOf(error)}. ` +
          `Plain LPUSH producers will be heard only on the backoff schedule; ` +
          `add "notify-keyspace-events El" to the Redis config to wake polls at once`,
      );
    }
  }

  #track(pending: _PendingPop): void {
    this.#pending.add(pending);
    if (this.#timeoutTimer !== undefined) return;
    this.#timeoutTimer = setInterval(() => this.#expirePops(), TIMEOUT_CHECK_MS);
  }

  #expirePops(): void {
    const now = Date.now();
    for (const pending of this.#pending) {
      if (pending.timedOut || now - pending.startedAt < this.#commandTimeoutMs) continue;
      pending.timedOut = true;
      pending.reject(
        new Error(`Cannot pop: Redis did not answer within ${this.#commandTimeoutMs} ms`),
      );
    }
    if (this.#pending.size === 0) {
      clearInterval(this.#timeoutTimer);
      this.#timeoutTimer = undefined;
    }
  }
}

/**
 * The key of the in-flight hash of list `key`, in the same Redis Cluster
 * hash slot as the list, without renaming the producers' key: it reuses the
 * list key's own hash tag if it has one, and makes the whole key the tag
 * otherwise.
 *
 * @example
 * ```ts
 * import { inFlightKey } from "./redis.ts";
 * console.log(inFlightKey("Q/MSG42")); // {Q/MSG42}:inflight
 * console.log(inFlightKey("Q/{team}42")); // Q/{team}42:inflight
 * ```
 */
export function inFlightKey(key: string): string {
  const open = key.indexOf("{");
  const close = open === -1 ? -1 : key.indexOf("}", open + 1);
  return close > open + 1 ? `${key}:inflight` : `{${key}}:inflight`;
}

/** Adds the flags for list-push key-event notifications to `flags`. */
function _withListEvents(flags: string): string {
  let wanted = flags;
  if (!wanted.includes("E")) wanted += "E";
  if (!wanted.includes("l") && !wanted.includes("A")) wanted += "l";
  return wanted;
}

/** What every connection shares, command or subscriber, node or cluster. */
function _connectionOptions() {
  const reconnect = exponentialBackoff({ base: 50, max: 1000, jitter: 0.5 });
  return {
    socket: { reconnectStrategy: (retries: number) => reconnect(retries) },
    // node-redis 6 gives every command a 5 s timeout of its own: a timer
    // and an AbortSignal per command, and a timed-out RPOP's message is
    // dropped when Redis answers late. Pops have this store's own
    // deadline, which puts such a message back, so the client's is off.
    commandOptions: { timeout: 0 },
    // Redis Enterprise maintenance hand-offs: not used, and they cost.
    maintNotifications: "disabled" as const,
  };
}

function _credentialsOf(url: string): { username?: string; password?: string } {
  try {
    const { username, password } = new URL(url);
    return {
      username: username ? decodeURIComponent(username) : undefined,
      password: password ? decodeURIComponent(password) : undefined,
    };
  } catch {
    return {};
  }
}

function _databaseOf(url: string): number {
  try {
    const db = Number(new URL(url).pathname.slice(1) || "0");
    return Number.isInteger(db) ? db : 0;
  } catch {
    return 0;
  }
}

function _storeError(action: string, cause: unknown): Error {
  return new Error(`Cannot ${action}: Redis failed: ${_messageOf(cause)}`, { cause });
}

function _messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function _ignore(): void {}
