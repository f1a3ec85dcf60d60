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
import { OPTION_SPECS } from "../options.ts";
import { RESP_TYPES } from "redis";
import type { LeasedMessage, MessageStore, TakeOptions, Waiter } from "./types.ts";
import { WaiterRegistry } from "./waiters.ts";
import { Deadlines } from "./deadlines.ts";
import { KeyTypeError, MessageEncodingError } from "./errors.ts";
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
import {
  CLAIM_LIMITS,
  LIMIT,
  POP,
  PUSH_AND_WAKE,
  RELEASE,
  SET_ASIDE,
  TAKE,
} from "./redis_scripts.ts";
import { MessageLimits, SET_ASIDE_KEPT, type SetAside, shortHashOf } from "./message_limits.ts";
import { PushLimitsQueue } from "./push_limits_queue.ts";
import { QueueLimits, type QueueLimitValues } from "./queue_limits.ts";
import { SharedQueueLimits } from "./redis_queue_limits.ts";
import { LimitsSweep } from "./redis_limits_sweep.ts";
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
export type { QueueLimitValues } from "./queue_limits.ts";

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
  /** The limits in force for the prefix, kept in Redis, the same for every process. */
  readonly #sharedLimits: SharedQueueLimits;
  readonly #limitsTimer: ReturnType<typeof setInterval>;
  #claimingLimits: Promise<void> | undefined;
  readonly #messageLimits: MessageLimits;
  /** The limits of pushes by producers, applied a bounded number at a time. */
  readonly #pushLimits: PushLimitsQueue;
  /** The limits of lists pushed while notifications were off, which no push applied. */
  readonly #limitsSweep: LimitsSweep;
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
    this.keyPrefix = options.keyPrefix ?? OPTION_SPECS.keyPrefix.defaultValue;
    if (hasControlCharacters(this.keyPrefix)) {
      throw new TypeError('Cannot create RedisStore: "keyPrefix" holds control characters');
    }
    this.wakeChannel = options.wakeChannel ?? `${this.keyPrefix}:wake`;
    this.#limits = new QueueLimits(options, "RedisStore");
    this.#messageLimits = new MessageLimits(options, "RedisStore");
    this.#pushLimits = new PushLimitsQueue({ apply: (uid) => this.#limit(uid) });
    this.#deadlines = new Deadlines({ timeoutMs: options.commandTimeoutMs ?? 1500, what: "Redis" });
    const mode = options.notifications ?? "auto";
    const onWarning = options.onWarning ?? ((message) => console.warn(message));
    this.#sharedLimits = new SharedQueueLimits({
      keyPrefix: this.keyPrefix,
      limits: this.#limits,
      onWarning,
    });
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
      onListPush: (uid) => {
        if (this.#limits.active) this.#pushLimits.pushed(uid);
      },
    });
    this.#topology = new RedisTopology({
      url,
      nodes,
      subscriber: this.#subscriber,
      notifications: this.#notifications,
      onMastersAdded: (owns) => this.#waiters.wakeWhere((uid) => owns(this.keyPrefix + uid)),
    });
    this.#client = this.#topology.client;
    this.#limitsSweep = new LimitsSweep({
      keyPrefix: this.keyPrefix,
      nodes: () => this.#topology.keyNodes(),
      limits: this.#pushLimits,
    });
    if (mode === "auto") {
      this.#notificationsTimer = setInterval(
        () => this.#checkNotifications(),
        options.notificationsCheckMs ?? 30_000,
      );
    }
    this.#limitsTimer = setInterval(
      () => this.#claimLimits(),
      options.queueLimitsCheckMs ?? 30_000,
    );
    this.#bytes = this.#client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    // Errors surface as failed commands, through `ready` and through
    // `notReadyReason`; the listener also keeps them from crashing the process.
    this.#client.on("error", (error) => this.#diagnosis.connectionFailed(error));
    this.#client.on("ready", () => {
      this.#diagnosis.connected();
      this.#claimLimits();
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
    return this.#sharedLimits.conflict;
  }

  /** True once keyspace notifications for list pushes are known to be on. */
  get notificationsOn(): boolean {
    return this.#notifications.on;
  }

  /**
   * Resolves true once both connections are up, subscribed, keyspace
   * notifications configured (or found forbidden), and the queue limits in
   * force read; false after `timeoutMs`.
   */
  async whenReady(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const up = () =>
      this.#client.isReady && this.#subscriber.ready && this.#notifications.applied &&
      (this.#sharedLimits.known || this.#sharedLimits.conflict !== undefined);
    while (Date.now() < deadline && !this.#closed && !up()) {
      // A cluster client tells no "ready": the limits are read once it is.
      if (this.#client.isReady) this.#claimLimits();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return up();
  }

  async pop(uid: string): Promise<string | null> {
    return (await this.#popQueued(uid, 1))[0] ?? null;
  }

  popMany(uid: string, count: number): Promise<string[]> {
    return this.#popQueued(uid, count);
  }

  pushBack(uid: string, message: string): Promise<void> {
    return this.#pushBack(uid, message);
  }

  async take(uid: string, options: TakeOptions): Promise<LeasedMessage | null> {
    const key = listKeyOf(this.keyPrefix, uid, "take");
    const script = {
      keys: [key, sideKey(key, "inflight"), sideKey(key, "leases"), sideKey(key, "aside")],
      arguments: [
        options.ack ?? "",
        String(options.now),
        String(options.leaseMs),
        options.id,
        String(maxInFlightOf(options)),
        String(this.#limits.sideTtlSeconds(options.leaseMs)),
        String(options.count ?? 1),
        String(this.#messageLimits.maxBytes),
        String(SET_ASIDE_KEPT),
      ],
    };
    // Each turn sets aside what it can't hand out; the queue goes on.
    for (;;) {
      // A lease granted after the caller gave up is ended at once, so the
      // next take hands the message out again without waiting for the lease.
      const reply = await this.#run(
        "take",
        () => this.#bytes.eval(TAKE, script) as Promise<_TakeReply>,
        {
          expect: [[key, "list"], [script.keys[1], "hash"], [script.keys[2], "zset"]],
          onLate: (late) => {
            this.#reportTooLarge(uid, late[late.length - 1] as _Asides);
            if (late.length > 1) this.release(uid, options.id).catch(_ignore);
          },
        },
      );
      this.#reportTooLarge(uid, reply[reply.length - 1] as _Asides);
      if (reply.length === 1) {
        if ((reply[0] as _Asides).length === 0) return null;
        script.arguments[0] = "";
        continue;
      }
      const [, deliveries, body, kind] = reply;
      const leased = { id: options.id, deliveries: Number(deliveries) };
      const batch = _utf8(kind)!.startsWith("b");
      const message = _utf8(body);
      if (message !== undefined) {
        return batch ? { ...leased, message, batch: JSON.parse(message) } : { ...leased, message };
      }
      const items = batch ? _batchBytes(body) : [body];
      const texts = items.map(_utf8).filter((text) => text !== undefined);
      const poison = items.filter((item) => _utf8(item) === undefined);
      const entry = texts.length === 0
        ? ""
        : `${deliveries}b${texts.length}|${JSON.stringify(texts)}`;
      try {
        await this.#setAside(uid, { id: options.id, entry, poison });
      } catch {
        // Refused, and kept in flight as it was, due at once.
        await this.release(uid, options.id);
        throw new MessageEncodingError(uid);
      }
      if (texts.length > 0) return { ...leased, message: JSON.stringify(texts), batch: texts };
      script.arguments[0] = "";
    }
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
    clearInterval(this.#limitsTimer);
    await this.#claimingLimits;
    this.#topology.close();
    // Nothing new to hear; the limits of the pushes heard are applied.
    await this.#subscriber.close();
    await this.#limitsSweep.close();
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

  /**
   * Reads the queue limits in force for the prefix, first writing this
   * store's where Redis keeps none; one read at a time.
   */
  #claimLimits(): Promise<void> {
    const { key } = this.#sharedLimits;
    return this.#claimingLimits ??= this.#run(
      "read the queue limits",
      () =>
        this.#sharedLimits.claim((key, args) =>
          this.#client.eval(CLAIM_LIMITS, { keys: [key], arguments: args })
        ),
      { expect: [[key, "hash"]] },
    )
      .catch((error) => {
        // Unusable until someone fixes it; anything else, the next check tries again.
        if (error instanceof KeyTypeError) this.#sharedLimits.unreadable(error.message);
      })
      .finally(() => (this.#claimingLimits = undefined));
  }

  /**
   * Turns the notification flags back on if someone turned them off; held
   * uids check again, and the lists pushed meanwhile get their limits.
   */
  async #checkNotifications(): Promise<void> {
    try {
      if (await this.#notifications.check(await this.#topology.configNodes())) {
        this.#waiters.wakeAll();
        if (this.#limits.active) this.#limitsSweep.start();
      }
    } catch {
      // A node is away: the next check will tell.
    }
  }

  /**
   * The messages set aside for `uid` (too large, or not UTF-8), newest
   * first, as bytes: the last {@linkcode SET_ASIDE_KEPT} of them.
   */
  async asideOf(uid: string): Promise<Uint8Array[]> {
    const aside = sideKey(listKeyOf(this.keyPrefix, uid, "read the messages set aside"), "aside");
    return await this.#run("read the messages set aside", () => this.#bytes.lRange(aside, 0, -1));
  }

  /** Pops up to `count` messages that can be delivered, setting aside those that can't. */
  async #popQueued(uid: string, count: number): Promise<string[]> {
    const key = this.keyPrefix + uid;
    const aside = sideKey(listKeyOf(this.keyPrefix, uid, "pop"), "aside");
    const script = {
      keys: [key, aside],
      arguments: [String(count), String(this.#messageLimits.maxBytes), String(SET_ASIDE_KEPT)],
    };
    for (;;) {
      const [messages, asides] = await this.#run(
        "pop",
        () => this.#bytes.eval(POP, script) as Promise<[Uint8Array[], _Asides]>,
        {
          expect: [[key, "list"]],
          onLate: ([late, asides]) => {
            this.#reportTooLarge(uid, asides);
            for (const message of [...late].reverse()) this.#pushBacks.start(uid, message);
          },
        },
      );
      this.#reportTooLarge(uid, asides);
      const texts = messages.map(_utf8).filter((text) => text !== undefined);
      const poison = messages.filter((message) => _utf8(message) === undefined);
      if (poison.length > 0) {
        try {
          await this.#setAside(uid, { id: "", entry: "", poison });
        } catch {
          // Refused whole, and put back as it was, newest first so the oldest is first in line.
          for (const message of [...messages].reverse()) {
            await this.#pushBack(uid, message).catch(() => this.#pushBacks.start(uid, message));
          }
          throw new MessageEncodingError(uid);
        }
      }
      if (texts.length > 0 || (messages.length === 0 && asides.length === 0)) return texts;
    }
  }

  /**
   * Moves `poison` (not UTF-8) to the uid's list of messages set aside, and
   * rewrites or ends the lease `id` that held them; then reports them.
   */
  async #setAside(
    uid: string,
    { id, entry, poison }: { id: string; entry: string; poison: Uint8Array[] },
  ): Promise<void> {
    const key = this.keyPrefix + uid;
    await this.#run("set aside", () =>
      this.#client.eval(SET_ASIDE, {
        keys: [sideKey(key, "inflight"), sideKey(key, "leases"), sideKey(key, "aside")],
        arguments: [id, entry, String(SET_ASIDE_KEPT), ...poison.map(_buffer)],
      }));
    for (const message of poison) {
      this.#recordAside({
        uid,
        reason: "not UTF-8",
        bytes: message.length,
        hash: await shortHashOf(message),
      });
    }
  }

  /** Reports the messages too large that a script moved aside. */
  #reportTooLarge(uid: string, asides: _Asides): void {
    for (let i = 0; i < asides.length; i += 2) {
      const hash = _utf8(asides[i + 1] as Uint8Array)!;
      this.#recordAside({ uid, reason: "too large", bytes: Number(asides[i]), hash });
    }
  }

  /**
   * Reports `aside`, and notes it in the prefix's bounded index of messages
   * set aside: a separate command, since the index is in another hash slot
   * than the uid's list on a cluster.
   */
  #recordAside(aside: SetAside): void {
    this.#messageLimits.setAside(aside);
    const index = sideKey(this.keyPrefix, "aside-index");
    const record = JSON.stringify({ ...aside, at: new Date().toISOString() });
    this.#run("note a message set aside", async () => {
      await this.#client.lPush(index, record);
      await this.#client.lTrim(index, 0, SET_ASIDE_KEPT - 1);
    }).catch(_ignore); // the message itself is kept beside the uid's list
  }

  #pushBack(uid: string, message: string | Uint8Array): Promise<void> {
    const key = this.keyPrefix + uid;
    return this.#run("push back", async () => {
      await this.#client.rPush(key, typeof message === "string" ? message : _buffer(message));
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

/** The length and short hash of each message a script moved aside, flat. */
type _Asides = (number | Uint8Array)[];

/** What {@linkcode TAKE} answers: a lease and the asides, or the asides alone. */
type _TakeReply = [Uint8Array, number, Uint8Array, Uint8Array, _Asides] | [_Asides];

function _buffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The messages of a batch's JSON array (as the take script encodes it) as
 * bytes, when they are not all UTF-8: JSON's syntax is ASCII, and read
 * byte for byte (latin1) every string keeps its bytes.
 */
function _batchBytes(body: Uint8Array): Uint8Array[] {
  const items = JSON.parse(_buffer(body).toString("latin1")) as string[];
  return items.map((item) => new Uint8Array(Buffer.from(item, "latin1")));
}

/** The text of `bytes`, or undefined when they are not valid UTF-8. */
function _utf8(bytes: Uint8Array): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}
