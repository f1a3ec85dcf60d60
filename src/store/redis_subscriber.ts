/**
 * The store's listening side: subscriber connections that hear keyspace
 * notifications and the wake channel, and wake waiters through the uid map.
 *
 * @module
 */
import { createClient, type RedisClientType } from "redis";
import { connectionOptions } from "./redis_connection.ts";
import type { WaiterRegistry } from "./waiters.ts";

/** Options of {@linkcode RedisSubscriber}. */
export interface RedisSubscriberOptions {
  /** List key prefix: a notification for prefix + uid wakes that uid. */
  readonly keyPrefix: string;
  /** The channel on which `publish` announces a uid. */
  readonly wakeChannel: string;
  /** Key-event channels to hear, such as `__keyevent@0__:lpush`; none when off. */
  readonly keyEventChannels: readonly string[];
  /** Whom to wake. */
  readonly waiters: WaiterRegistry;
  /** Told of each LPUSH to a uid's list heard as a keyspace notification. */
  readonly onListPush?: (uid: string) => void;
}

/**
 * One subscriber connection per node URL, all feeding the uid map; the
 * first also hears the wake channel (a PUBLISH reaches every node of a
 * cluster). After a subscriber reconnects, every held uid checks again,
 * since notifications sent in the gap are gone.
 *
 * @example
 * ```ts ignore
 * import { RedisSubscriber } from "./redis_subscriber.ts";
 * import { WaiterRegistry } from "./waiters.ts";
 * const subscriber = new RedisSubscriber({
 *   keyPrefix: "Q/MSG",
 *   wakeChannel: "Q/MSG:wake",
 *   keyEventChannels: ["__keyevent@0__:lpush"],
 *   waiters: new WaiterRegistry(),
 * });
 * await subscriber.subscribe(["redis://127.0.0.1:6379"]);
 * await subscriber.close();
 * ```
 */
export class RedisSubscriber {
  readonly #options: RedisSubscriberOptions;
  /** By node URL; one of them hears the wake channel. */
  readonly #entries = new Map<string, { client: RedisClientType; wake: boolean }>();
  readonly #listener: (message: string, channel: string) => void;
  #subscribed = false;

  /** Connects nothing yet: see {@linkcode RedisSubscriber.subscribe}. */
  constructor(options: RedisSubscriberOptions) {
    this.#options = options;
    const { keyPrefix, wakeChannel, waiters, onListPush } = options;
    this.#listener = (message, channel) => {
      if (channel === wakeChannel) return waiters.wake(message);
      if (!message.startsWith(keyPrefix)) return;
      const uid = message.slice(keyPrefix.length);
      waiters.wake(uid);
      if (channel.endsWith(":lpush")) onListPush?.(uid);
    };
  }

  /** True once subscribed and while every subscriber connection is up. */
  get ready(): boolean {
    return this.#subscribed && [...this.#entries.values()].every((entry) => entry.client.isReady);
  }

  /** The node URLs subscribed to. */
  get urls(): string[] {
    return [...this.#entries.keys()];
  }

  /** Connects to each of `urls` and subscribes; then wakes every waiter once. */
  async subscribe(urls: readonly string[]): Promise<void> {
    await Promise.all(urls.map((url, index) => this.#add(url, index === 0)));
    this.#subscribed = true;
    // Polls held before the subscriptions were in place may have missed a push.
    this.#options.waiters.wakeAll();
  }

  /**
   * Subscribes to one more node, such as a newly promoted master; this
   * counts as subscribed even if the first {@linkcode RedisSubscriber.subscribe}
   * never got through (its node was replaced first).
   */
  async add(url: string): Promise<void> {
    if (this.#entries.has(url)) return;
    const wake = ![...this.#entries.values()].some((entry) => entry.wake);
    await this.#add(url, wake);
    this.#subscribed = true;
  }

  /**
   * Stops hearing a node, such as a master that failed over. If it heard
   * the wake channel, another node hears it from now on.
   */
  async remove(url: string): Promise<void> {
    const entry = this.#entries.get(url);
    if (entry === undefined) return;
    this.#entries.delete(url);
    await closeClient(entry.client);
    const heir = this.#entries.values().next().value;
    if (!entry.wake || heir === undefined) return;
    heir.wake = true;
    await heir.client.subscribe(this.#options.wakeChannel, this.#listener).catch(_ignore);
    // Without notifications, wakes sent meanwhile were heard by nobody.
    if (this.#options.keyEventChannels.length === 0) this.#options.waiters.wakeAll();
  }

  /** Closes every subscriber connection, or stops its reconnecting. */
  async close(): Promise<void> {
    await Promise.all([...this.#entries.values()].map((entry) => closeClient(entry.client)));
  }

  async #add(url: string, wake: boolean): Promise<void> {
    const { wakeChannel, keyEventChannels, waiters } = this.#options;
    const client = createClient({
      ...connectionOptions(),
      url,
      name: "longpoll-subscriber",
    }) as RedisClientType;
    this.#entries.set(url, { client, wake });
    client.on("error", _ignore);
    let readyBefore = false;
    client.on("ready", () => {
      if (readyBefore) waiters.wakeAll();
      readyBefore = true;
    });
    await client.connect();
    const channels = [...(wake ? [wakeChannel] : []), ...keyEventChannels];
    if (channels.length > 0) await client.subscribe(channels, this.#listener);
  }
}

/**
 * Closes a connected client gracefully, after its replies; tears down one
 * still trying to connect, which also stops its retries.
 *
 * @example
 * ```ts
 * import { createClient } from "redis";
 * import { closeClient } from "./redis_subscriber.ts";
 * await closeClient(createClient()); // never connected: nothing to do
 * ```
 */
export async function closeClient(
  client: { isReady: boolean; isOpen: boolean; close(): Promise<void>; destroy(): void },
): Promise<void> {
  if (client.isReady) await client.close().catch(_ignore);
  else if (client.isOpen) client.destroy();
}

function _ignore(): void {}
