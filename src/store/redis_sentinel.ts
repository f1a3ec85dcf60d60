/**
 * Redis Sentinel: the store's commands go to the primary that the
 * Sentinels name, and follow it through a failover; the keyspace
 * notification subscriber and the notification flags follow it too.
 *
 * @module
 */
import { createSentinel } from "redis";
import {
  connectionOptions,
  credentialsOf,
  databaseOf,
  type RedisCommands,
} from "./redis_connection.ts";
import type { ConfigurableNode, NotificationSettings } from "./redis_notifications.ts";
import type { RedisSubscriber } from "./redis_subscriber.ts";
import type { ScannableNode } from "./redis_limits_sweep.ts";

/** Where a Sentinel listens. */
export interface SentinelAddress {
  /** Its host name or address. */
  readonly host: string;
  /** Its port. */
  readonly port: number;
}

/**
 * Reads a Sentinel's `host:port` (`[::1]:26379` for an IPv6 address);
 * throws an Error saying what is wrong with it.
 *
 * @example
 * ```ts
 * import { sentinelAddress } from "./redis_sentinel.ts";
 * console.log(sentinelAddress("10.0.0.5:26379")); // { host: "10.0.0.5", port: 26379 }
 * try {
 *   sentinelAddress(":26379");
 * } catch (error) {
 *   console.log((error as Error).message); // ":26379" has no host
 * }
 * ```
 */
export function sentinelAddress(text: string): SentinelAddress {
  const match = /^(?:\[([^\]]*)\]|([^:]*)):(.*)$/.exec(text.trim());
  if (match === null) throw new Error(`"${text}" is not host:port`);
  const host = match[1] ?? match[2];
  if (host === "" || /\s/.test(host)) throw new Error(`"${text}" has no host`);
  const port = Number(match[3]);
  if (!/^\d+$/.test(match[3]) || port < 1 || port > 65535) {
    throw new Error(`"${text}" has no port from 1 to 65535`);
  }
  return { host, port };
}

/** Options of {@linkcode SentinelPrimary}. */
export interface SentinelPrimaryOptions {
  /**
   * The Redis URL whose user name, password and database apply to the
   * primary and its replicas; its host is not used.
   */
  readonly url: string;
  /** Some of the Sentinels (the rest are discovered). */
  readonly sentinels: readonly SentinelAddress[];
  /** The name the Sentinels monitor the primary under. */
  readonly name: string;
  /** Subscribes to the primary, and follows it. */
  readonly subscriber: RedisSubscriber;
  /** Sets the notification flags on the primary, each time it changes. */
  readonly notifications: NotificationSettings;
  /**
   * Told once the subscriber hears a newly promoted primary, so every held
   * uid checks again: pushes made meanwhile went unheard.
   */
  readonly onPrimaryChanged: () => void;
}

/**
 * The primary as the Sentinels name it. Commands wait while the Sentinels
 * promote a replica (and fail on the store's deadline meanwhile); once
 * the client has the new primary, the subscriber moves to it, its
 * notification flags are set, and `onPrimaryChanged` is told.
 *
 * @example
 * ```ts ignore
 * import { SentinelPrimary } from "./redis_sentinel.ts";
 * const primary = new SentinelPrimary({
 *   url: "redis://:secret@sentinel-managed",
 *   sentinels: [{ host: "10.0.0.5", port: 26379 }],
 *   name: "mymaster",
 *   subscriber,
 *   notifications,
 *   onPrimaryChanged: () => waiters.wakeAll(),
 * });
 * await primary.connected;
 * ```
 */
export class SentinelPrimary {
  /** Where commands go: the primary of the moment. */
  readonly client: RedisCommands;
  /** Settles once connected and subscribed, or given up on. */
  readonly connected: Promise<unknown>;
  readonly #options: SentinelPrimaryOptions;
  readonly #sentinel: _Sentinel;
  readonly #auth: string;
  /** The primary subscribed to, as `host:port`. */
  #following: string | undefined;
  /** Serializes the moves of the subscriber. */
  #moves: Promise<void> = Promise.resolve();

  /** Starts connecting. */
  constructor(options: SentinelPrimaryOptions) {
    this.#options = options;
    const { username, password } = credentialsOf(options.url);
    this.#auth = username || password
      ? `${encodeURIComponent(username ?? "")}:${encodeURIComponent(password ?? "")}@`
      : "";
    const connection = connectionOptions();
    const sentinel = createSentinel({
      name: options.name,
      sentinelRootNodes: options.sentinels.map(({ host, port }) => ({ host, port })),
      nodeClientOptions: {
        ...connection,
        username,
        password,
        database: databaseOf(options.url),
        disableOfflineQueue: true,
        name: "longpoll",
      },
      sentinelClientOptions: { socket: connection.socket },
      commandOptions: connection.commandOptions,
      // Never give up: while no Sentinel names a primary, it asks again
      // every second, as a single Redis's client reconnects.
      maxCommandRediscovers: Infinity,
    });
    this.#sentinel = sentinel as unknown as _Sentinel;
    this.client = sentinel as unknown as RedisCommands;
    // `ready` comes after the first connection and after each failover.
    sentinel.on("ready", () => this.#follow());
    this.connected = sentinel.connect().then(() => this.#moves).catch(_ignore);
  }

  /** PING the primary. */
  ping(): Promise<unknown> {
    return this.#sentinel.ping();
  }

  /** The primary, to set its notification flags, while connected. */
  configNodes(): Promise<ConfigurableNode[]> {
    return Promise.resolve(this.#sentinel.isReady ? [this.#sentinel] : []);
  }

  /** The primary, to sweep its keys, while connected. */
  keyNodes(): Promise<ScannableNode[]> {
    return Promise.resolve(this.#sentinel.isReady ? [this.#sentinel] : []);
  }

  /** Moves the subscriber to the primary the client now has, if it changed. */
  #follow(): void {
    this.#moves = this.#moves.then(() => this.#move()).catch(_ignore);
  }

  async #move(): Promise<void> {
    const primary = this.#sentinel.getMasterNode();
    if (primary === undefined) return;
    const address = `${primary.host}:${primary.port}`;
    if (address === this.#following) return;
    const { subscriber, notifications } = this.#options;
    const url = `redis://${this.#auth}${
      primary.host.includes(":") ? `[${primary.host}]` : primary.host
    }:${primary.port}/${databaseOf(this.#options.url)}`;
    await notifications.apply([this.#sentinel]);
    const before = subscriber.urls;
    if (before.length === 0) {
      await subscriber.subscribe([url]);
    } else {
      await subscriber.add(url);
      for (const old of before) if (old !== url) await subscriber.remove(old);
    }
    const first = this.#following === undefined;
    this.#following = address;
    if (!first) this.#options.onPrimaryChanged();
  }
}

/** What the store uses of node-redis's Sentinel client besides its commands. */
interface _Sentinel extends ConfigurableNode, ScannableNode {
  readonly isReady: boolean;
  ping(): Promise<unknown>;
  getMasterNode(): { host: string; port: number } | undefined;
}

function _ignore(): void {}
