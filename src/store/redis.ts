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
import { RESP_TYPES } from "redis";
import type { LeasedMessage, MessageStore, TakeOptions, Waiter } from "./types.ts";
import { WaiterRegistry } from "./waiters.ts";
import { Deadlines } from "./deadlines.ts";
import { MessageEncodingError } from "./errors.ts";
import { PushBackRetry } from "./push_back_retry.ts";
import { type ExpectedType, RedisDiagnosis } from "./redis_diagnosis.ts";
import { hasControlCharacters, listKeyOf, sideKey } from "./redis_keys.ts";
import { RedisPresence } from "./redis_presence.ts";
export {
  type PresenceCommands,
  RedisPresence,
  type RedisPresenceOptions,
} from "./redis_presence.ts";
import { maxInFlightOf, RELEASED } from "./leases.ts";
import type { RedisStoreOptions } from "./redis_options.ts";
import { LIMIT, PUSH_AND_WAKE, RELEASE, TAKE } from "./redis_scripts.ts";
import { PushLimitsQueue } from "./push_limits_queue.ts";
import { QueueLimits } from "./queue_limits.ts";
import { closeClient, RedisSubscriber } from "./redis_subscriber.ts";
import { NotificationSettings } from "./redis_notifications.ts";
import { RedisTopology } from "./redis_topology.ts";
import {
  databaseOf,
  messageOf,
  type RedisByteCommands,
  type RedisCommands,
} from "./redis_connection.ts";

export { sideKey, type SideKind } from "./redis_keys.ts";
export type { RedisStoreOptions } from "./redis_options.ts";

interface _RunOptions<T> {
  /** Takes what the command brings back after its deadline. */
  readonly onLate?: (value: T) => void;
  /** The keys it touches and their types, to name the wrong one on WRONGTYPE. */
  readonly expect?: readonly ExpectedType[];
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

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
  readonly #client: RedisCommands;
  readonly #subscriber: RedisSubscriber;
  readonly #notifications: NotificationSettings;
  readonly #waiters = new WaiterRegistry();
  readonly #deadlines: Deadlines;
  readonly #topology: RedisTopology;
  readonly #limits: QueueLimits;
  /** The limits of pushes by producers, applied a bounded number at a time. */
  readonly #pushLimits: PushLimitsQueue;
  readonly #bytes: RedisByteCommands;
  readonly #pushBacks: PushBackRetry;
  readonly #diagnosis: RedisDiagnosis;
  readonly #notificationsTimer: ReturnType<typeof setInterval> | undefined;
  #presence: RedisPresence | undefined;
  #closed = false;
  /** True on Redis Cluster (`nodes`), where keys of different uids sit on different nodes. */
  readonly #cluster: boolean;

  /** Starts connecting; polls fail with 503 until Redis answers. */
  constructor(options: RedisStoreOptions = {}) {
    const nodes = options.nodes ?? [];
    this.#cluster = nodes.length > 0;
    const url = nodes[0] ?? options.url ?? "redis://127.0.0.1:6379";
    for (const candidate of [url, ...nodes]) {
      if (!/^rediss?:\/\//.test(candidate) || URL.parse(candidate) === null) {
        throw new TypeError(
          `Cannot create RedisStore: expected a redis:// or rediss:// URL, got "${candidate}"`,
        );
      }
    }
    this.keyPrefix = options.keyPrefix ?? "Q/MSG";
    if (hasControlCharacters(this.keyPrefix)) {
      throw new TypeError('Cannot create RedisStore: "keyPrefix" holds control characters');
    }
    this.wakeChannel = options.wakeChannel ?? `${this.keyPrefix}:wake`;
    this.#limits = new QueueLimits(options, "RedisStore");
    this.#pushLimits = new PushLimitsQueue({ apply: (uid) => this.#limit(uid) });
    this.#deadlines = new Deadlines({ timeoutMs: options.commandTimeoutMs ?? 1500, what: "Redis" });
    const mode = options.notifications ?? "auto";
    const onWarning = options.onWarning ?? ((message) => console.warn(message));
    this.#diagnosis = new RedisDiagnosis(onWarning);
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
      onListPush: this.#limits.active ? (uid) => this.#pushLimits.pushed(uid) : undefined,
    });
    this.#topology = new RedisTopology({
      url,
      nodes,
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
    this.#bytes = this.#client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    // Errors surface as failed commands, through `ready` and through
    // `notReadyReason`; the listener also keeps them from crashing the process.
    this.#client.on("error", (error) => this.#diagnosis.connectionFailed(error));
    this.#client.on("ready", () => this.#diagnosis.connected());
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

  /** True once keyspace notifications for list pushes are known to be on. */
  get notificationsOn(): boolean {
    return this.#notifications.on;
  }

  /**
   * Resolves true once both connections are up, subscribed, and keyspace
   * notifications configured (or found forbidden); false after `timeoutMs`.
   */
  async whenReady(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const up = () => this.#client.isReady && this.#subscriber.ready && this.#notifications.applied;
    while (Date.now() < deadline && !this.#closed && !up()) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return up();
  }

  async pop(uid: string): Promise<string | null> {
    const key = this.keyPrefix + uid;
    const message = await this.#run("pop", () => this.#bytes.rPop(key), {
      expect: [[key, "list"]],
      onLate: (late) => {
        if (late !== null) this.#pushBacks.start(uid, late);
      },
    });
    if (message === null) return null;
    const text = _utf8(message);
    if (text !== undefined) return text;
    // Refused, and put back as it was, first in line.
    try {
      await this.#pushBack(uid, message);
    } catch {
      this.#pushBacks.start(uid, message);
    }
    throw new MessageEncodingError(uid);
  }

  async popMany(uid: string, count: number): Promise<string[]> {
    const key = this.keyPrefix + uid;
    const messages = await this.#run("pop", () => this.#bytes.rPopCount(key, count), {
      expect: [[key, "list"]],
      onLate: (late) => {
        for (const message of [...late ?? []].reverse()) this.#pushBacks.start(uid, message);
      },
    }) ?? [];
    const texts = messages.map(_utf8);
    if (texts.every((text) => text !== undefined)) return texts as string[];
    // Refused whole, and put back as it was, newest first so the oldest is first in line.
    for (const message of [...messages].reverse()) {
      try {
        await this.#pushBack(uid, message);
      } catch {
        this.#pushBacks.start(uid, message);
      }
    }
    throw new MessageEncodingError(uid);
  }

  pushBack(uid: string, message: string): Promise<void> {
    return this.#pushBack(uid, message);
  }

  async take(uid: string, options: TakeOptions): Promise<LeasedMessage | null> {
    const key = listKeyOf(this.keyPrefix, uid, "take");
    const maxInFlight = String(maxInFlightOf(options));
    const script = {
      keys: [key, sideKey(key, "inflight"), sideKey(key, "leases")],
      arguments: [
        options.ack ?? "",
        String(options.now),
        String(options.leaseMs),
        options.id,
        maxInFlight,
        String(this.#limits.sideTtlSeconds(options.leaseMs)),
        String(options.count ?? 1),
      ],
    };
    // A lease granted after the caller gave up is ended at once, so the
    // next take hands the message out again without waiting for the lease.
    const reply = await this.#run(
      "take",
      () =>
        this.#bytes.eval(TAKE, script) as Promise<
          [Uint8Array, number, Uint8Array, Uint8Array] | null
        >,
      {
        expect: [[key, "list"], [script.keys[1], "hash"], [script.keys[2], "zset"]],
        onLate: (late) => {
          if (late !== null) this.release(uid, options.id).catch(_ignore);
        },
      },
    );
    if (reply === null) return null;
    const message = _utf8(reply[2]);
    if (message === undefined) {
      // Refused, and kept in flight as it was, due at once.
      await this.release(uid, options.id);
      throw new MessageEncodingError(uid);
    }
    const leased = { id: options.id, deliveries: Number(reply[1]), message };
    return _utf8(reply[3])?.startsWith("b") ? { ...leased, batch: JSON.parse(message) } : leased;
  }

  async release(uid: string, id: string): Promise<void> {
    const leases = sideKey(listKeyOf(this.keyPrefix, uid, "release"), "leases");
    await this.#run("release", () =>
      this.#client.eval(RELEASE, {
        keys: [leases],
        arguments: [id, this.wakeChannel, uid, String(RELEASED)],
      }), { expect: [[leases, "zset"]] });
  }

  /**
   * Appends `message` and wakes the uid's waiters. A publish that fails on
   * its deadline may still be carried out by Redis afterwards.
   */
  async publish(uid: string, message: string): Promise<void> {
    const key = this.keyPrefix + uid;
    const { ttlSeconds, max } = this.#limits;
    const dropped = await this.#run("publish", () =>
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
      await this.#run("check readiness", () => this.#topology.ping());
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
    this.#topology.close();
    // Nothing new to hear; the limits of the pushes heard are applied.
    await this.#subscriber.close();
    await this.#pushLimits.idle();
    // Messages still refused get one last attempt, within the deadline.
    await this.#pushBacks.close();
    this.#deadlines.close();
    await closeClient(this.#client);
    await this.#topology.connected;
  }
  /** Closes the store at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Applies the queue limits after a push by someone else: a plain EXPIRE
   * when there is no trim to do, which costs Redis less than a script.
   */
  #limit(uid: string): Promise<void> {
    const key = this.keyPrefix + uid;
    const { ttlSeconds, max } = this.#limits;
    const limit = max === 0
      ? () => this.#client.expire(key, ttlSeconds).then(() => 0)
      : () =>
        this.#client.eval(LIMIT, { keys: [key], arguments: [String(ttlSeconds), String(max)] });
    return this.#run("limit", limit).then(
      (dropped) => this.#limits.trimmed(uid, Number(dropped)),
      _ignore, // the next push tries again
    );
  }

  /** Turns the notification flags back on if someone turned them off; held uids check again. */
  async #checkNotifications(): Promise<void> {
    try {
      if (await this.#notifications.check(await this.#topology.configNodes())) {
        this.#waiters.wakeAll();
      }
    } catch {
      // A node is away: the next check will tell.
    }
  }

  #pushBack(uid: string, message: string | Uint8Array): Promise<void> {
    const key = this.keyPrefix + uid;
    return this.#run("push back", async () => {
      const value = typeof message === "string"
        ? message
        : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
      await this.#client.rPush(key, value);
    }, { expect: [[key, "list"]] });
  }

  /**
   * Runs a command under the deadline; its failure reads
   * `Cannot <action>: Redis failed: <why>`.
   */
  #run<T>(action: string, command: () => Promise<T>, options: _RunOptions<T> = {}): Promise<T> {
    return this.#deadlines.run(action, async () => {
      try {
        return await command();
      } catch (error) {
        if (options.expect !== undefined && /^WRONGTYPE/.test(messageOf(error))) {
          const explained = await this.#diagnosis.wrongType(
            action,
            options.expect,
            (key) => this.#client.type(key),
          ).catch(_ignore);
          if (explained !== undefined) throw explained;
        }
        throw _storeError(action, error);
      }
    }, options.onLate);
  }
}

function _storeError(action: string, cause: unknown): Error {
  return new Error(`Cannot ${action}: Redis failed: ${messageOf(cause)}`, { cause });
}

function _ignore(): void {}

/** The text of `bytes`, or undefined when they are not valid UTF-8. */
function _utf8(bytes: Uint8Array): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}
