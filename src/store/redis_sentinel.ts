/**
 * Redis Sentinel: the store's commands go to the primary that the
 * Sentinels name, and follow it through a failover; the keyspace
 * notification subscriber and the notification flags follow it too.
 *
 * @module
 */
import { createClient, type RedisClientType } from "redis";
import { connectionOptions, messageOf, type RedisCommands } from "./redis_connection.ts";
import { FollowingClient } from "./redis_following_client.ts";
import type { RedisStoreOptions } from "./redis_options.ts";
import { OPTION_SPECS } from "../options.ts";
import { closeClient } from "./redis_subscriber.ts";
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

/**
 * The Sentinels and the primary's name of the store's options, checked;
 * undefined without `sentinels`. Throws a TypeError on a bad address, an
 * empty name, or `nodes` given too.
 *
 * @example
 * ```ts
 * import { sentinelOptionsOf } from "./redis_sentinel.ts";
 * console.log(sentinelOptionsOf({ sentinels: ["s1:26379"] })); // { sentinels: [ { host: "s1", port: 26379 } ], name: "mymaster" }
 * console.log(sentinelOptionsOf({})); // undefined
 * ```
 */
export function sentinelOptionsOf(
  options: Pick<RedisStoreOptions, "sentinels" | "sentinelName" | "nodes">,
): { sentinels: SentinelAddress[]; name: string } | undefined {
  if (options.sentinels === undefined || options.sentinels.length === 0) return undefined;
  if ((options.nodes ?? []).length > 0) {
    throw new TypeError(
      'Cannot create RedisStore: "sentinels" and "nodes" exclude each other; Sentinel names one primary',
    );
  }
  const name = options.sentinelName ?? OPTION_SPECS.sentinelName.defaultValue;
  if (name === "") throw new TypeError('Cannot create RedisStore: "sentinelName" is empty');
  try {
    return { sentinels: options.sentinels.map(sentinelAddress), name };
  } catch (error) {
    throw new TypeError(`Cannot create RedisStore: "sentinels": ${messageOf(error)}`);
  }
}

/** Options of {@linkcode SentinelPrimary}. */
export interface SentinelPrimaryOptions {
  /**
   * The Redis URL whose user name, password and database apply to the
   * primary and its replicas; its host is not used.
   */
  readonly url: string;
  /** The Sentinels to ask, in this order. */
  readonly sentinels: readonly SentinelAddress[];
  /** The name the Sentinels monitor the primary under. */
  readonly name: string;
  /** Subscribes to the primary, and follows it. */
  readonly subscriber: RedisSubscriber;
  /** Sets the notification flags on the primary, at each (re)connect. */
  readonly notifications: NotificationSettings;
  /**
   * Told once the subscriber hears a newly promoted primary, so every held
   * uid checks again: pushes made meanwhile went unheard.
   */
  readonly onPrimaryChanged: () => void;
}

/**
 * While no Sentinel names a primary, or a command connection fails, the
 * Sentinels are asked again this often, at most.
 */
const ASK_AGAIN_MS = 250;

/**
 * The primary as the Sentinels name it, followed. It asks the Sentinels
 * (`SENTINEL GET-MASTER-ADDR-BY-NAME`) and connects; it hears
 * `+switch-master` on every Sentinel, and asks again when the command
 * connection fails or a write meets `READONLY` (a demoted primary). Once
 * another primary is named, commands go to it, the subscriber moves to it,
 * its notification flags are set, and `onPrimaryChanged` is told.
 *
 * @example
 * ```ts ignore
 * import { SentinelPrimary } from "./redis_sentinel.ts";
 * const primary = new SentinelPrimary({
 *   url: "redis://:secret@primary",
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
  /** Settles once connected and subscribed to a primary, or given up on. */
  readonly connected: Promise<unknown>;
  readonly #options: SentinelPrimaryOptions;
  readonly #following: FollowingClient;
  readonly #watchers: RedisClientType[] = [];
  /** The primary in use, as `host:port`. */
  #address: string | undefined;
  /** Serializes the moves from one primary to the next. */
  #moves: Promise<void> = Promise.resolve();
  #asking: Promise<void> | undefined;
  #lastAsked = 0;
  #closed = false;

  /** Starts asking the Sentinels. */
  constructor(options: SentinelPrimaryOptions) {
    this.#options = options;
    this.#following = new FollowingClient((error) => {
      if (/^READONLY/.test(messageOf(error))) this.#askAgain();
    });
    for (const sentinel of options.sentinels) this.#watch(sentinel);
    this.connected = this.#firstPrimary();
  }

  /** Where commands go: the primary of the moment. */
  get client(): RedisCommands {
    return this.#following.client;
  }

  /** PING the primary. */
  ping(): Promise<unknown> {
    return this.client.eval("return redis.call('PING')", { keys: [], arguments: [] });
  }

  /** The primary, to set or check its notification flags, while connected. */
  configNodes(): Promise<ConfigurableNode[]> {
    return Promise.resolve(this.#readyClient() as ConfigurableNode[]);
  }

  /** The primary, to sweep its keys, while connected. */
  keyNodes(): Promise<ScannableNode[]> {
    return Promise.resolve(this.#readyClient() as ScannableNode[]);
  }

  /** Stops following: closes the Sentinel connections; the store closes the command connection. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#watchers.map((watcher) => closeClient(watcher)));
  }

  #readyClient(): unknown[] {
    const current = this.#following.current;
    return current?.isReady ? [current] : [];
  }

  /** Asks until a primary is named, then connects and subscribes to it. */
  async #firstPrimary(): Promise<void> {
    while (!this.#closed && this.#address === undefined) {
      await this.#ask();
      if (this.#address === undefined) {
        await new Promise((resolve) => setTimeout(resolve, ASK_AGAIN_MS));
      }
    }
    await this.#moves;
  }

  /** Hears `+switch-master` on `sentinel`, and asks again whenever it reconnects. */
  #watch(sentinel: SentinelAddress): void {
    const watcher = createClient({
      ...connectionOptions(),
      socket: { ...connectionOptions().socket, host: sentinel.host, port: sentinel.port },
    }) as RedisClientType;
    this.#watchers.push(watcher);
    watcher.on("error", _ignore);
    // A switch told while it was away is found by asking.
    watcher.on("ready", () => this.#askAgain());
    watcher.connect().then(() =>
      watcher.subscribe("+switch-master", (message) => {
        const [name, , , host, port] = message.split(" ");
        if (name === this.#options.name) this.#moveTo({ host, port: Number(port) });
      })
    ).catch(_ignore);
  }

  /** Asks the Sentinels again, unless an answer is awaited or was had just now. */
  #askAgain(): void {
    if (this.#closed || this.#asking !== undefined) return;
    if (performance.now() - this.#lastAsked < ASK_AGAIN_MS) {
      setTimeout(() => this.#askAgain(), ASK_AGAIN_MS);
      return;
    }
    this.#ask().catch(_ignore);
  }

  /**
   * Asks each Sentinel in turn for the primary, and moves to the first one
   * named; when none names one, tells the command client's `error`
   * listeners why.
   */
  #ask(): Promise<void> {
    this.#lastAsked = performance.now();
    return this.#asking ??= (async () => {
      let failure: unknown;
      for (const sentinel of this.#options.sentinels) {
        try {
          const primary = await askSentinel(sentinel, this.#options.name);
          if (primary === undefined) {
            failure = new Error(`No such master with that name ("${this.#options.name}")`);
            continue;
          }
          return this.#moveTo(primary);
        } catch (error) {
          failure ??= error;
        }
      }
      this.#following.failed(failure);
    })().finally(() => this.#asking = undefined);
  }

  /** Moves to `primary`, after any move under way, unless it is the one in use. */
  #moveTo(primary: SentinelAddress): void {
    this.#moves = this.#moves.then(() => this.#move(primary)).catch(_ignore);
  }

  async #move(primary: SentinelAddress): Promise<void> {
    const address = `${primary.host}:${primary.port}`;
    if (this.#closed || address === this.#address) return;
    const first = this.#address === undefined;
    this.#address = address;
    const { subscriber, notifications, url } = this.#options;
    const primaryUrl = nodeUrl(url, primary);
    const client = createClient({
      ...connectionOptions(),
      url: primaryUrl,
      disableOfflineQueue: true,
      name: "longpoll",
    }) as RedisClientType;
    client.on("ready", () => notifications.apply([client]));
    // It may be down for good: the Sentinels may name another.
    client.on("error", () => this.#askAgain());
    const previous = this.#following.use(client as unknown as RedisCommands);
    if (previous !== undefined) await closeClient(previous);
    client.connect().catch(_ignore);
    const before = subscriber.urls;
    if (before.length === 0) await subscriber.subscribe([primaryUrl]);
    else {
      await subscriber.add(primaryUrl);
      for (const old of before) if (old !== primaryUrl) await subscriber.remove(old);
    }
    if (!first) this.#options.onPrimaryChanged();
  }
}

/**
 * Asks `sentinel` for the primary it names for `name`
 * (`SENTINEL GET-MASTER-ADDR-BY-NAME`), on a connection of its own;
 * resolves undefined when it monitors none by that name, and rejects when
 * it can't be reached within 3 s.
 *
 * @example
 * ```ts ignore
 * import { askSentinel } from "./redis_sentinel.ts";
 * console.log(await askSentinel({ host: "10.0.0.5", port: 26379 }, "mymaster")); // { host: "10.0.0.7", port: 6379 }
 * ```
 */
export async function askSentinel(
  sentinel: SentinelAddress,
  name: string,
): Promise<SentinelAddress | undefined> {
  const client = createClient({
    socket: {
      host: sentinel.host,
      port: sentinel.port,
      reconnectStrategy: false,
      connectTimeout: 3_000,
    },
  });
  client.on("error", _ignore); // the failed connect says why
  try {
    await client.connect();
    const reply = await client.sendCommand(["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name]);
    if (!Array.isArray(reply)) return undefined;
    return { host: String(reply[0]), port: Number(reply[1]) };
  } finally {
    client.destroy();
  }
}

/**
 * The URL of a node that Sentinel names: the user name, password and
 * database of `url`, at `node`.
 *
 * @example
 * ```ts
 * import { nodeUrl } from "./redis_sentinel.ts";
 * console.log(nodeUrl("redis://:s3cret@ignored:6379/2", { host: "10.0.0.7", port: 7000 })); // redis://:s3cret@10.0.0.7:7000/2
 * ```
 */
export function nodeUrl(url: string, node: SentinelAddress): string {
  const parsed = new URL(url);
  parsed.hostname = node.host.includes(":") ? `[${node.host}]` : node.host;
  parsed.port = String(node.port);
  return parsed.href;
}

function _ignore(): void {}
