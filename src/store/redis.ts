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
import { Buffer } from "node:buffer";
import { OPTION_SPECS } from "../option_defaults.ts";
import { RESP_TYPES } from "redis";
import type { LeasedMessage, MessageStore, TakeOptions, Waiter } from "./types.ts";
import { RedisHistory } from "./redis_history.ts";
import { checkHistory } from "./history_options.ts";
import { WaiterRegistry } from "./waiters.ts";
import { PushBackRetry } from "./push_back_retry.ts";
import { RedisDiagnosis } from "./redis_diagnosis.ts";
import { hasControlCharacters } from "./redis_keys.ts";
import { RedisPresence } from "./redis_presence.ts";
export {
  type PresenceCommands,
  RedisPresence,
  type RedisPresenceOptions,
} from "./redis_presence.ts";
import type { RedisStoreOptions } from "./redis_options.ts";
import { PUSH_AND_WAKE } from "./redis_scripts.ts";
import { MessageLimits } from "./message_limits.ts";
import { QueueLimits, type QueueLimitValues } from "./queue_limits.ts";
import { LimitsClaim } from "./redis_limits_claim.ts";
import { ListLimits } from "./redis_list_limits.ts";
import { closeClient, RedisSubscriber } from "./redis_subscriber.ts";
import { NotificationSettings } from "./redis_notifications.ts";
import { RedisTopology } from "./redis_topology.ts";
import { bufferOf, checkRedisUrl, databaseOf, type RedisCommands } from "./redis_connection.ts";
import { sentinelOptionsOf } from "./redis_sentinel.ts";
import { RedisCommandRunner } from "./redis_command_runner.ts";
import { RedisSetAside } from "./redis_set_aside.ts";
import { RedisPop } from "./redis_pop.ts";
import { RedisLeases } from "./redis_leases.ts";

export { sideKey, type SideKind } from "./redis_keys.ts";
export type { RedisStoreOptions } from "./redis_options.ts";
export type { QueueLimitValues } from "./queue_limits.ts";

/**
 * A {@linkcode MessageStore} on Redis. One command connection per process
 * pops (`RPOP`), pushes back (`RPUSH`) and publishes (`LPUSH` plus a wake,
 * in one script); one subscriber connection hears keyspace notifications
 * and the wake channel and wakes waiters through a uid map, so a wake costs
 * the same with 10 or 19,000 polls held. After the subscriber reconnects,
 * every held uid is woken to check again. On Redis Cluster (`nodes`), the
 * commands go through the cluster client and there is one subscriber per
 * master, since keyspace notifications stay on the node that made them.
 * With Sentinel (`sentinels`), both follow the primary through a failover.
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
  readonly #client: RedisCommands;
  readonly #subscriber: RedisSubscriber;
  readonly #notifications: NotificationSettings;
  readonly #waiters = new WaiterRegistry();
  /** Runs each command under the deadline. */
  readonly #runner: RedisCommandRunner;
  readonly #topology: RedisTopology;
  readonly #limits: QueueLimits;
  readonly #limitsClaim: LimitsClaim;
  readonly #listLimits: ListLimits;
  readonly #asides: RedisSetAside;
  readonly #pop: RedisPop;
  readonly #leases: RedisLeases;
  readonly #history: RedisHistory | undefined;
  readonly #pushBacks: PushBackRetry;
  readonly #diagnosis: RedisDiagnosis;
  readonly #notificationsTimer: ReturnType<typeof setInterval> | undefined;
  #presence: RedisPresence | undefined;
  #closed = false;
  /** True on Redis Cluster (`nodes`), where keys of different uids sit on different nodes. */
  readonly #cluster: boolean;
  /** With `history` only: moves `uid`'s list into its history, and reads it, in one call. */
  readonly readStream?: MessageStore["readStream"];

  /** Starts connecting; polls fail with 503 until Redis answers. */
  constructor(options: RedisStoreOptions = {}) {
    const nodes = options.nodes ?? [];
    this.#cluster = nodes.length > 0;
    const url = nodes[0] ?? options.url ?? "redis://127.0.0.1:6379";
    const sentinel = sentinelOptionsOf(options);
    [url, ...nodes].forEach(checkRedisUrl);
    this.keyPrefix = options.keyPrefix ?? OPTION_SPECS.keyPrefix.defaultValue;
    if (hasControlCharacters(this.keyPrefix)) {
      throw new TypeError('Cannot create RedisStore: "keyPrefix" holds control characters');
    }
    this.wakeChannel = options.wakeChannel ?? `${this.keyPrefix}:wake`;
    this.#limits = new QueueLimits(options, "RedisStore");
    const messageLimits = new MessageLimits(options, "RedisStore");
    const history = options.history && checkHistory(options.history, "RedisStore");
    const mode = options.notifications ?? "auto";
    const onWarning = options.onWarning ?? ((message) => console.warn(message));
    this.#diagnosis = new RedisDiagnosis(onWarning, sentinel?.name);
    this.#pushBacks = new PushBackRetry({
      push: (uid, message) => this.#pushBack(uid, message),
      onPushedBack: options.onPushedBack ?? _ignore,
      onLost: options.onLost ?? _ignore,
      onWarning,
    });
    this.#notifications = new NotificationSettings({ mode, onWarning });
    const db = nodes.length > 0 ? 0 : databaseOf(url);
    this.#subscriber = new RedisSubscriber({
      keyPrefix: this.keyPrefix,
      wakeChannel: this.wakeChannel,
      keyEventChannels: mode === "auto"
        ? [`__keyevent@${db}__:lpush`, `__keyevent@${db}__:rpush`]
        : [],
      waiters: this.#waiters,
      onListPush: (uid) => [this.#listLimits, this.#history].forEach((to) => to?.pushed(uid)),
    });
    this.#topology = new RedisTopology({
      url,
      nodes,
      sentinel,
      subscriber: this.#subscriber,
      notifications: this.#notifications,
      onMastersAdded: (owns) => this.#waiters.wakeWhere((uid) => owns(this.keyPrefix + uid)),
    });
    this.#client = this.#topology.client;
    if (mode === "auto") {
      this.#notificationsTimer = setInterval(
        () => this.#checkNotifications(),
        options.notificationsCheckMs ?? 30_000,
      );
    }
    this.#runner = new RedisCommandRunner({
      timeoutMs: options.commandTimeoutMs ?? 1500,
      diagnosis: this.#diagnosis,
      typeOf: (key) => this.#client.type(key),
    });
    const { keyPrefix, wakeChannel } = this;
    const client = this.#client;
    const runner = this.#runner;
    const limits = this.#limits;
    this.#limitsClaim = new LimitsClaim({
      keyPrefix,
      limits,
      client,
      runner,
      onWarning,
      checkMs: options.queueLimitsCheckMs,
    });
    this.#listLimits = new ListLimits({
      keyPrefix,
      limits,
      client,
      runner,
      nodes: () => this.#topology.keyNodes(),
    });
    const bytes = client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    this.#asides = new RedisSetAside({ keyPrefix, client, bytes, runner, messageLimits });
    const { maxBytes } = messageLimits;
    const common = { keyPrefix, bytes, client, runner, maxBytes, asides: this.#asides };
    this.#pop = new RedisPop({
      ...common,
      pushBack: (uid, message) => this.#pushBack(uid, message),
      pushBacks: this.#pushBacks,
    });
    this.#leases = new RedisLeases({ ...common, wakeChannel, limits });
    if (history !== undefined) {
      this.#history = new RedisHistory({ ...common, history, waiters: this.#waiters });
      this.readStream = this.#history.read.bind(this.#history);
    }
    // Errors surface as failed commands, through `ready` and through
    // `notReadyReason`; the listener also keeps them from crashing the process.
    this.#client.on("error", (error) => this.#diagnosis.connectionFailed(error));
    this.#client.on("ready", () => {
      this.#diagnosis.connected();
      this.#limitsClaim.claim();
    });
  }

  /** True while the command connection is up. */
  get ready(): boolean {
    return this.#client.isReady;
  }

  /**
   * How many times the keyspace notification flags were found turned off
   * on Redis and turned back on (see `notificationsCheckMs`).
   */
  get notificationsRestored(): number {
    return this.#notifications.restored;
  }

  /**
   * Why the store is not ready, when Redis said why: such as `Cannot
   * connect to Redis: it needs a password, and none was given (NOAUTH …)`.
   * Undefined while connected. Refused credentials are also warned about
   * once through `onWarning`.
   */
  get notReadyReason(): string | undefined {
    return this.#diagnosis.reason;
  }

  /** Why a server should refuse to start: no Sentinel monitors `sentinelName`; else undefined. */
  get sentinelNameUnknown(): string | undefined {
    return this.#diagnosis.primaryUnknown ? this.#diagnosis.reason : undefined;
  }

  /**
   * The queue limits applied now: those in force for the prefix, kept in
   * Redis and the same for every process on it, once read; until then,
   * those of the options.
   */
  get queueLimits(): QueueLimitValues {
    return this.#limits.inForce;
  }

  /**
   * Why this store's `queueTtlSeconds` and `queueMax` don't apply: those in
   * force for the prefix differ (it applies those, and says so through
   * `onWarning`). Undefined when they match, or none were given. A server
   * should refuse to start on it.
   */
  get queueLimitsConflict(): string | undefined {
    return this.#limitsClaim.conflict;
  }

  /** True once keyspace notifications for list pushes are known to be on. */
  get notificationsOn(): boolean {
    return this.#notifications.on;
  }

  /**
   * Resolves true once both connections are up, subscribed, keyspace
   * notifications configured (or found forbidden), and the queue limits in
   * force read; false after `timeoutMs` (at once if no Sentinel knows `sentinelName`).
   */
  async whenReady(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const up = () =>
      this.#client.isReady && this.#subscriber.ready && this.#notifications.applied &&
      (this.#limitsClaim.known || this.#limitsClaim.conflict !== undefined);
    while (Date.now() < deadline && !this.#closed && !up() && !this.#diagnosis.primaryUnknown) {
      // A cluster client tells no "ready": the limits are read once it is.
      if (this.#client.isReady) this.#limitsClaim.claim();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return up();
  }

  pop(uid: string): Promise<string | null> {
    return this.#pop.popOne(uid);
  }

  popMany(uid: string, count: number): Promise<string[]> {
    return this.#pop.pop(uid, count);
  }

  pushBack(uid: string, message: string): Promise<void> {
    return this.#pushBack(uid, message);
  }

  take(uid: string, options: TakeOptions): Promise<LeasedMessage | null> {
    return this.#leases.take(uid, options);
  }

  release(uid: string, id: string): Promise<void> {
    return this.#leases.release(uid, id);
  }

  /**
   * Appends `message` and wakes the uid's waiters. A publish that fails on
   * its deadline may still be carried out by Redis afterwards.
   */
  async publish(uid: string, message: string): Promise<void> {
    const key = this.keyPrefix + uid;
    const { ttlSeconds, max } = this.#limits;
    const dropped = await this.#runner.run("publish", () =>
      this.#client.eval(PUSH_AND_WAKE, {
        keys: [key],
        arguments: [message, this.wakeChannel, uid, String(ttlSeconds), String(max)],
      }), { expect: [[key, "list"]] });
    this.#limits.trimmed(uid, Number(dropped));
  }

  /**
   * Resolves true when Redis answers a PING (every master, on a cluster)
   * within the command deadline, false otherwise; it never rejects.
   */
  async checkReady(): Promise<boolean> {
    try {
      await this.#runner.run("check readiness", () => this.#topology.ping());
      return true;
    } catch {
      return false;
    }
  }

  watch(uid: string, waiter: Waiter): void {
    this.#waiters.add(uid, waiter);
  }

  unwatch(uid: string, waiter: Waiter): void {
    this.#waiters.delete(uid, waiter);
  }

  /**
   * Presence on this Redis, shared by every process on it: what
   * `GET /presence` answers from. One per store; it lives until the store
   * closes.
   */
  presence(options: { aliveMs?: number } = {}): RedisPresence {
    return this.#presence ??= new RedisPresence({
      client: this.#client,
      keyPrefix: this.keyPrefix,
      aliveMs: options.aliveMs,
      onError: _ignore,
      batch: !this.#cluster,
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#presence?.close();
    clearInterval(this.#notificationsTimer);
    await this.#limitsClaim.close();
    await this.#topology.close();
    // Nothing new to hear; the limits of the pushes heard are applied.
    await this.#subscriber.close();
    await this.#listLimits.close();
    await this.#history?.close();
    // Messages still refused get one last attempt, within the deadline.
    await this.#pushBacks.close();
    this.#runner.close();
    await closeClient(this.#client);
    await this.#topology.connected;
  }
  /** Closes the store at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Turns the notification flags back on if someone turned them off; held
   * uids check again, and the lists pushed meanwhile get their limits.
   */
  async #checkNotifications(): Promise<void> {
    try {
      if (await this.#notifications.check(await this.#topology.configNodes())) {
        this.#waiters.wakeAll();
        this.#listLimits.sweep();
      }
    } catch {
      // A node is away: the next check will tell.
    }
  }

  /**
   * The messages set aside for `uid` (too large, or not UTF-8), newest
   * first, as bytes: the last `SET_ASIDE_KEPT` (100) of them.
   */
  asideOf(uid: string): Promise<Uint8Array[]> {
    return this.#asides.of(uid);
  }

  #pushBack(uid: string, message: string | Uint8Array): Promise<void> {
    const key = this.keyPrefix + uid;
    return this.#runner.run("push back", async () => {
      await this.#client.rPush(key, typeof message === "string" ? message : bufferOf(message));
    }, { expect: [[key, "list"]] });
  }
}

function _ignore(): void {}
