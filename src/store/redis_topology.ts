/**
 * The store's connections to Redis: one command connection to a single
 * Redis, or to the primary that Redis Sentinel names, or a cluster client;
 * and the subscribers and notification flags
 * of every node that makes keyspace notifications.
 *
 * @module
 */
import { createClient, createCluster, type RedisClientType } from "redis";
import { connectionOptions, credentialsOf, type RedisCommands } from "./redis_connection.ts";
import type { ConfigurableNode, NotificationSettings } from "./redis_notifications.ts";
import type { RedisSubscriber } from "./redis_subscriber.ts";
import type { ScannableNode } from "./redis_limits_sweep.ts";
import { keySlot } from "./redis_keys.ts";
import { type SentinelAddress, SentinelPrimary } from "./redis_sentinel.ts";

/** Options of {@linkcode RedisTopology}. */
export interface RedisTopologyOptions {
  /** The Redis URL; on a cluster, the first node's, whose credentials all share. */
  readonly url: string;
  /** Cluster nodes; none for a single Redis. */
  readonly nodes: readonly string[];
  /**
   * Redis Sentinel: some of the Sentinels, and the name they monitor the
   * primary under; `url` then gives only the credentials and database.
   */
  readonly sentinel?: { readonly sentinels: readonly SentinelAddress[]; readonly name: string };
  /** Subscribes to each node that makes notifications. */
  readonly subscriber: RedisSubscriber;
  /** Sets the notification flags on each such node. */
  readonly notifications: NotificationSettings;
  /**
   * Cluster: told when masters were added (a replica promoted, a node
   * joined), once they are configured and subscribed to, with a test of
   * whether a key is in their slots, so its held uids check again. With
   * Sentinel, told when a promoted primary is followed, every key its own.
   */
  readonly onMastersAdded?: (owns: (key: string) => boolean) => void;
}

/**
 * How often a cluster's masters, as the cluster client knows them, are
 * compared with those subscribed to; a local check, no command.
 */
const WATCH_MASTERS_MS = 250;
/**
 * While a node is unreachable, the cluster client reads the topology again
 * this long after its first reconnection attempt, and again after each
 * such wait, so a promoted replica is found within about a second.
 */
const REFRESH_WHILE_RECONNECTING_MS = 500;

interface _Node {
  readonly host: string;
  readonly port: number;
}

interface _Cluster<Master extends _Node> {
  connect(): Promise<unknown>;
  readonly masters: Master[];
  readonly replicas: _Node[];
  nodeClient(node: Master | _Node): Promise<unknown>;
  getSlotMaster(slot: number): _Node;
}

/**
 * Opens the connections and keeps them: a single Redis gets its flags set
 * at each (re)connect; the primary Sentinel names gets them at each
 * failover, and the subscriber follows it; a cluster gets a subscriber and its flags on every
 * master.
 *
 * @example
 * ```ts ignore
 * import { RedisTopology } from "./redis_topology.ts";
 * const topology = new RedisTopology({ url, nodes: [], subscriber, notifications });
 * await topology.connected;
 * await topology.ping();
 * ```
 */
export class RedisTopology {
  /** Where commands go. */
  readonly client: RedisCommands;
  /** Settles once connected and subscribed, or given up on. */
  readonly connected: Promise<unknown>;
  readonly #ping: () => Promise<unknown>;
  readonly #configNodes: () => Promise<ConfigurableNode[]>;
  readonly #keyNodes: () => Promise<ScannableNode[]>;
  #watchTimer: ReturnType<typeof setInterval> | undefined;
  #stop: () => Promise<void> = () => Promise.resolve();
  #watching = false;

  /** Starts connecting. */
  constructor(options: RedisTopologyOptions) {
    const { url, nodes, subscriber, notifications } = options;
    const connection = connectionOptions();
    if (options.sentinel !== undefined) {
      const primary = new SentinelPrimary({
        ...options.sentinel,
        url,
        subscriber,
        notifications,
        onPrimaryChanged: () => options.onMastersAdded?.(() => true),
      });
      this.client = primary.client;
      this.#ping = () => primary.ping();
      this.#configNodes = () => primary.configNodes();
      this.#keyNodes = () => primary.keyNodes();
      this.connected = primary.connected;
      this.#stop = () => primary.close();
      return;
    }
    if (nodes.length === 0) {
      const client = createClient({
        ...connection,
        url,
        disableOfflineQueue: true,
        name: "longpoll",
      }) as RedisClientType;
      client.on("ready", () => notifications.apply([client]));
      this.client = client;
      this.#ping = () => client.ping();
      this.#configNodes = () => Promise.resolve(client.isReady ? [client] : []);
      this.#keyNodes = () => Promise.resolve(client.isReady ? [client] : []);
      this.connected = Promise.all([
        client.connect().catch(_ignore),
        subscriber.subscribe([url]).catch(_ignore),
      ]);
      return;
    }
    const { username, password } = credentialsOf(url);
    const cluster = createCluster({
      rootNodes: nodes.map((node) => ({ url: node })),
      defaults: { ...connection, username, password, disableOfflineQueue: true },
      commandOptions: connection.commandOptions,
      topologyRefreshOnReconnectionAttemptStrategy: REFRESH_WHILE_RECONNECTING_MS,
    });
    this.client = cluster as unknown as RedisCommands;
    const masterClients = () =>
      Promise.all(cluster.masters.map((master) => cluster.nodeClient(master)));
    this.#keyNodes = masterClients as () => Promise<ScannableNode[]>;
    this.#ping = async () => {
      await Promise.all((await masterClients()).map((client) => client.ping()));
    };
    // Replicas get the flags too, so a promoted one makes notifications at once.
    this.#configNodes = () =>
      Promise.all(
        [...cluster.masters, ...cluster.replicas].map((node) => cluster.nodeClient(node)),
      ) as Promise<ConfigurableNode[]>;
    this.connected = this.#startCluster(cluster, options).catch(_ignore);
  }

  /** PING: the single Redis, or every master. */
  ping(): Promise<unknown> {
    return this.#ping();
  }

  /** The nodes whose notification flags matter, connected. */
  configNodes(): Promise<ConfigurableNode[]> {
    return this.#configNodes();
  }

  /** The nodes that hold keys, connected: the single Redis, or every master. */
  keyNodes(): Promise<ScannableNode[]> {
    return this.#keyNodes();
  }

  /** Stops following a cluster's topology, or the primary Sentinel names. */
  async close(): Promise<void> {
    clearInterval(this.#watchTimer);
    await this.#stop();
  }

  /**
   * Cluster: connect, then subscribe to and configure every master; then
   * follow the masters as they change.
   */
  async #startCluster<Master extends _Node>(
    cluster: _Cluster<Master>,
    options: RedisTopologyOptions,
  ): Promise<void> {
    await cluster.connect();
    const { username, password } = credentialsOf(options.url);
    const auth = username || password
      ? `${encodeURIComponent(username ?? "")}:${encodeURIComponent(password ?? "")}@`
      : "";
    const urlOf = (node: _Node) => `redis://${auth}${node.host}:${node.port}`;
    await options.subscriber.subscribe(cluster.masters.map(urlOf));
    await options.notifications.apply(await this.configNodes());
    this.#watchTimer = setInterval(() => {
      if (this.#watching) return;
      this.#watching = true;
      this.#followMasters(cluster, options, urlOf).catch(_ignore).finally(() => {
        this.#watching = false;
      });
    }, WATCH_MASTERS_MS);
  }

  /**
   * Subscribes to masters the cluster client learnt of (with their flags
   * set), stops hearing those it dropped, and has the held uids in the new
   * masters' slots check again, since pushes made meanwhile went unheard.
   */
  async #followMasters<Master extends _Node>(
    cluster: _Cluster<Master>,
    options: RedisTopologyOptions,
    urlOf: (node: _Node) => string,
  ): Promise<void> {
    const { subscriber, notifications } = options;
    const masters = new Map(cluster.masters.map((master) => [urlOf(master), master]));
    const subscribed = new Set(subscriber.urls);
    const added = [...masters].filter(([url]) => !subscribed.has(url));
    for (const url of subscribed) if (!masters.has(url)) await subscriber.remove(url);
    if (added.length === 0) return;
    for (const [url, master] of added) {
      await notifications.apply([await cluster.nodeClient(master) as ConfigurableNode]);
      await subscriber.add(url);
    }
    const addedUrls = new Set(added.map(([url]) => url));
    options.onMastersAdded?.((key) => addedUrls.has(urlOf(cluster.getSlotMaster(keySlot(key)))));
  }
}

function _ignore(): void {}
