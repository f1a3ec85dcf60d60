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
import { OPTION_SPECS } from "../option_defaults.ts";
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
  /** The primary in use, as `host:port`, and the Sentinels' configuration epoch that named it. */
  #primary: { address: string; epoch: number } | undefined;
  /** The subscriber's move to the primary in use. */
  #subscribed: Promise<void> = Promise.resolve();
  #asking: Promise<void> | undefined;
  #askAfter = false;
  #lastAsked = -Infinity;
  #askTimer: ReturnType<typeof setTimeout> | undefined;
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
    clearTimeout(this.#askTimer);
    await Promise.all(this.#watchers.map((watcher) => closeClient(watcher)));
  }

  #readyClient(): unknown[] {
    const current = this.#following.current;
    return current?.isReady ? [current] : [];
  }

  /** Asks until a primary is named, then connects and subscribes to it. */
  async #firstPrimary(): Promise<void> {
    while (!this.#closed && this.#primary === undefined) {
      await this.#ask();
      if (this.#primary === undefined) {
        await new Promise((resolve) => setTimeout(resolve, ASK_AGAIN_MS));
      }
    }
    await this.#subscribed;
  }

  /**
   * Hears `+switch-master` on `sentinel`, and asks at once: the answer with
   * the newest epoch wins, so a Sentinel that has not heard of the switch
   * yet can't send the store back. Asks again whenever it reconnects, since
   * a switch told while it was away is lost.
   */
  #watch(sentinel: SentinelAddress): void {
    const watcher = createClient({
      ...connectionOptions(),
      socket: { ...connectionOptions().socket, host: sentinel.host, port: sentinel.port },
    }) as RedisClientType;
    this.#watchers.push(watcher);
    watcher.on("error", _ignore);
    watcher.on("ready", () => this.#askAgain());
    watcher.connect().then(() =>
      watcher.subscribe("+switch-master", (message) => {
        if (message.split(" ")[0] !== this.#options.name) return;
        this.#lastAsked = -Infinity;
        this.#askAgain();
      })
    ).catch(_ignore);
  }

  /**
   * Asks the Sentinels again: once the answer awaited is in, or, when one
   * was had less than `ASK_AGAIN_MS` ago, then.
   */
  #askAgain(): void {
    if (this.#closed) return;
    if (this.#asking !== undefined) {
      this.#askAfter = true;
      return;
    }
    const wait = this.#lastAsked + ASK_AGAIN_MS - performance.now();
    if (wait <= 0) return void this.#ask().catch(_ignore);
    this.#askTimer ??= setTimeout(() => {
      this.#askTimer = undefined;
      this.#askAgain();
    }, wait);
  }

  /**
   * Asks every Sentinel for the primary, and moves to the one they name
   * (see {@linkcode namedPrimary}); when none names one before the first
   * primary, tells the command client's `error` listeners why.
   */
  #ask(): Promise<void> {
    this.#lastAsked = performance.now();
    const { sentinels, name } = this.#options;
    return this.#asking ??= (async () => {
      const answers = await Promise.allSettled(sentinels.map((s) => askSentinel(s, name)));
      const named: SentinelAnswer[] = [];
      let failure: unknown;
      for (const answer of answers) {
        if (answer.status === "rejected") failure ??= answer.reason;
        else if (answer.value === undefined) failure = new Error(`No such master with that name`);
        else named.push(answer.value);
      }
      const primary = namedPrimary(named, this.#primary?.address);
      if (primary !== undefined) this.#move(primary);
      else if (this.#primary === undefined && named.length === 0) this.#following.failed(failure);
    })().finally(() => {
      this.#asking = undefined;
      if (!this.#askAfter) return;
      this.#askAfter = false;
      this.#askAgain();
    });
  }

  /**
   * Moves the commands to `primary` at once, unless it is the one in use or
   * was named in an older epoch; the subscriber follows on its own.
   */
  #move(primary: SentinelAnswer): void {
    const address = `${primary.host}:${primary.port}`;
    if (this.#closed || primary.epoch < (this.#primary?.epoch ?? -Infinity)) return;
    if (address === this.#primary?.address) {
      this.#primary.epoch = primary.epoch;
      return;
    }
    const first = this.#primary === undefined;
    this.#primary = { address, epoch: primary.epoch };
    const primaryUrl = nodeUrl(this.#options.url, primary);
    const client = createClient({
      ...connectionOptions(),
      url: primaryUrl,
      disableOfflineQueue: true,
      name: "longpoll",
    }) as RedisClientType;
    client.on("ready", () => this.#options.notifications.apply([client]));
    // It may be down for good: the Sentinels may name another.
    client.on("error", () => this.#askAgain());
    const previous = this.#following.use(client as unknown as RedisCommands);
    // What the old primary still owes is lost with it, or refused (READONLY).
    if (previous?.isOpen) previous.destroy();
    client.connect().catch(_ignore);
    this.#subscribed = this.#subscribeTo(primaryUrl, first).catch(_ignore);
  }

  /**
   * Moves the subscriber to `url`, then has every held uid check again. A
   * node that never answers holds up no later move: that one closes it.
   */
  async #subscribeTo(url: string, first: boolean): Promise<void> {
    const { subscriber } = this.#options;
    const before = subscriber.urls;
    // The new node's entry is in place at once; its connection comes later.
    const adding = before.length === 0 ? subscriber.subscribe([url]) : subscriber.add(url);
    for (const old of before) if (old !== url) await subscriber.remove(old);
    await adding;
    if (!first) this.#options.onPrimaryChanged();
  }
}

/** What a Sentinel says of the primary: where it is, and the configuration epoch that put it there. */
export interface SentinelAnswer extends SentinelAddress {
  /** The `config-epoch`: a failover raises it. */
  readonly epoch: number;
  /**
   * False while the Sentinel sees that primary down, or fails it over: the
   * leader of a failover names the old primary, in the new epoch, until
   * the failover ends.
   */
  readonly settled: boolean;
}

/**
 * The primary the Sentinels name: of the settled answers, those of the
 * newest epoch, the address most of them give (the one in use on a tie);
 * undefined when no answer is settled.
 *
 * @example
 * ```ts
 * import { namedPrimary } from "./redis_sentinel.ts";
 * const answers = [
 *   { host: "10.0.0.1", port: 6379, epoch: 1, settled: false }, // the leader, failing it over
 *   { host: "10.0.0.2", port: 6379, epoch: 1, settled: true },
 *   { host: "10.0.0.1", port: 6379, epoch: 0, settled: true }, // not told yet
 * ];
 * console.log(namedPrimary(answers, "10.0.0.1:6379")?.host); // 10.0.0.2
 * ```
 */
export function namedPrimary(
  answers: readonly SentinelAnswer[],
  current: string | undefined,
): SentinelAnswer | undefined {
  const settled = answers.filter((answer) => answer.settled);
  const epoch = Math.max(...settled.map((answer) => answer.epoch));
  const votes = new Map<string, { answer: SentinelAnswer; count: number; inUse: boolean }>();
  for (const answer of settled.filter((candidate) => candidate.epoch === epoch)) {
    const address = `${answer.host}:${answer.port}`;
    const entry = votes.get(address) ?? { answer, count: 0, inUse: address === current };
    entry.count++;
    votes.set(address, entry);
  }
  const ranked = [...votes.values()].sort((a, b) => b.count - a.count || +b.inUse - +a.inUse);
  return ranked[0]?.answer;
}

/**
 * Asks `sentinel` for the primary it names for `name` (`SENTINEL MASTER`),
 * on a connection of its own; resolves undefined when it monitors none by
 * that name, and rejects when it can't be reached within 3 s.
 *
 * @example
 * ```ts ignore
 * import { askSentinel } from "./redis_sentinel.ts";
 * console.log(await askSentinel({ host: "10.0.0.5", port: 26379 }, "mymaster")); // { host: "10.0.0.7", port: 6379, epoch: 3 }
 * ```
 */
export async function askSentinel(
  sentinel: SentinelAddress,
  name: string,
): Promise<SentinelAnswer | undefined> {
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
    const reply = await client.sendCommand(["SENTINEL", "MASTER", name]).catch((error) => {
      if (/No such master/i.test(messageOf(error))) return undefined;
      throw error;
    });
    if (reply === undefined) return undefined;
    const fields = _fieldsOf(reply);
    return {
      host: fields.get("ip") ?? "",
      port: Number(fields.get("port")),
      epoch: Number(fields.get("config-epoch") ?? 0),
      settled: !/s_down|o_down|failover_in_progress/.test(fields.get("flags") ?? ""),
    };
  } finally {
    client.destroy();
  }
}

/** The fields of a `SENTINEL MASTER` reply, a RESP3 map (an object, as node-redis gives it). */
function _fieldsOf(reply: unknown): Map<string, string> {
  return new Map(Object.entries(reply ?? {}).map(([name, value]) => [name, String(value)]));
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
