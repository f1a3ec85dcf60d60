/**
 * The store's connections to Redis: one command connection to a single
 * Redis, or a cluster client; and the subscribers and notification flags
 * of every node that makes keyspace notifications.
 *
 * @module
 */
import { createClient, createCluster, type RedisClientType } from "redis";
import { connectionOptions, credentialsOf, type RedisCommands } from "./redis_connection.ts";
import type { ConfigurableNode, NotificationSettings } from "./redis_notifications.ts";
import type { RedisSubscriber } from "./redis_subscriber.ts";

/** Options of {@linkcode RedisTopology}. */
export interface RedisTopologyOptions {
  /** The Redis URL; on a cluster, the first node's, whose credentials all share. */
  readonly url: string;
  /** Cluster nodes; none for a single Redis. */
  readonly nodes: readonly string[];
  /** Subscribes to each node that makes notifications. */
  readonly subscriber: RedisSubscriber;
  /** Sets the notification flags on each such node. */
  readonly notifications: NotificationSettings;
}

interface _Cluster<Master> {
  connect(): Promise<unknown>;
  readonly masters: Master[];
  nodeClient(master: Master): Promise<unknown>;
}

/**
 * Opens the connections and keeps them: a single Redis gets its flags set
 * at each (re)connect; a cluster gets a subscriber and its flags on every
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

  /** Starts connecting. */
  constructor(options: RedisTopologyOptions) {
    const { url, nodes, subscriber, notifications } = options;
    const connection = connectionOptions();
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
    });
    this.client = cluster as unknown as RedisCommands;
    const masterClients = () =>
      Promise.all(cluster.masters.map((master) => cluster.nodeClient(master)));
    this.#ping = async () => {
      await Promise.all((await masterClients()).map((client) => client.ping()));
    };
    this.#configNodes = masterClients as () => Promise<ConfigurableNode[]>;
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

  /** Cluster: connect, then subscribe to and configure every master. */
  async #startCluster<Master extends { host: string; port: number }>(
    cluster: _Cluster<Master>,
    options: RedisTopologyOptions,
  ): Promise<void> {
    await cluster.connect();
    const { username, password } = credentialsOf(options.url);
    const auth = username || password
      ? `${encodeURIComponent(username ?? "")}:${encodeURIComponent(password ?? "")}@`
      : "";
    await options.subscriber.subscribe(
      cluster.masters.map((master) => `redis://${auth}${master.host}:${master.port}`),
    );
    await options.notifications.apply(await this.configNodes());
  }
}

function _ignore(): void {}
