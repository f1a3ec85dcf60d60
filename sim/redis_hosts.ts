/**
 * Redis on the simulation's hosts: `redis-server` processes started inside
 * a host's namespace, listening on its address, and a Redis Cluster of three
 * masters with one replica each spread over three hosts so that no master
 * shares a host with its own replica.
 *
 * @module
 */
import { type ChildProcess, startProcess } from "../testing/serve_process.ts";
import { waitUntil } from "../testing/wait_until.ts";
import { type Host, inHost, run } from "./netns.ts";

/** The port of the first Redis on a host; a second one takes the next. */
export const REDIS_PORT = 7000;

/** A redis-server running on a simulated host. */
export interface RedisNode extends AsyncDisposable {
  readonly host: Host;
  readonly port: number;
  /** `<ip>:<port>`. */
  readonly address: string;
  /** The running process (a new one after {@linkcode RedisNode.start}). */
  readonly process: ChildProcess;
  /** Starts it again after it was killed: same port, same data folder (so a cluster node rejoins). */
  start(): Promise<void>;
  /** Runs `redis-cli -h <ip> -p <port> ...args` from the node's host and returns its output, trimmed. */
  cli(...args: string[]): Promise<string>;
}

/** Redis nodes that together are the store; disposing kills them. */
export interface RedisGroup extends AsyncDisposable {
  /** `cluster` or `sentinel`. */
  readonly topology: string;
  /** The data nodes (not the Sentinels). */
  readonly nodes: readonly RedisNode[];
  /** What tells the app processes where Redis is: `REDIS_URL`, or `REDIS_SENTINELS` and `REDIS_SENTINEL_NAME`. */
  readonly appEnv: Record<string, string>;
  /** What tells the producer where Redis is: `--redis=…` or `--sentinels=…`. */
  readonly producerArgs: string[];
}

/** Options of {@linkcode startRedisNode}. */
export interface RedisNodeOptions {
  /** More `redis-server` arguments. */
  args?: readonly string[];
  /** A configuration file's text, written to the node's folder and given first (a Sentinel needs one it can rewrite). */
  configText?: string;
}

/**
 * Starts `redis-server` in `host`'s namespace on `port`, keeping nothing on
 * disk, and resolves once it says it is ready.
 *
 * @example
 * ```ts ignore
 * await using node = await startRedisNode(network.host("redis1"), REDIS_PORT);
 * console.log(await node.cli("PING")); // PONG
 * ```
 */
export async function startRedisNode(
  host: Host,
  port: number,
  options: RedisNodeOptions = {},
): Promise<RedisNode> {
  const dir = await Deno.makeTempDir({ prefix: `lpsim-redis-${host.name}-${port}-` });
  const config = options.configText === undefined ? [] : [`${dir}/redis.conf`];
  if (options.configText !== undefined) await Deno.writeTextFile(config[0], options.configText);
  const start = () =>
    startProcess({
      command: "ip",
      args: inHost(host, [
        "redis-server",
        ...config,
        "--port",
        String(port),
        "--bind",
        host.ip,
        "--protected-mode",
        "no",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
        ...(options.args ?? []),
      ]),
      env: {},
      ready: /Ready to accept connections|Sentinel ID is/,
    });
  let process = await start();
  return {
    host,
    port,
    address: `${host.ip}:${port}`,
    get process() {
      return process;
    },
    async start() {
      process = await start();
    },
    cli: async (...args) =>
      (await run(inHost(host, ["redis-cli", "-h", host.ip, "-p", String(port), ...args]))).trim(),
    async [Symbol.asyncDispose]() {
      await process[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * A Redis Cluster of `hosts.length` masters, one per host on
 * {@linkcode REDIS_PORT}, each with a replica on the next host (port + 1).
 * Resolves once every node says `cluster_state:ok` and every replica is in
 * sync.
 *
 * @example
 * ```ts ignore
 * await using cluster = await startRedisClusterOnHosts(hosts, 2000);
 * console.log(cluster.appEnv.REDIS_URL); // redis://10.77.0.15:7000,…
 * ```
 */
export async function startRedisClusterOnHosts(
  hosts: readonly Host[],
  nodeTimeoutMs: number,
): Promise<RedisGroup> {
  const nodes: RedisNode[] = [];
  const dispose = async () => {
    for (const node of nodes) await node[Symbol.asyncDispose]();
  };
  try {
    const args = ["--cluster-enabled", "yes", "--cluster-node-timeout", String(nodeTimeoutMs)];
    for (const port of [REDIS_PORT, REDIS_PORT + 1]) {
      for (const host of hosts) nodes.push(await startRedisNode(host, port, { args }));
    }
    const masters = nodes.slice(0, hosts.length);
    await run(inHost(hosts[0], [
      "redis-cli",
      "--cluster",
      "create",
      ...masters.map((node) => node.address),
      "--cluster-yes",
    ]));
    // Each replica follows the master of the host before it, never its own host's.
    for (const [i, replica] of nodes.slice(hosts.length).entries()) {
      const master = masters[(i + hosts.length - 1) % hosts.length];
      await replica.cli("CLUSTER", "MEET", master.host.ip, String(master.port));
      const masterId = await master.cli("CLUSTER", "MYID");
      await waitUntil(async () => (await replica.cli("CLUSTER", "NODES")).includes(masterId), {
        what: `${replica.address} to know ${master.address}`,
        timeoutMs: 20_000,
        intervalMs: 100,
      });
      await replica.cli("CLUSTER", "REPLICATE", masterId);
    }
    for (const node of nodes) {
      await waitUntil(async () => {
        const info = await node.cli("CLUSTER", "INFO");
        const replication = await node.cli("INFO", "replication");
        return info.includes("cluster_state:ok") &&
          !/role:slave(?![^]*master_link_status:up)/.test(replication);
      }, { what: `${node.address} to be in the cluster and in sync`, timeoutMs: 30_000 });
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  const redisUrl = nodes.slice(0, hosts.length).map((node) => `redis://${node.address}`).join(",");
  return {
    topology: "cluster",
    nodes,
    appEnv: { REDIS_URL: redisUrl },
    producerArgs: [`--redis=${redisUrl}`],
    [Symbol.asyncDispose]: dispose,
  };
}

/** The port of a host's Sentinel. */
export const SENTINEL_PORT = 26379;
/** The name the Sentinels monitor the primary under. */
export const SENTINEL_NAME = "mymaster";

/**
 * A primary on the first host, a replica on each other host, and a Sentinel
 * on every host (quorum: a majority), with `down-after-milliseconds`
 * `downAfterMs`. Resolves once the replicas are in sync and every Sentinel
 * knows every replica and every other Sentinel.
 *
 * @example
 * ```ts ignore
 * await using set = await startRedisSentinelOnHosts(hosts, 2000);
 * console.log(set.appEnv.REDIS_SENTINEL_NAME); // mymaster
 * ```
 */
export async function startRedisSentinelOnHosts(
  hosts: readonly Host[],
  downAfterMs: number,
): Promise<RedisGroup> {
  const nodes: RedisNode[] = [];
  const sentinels: RedisNode[] = [];
  const dispose = async () => {
    for (const node of [...sentinels, ...nodes]) await node[Symbol.asyncDispose]();
  };
  try {
    nodes.push(await startRedisNode(hosts[0], REDIS_PORT));
    for (const host of hosts.slice(1)) {
      nodes.push(
        await startRedisNode(host, REDIS_PORT, {
          args: ["--replicaof", hosts[0].ip, String(REDIS_PORT)],
        }),
      );
    }
    for (const replica of nodes.slice(1)) {
      await waitUntil(
        async () => /master_link_status:up/.test(await replica.cli("INFO", "replication")),
        {
          what: `${replica.address} to be in sync`,
          timeoutMs: 20_000,
        },
      );
    }
    const configText = [
      `sentinel monitor ${SENTINEL_NAME} ${hosts[0].ip} ${REDIS_PORT} ${
        Math.floor(hosts.length / 2) + 1
      }`,
      `sentinel down-after-milliseconds ${SENTINEL_NAME} ${downAfterMs}`,
      `sentinel failover-timeout ${SENTINEL_NAME} ${downAfterMs * 3}`,
      "",
    ].join("\n");
    for (const host of hosts) {
      sentinels.push(
        await startRedisNode(host, SENTINEL_PORT, { configText, args: ["--sentinel"] }),
      );
    }
    for (const sentinel of sentinels) {
      await waitUntil(async () => {
        const fields = (await sentinel.cli("SENTINEL", "MASTER", SENTINEL_NAME)).split("\n");
        const field = (key: string) => fields[fields.indexOf(key) + 1];
        return field("num-slaves") === String(nodes.length - 1) &&
          field("num-other-sentinels") === String(sentinels.length - 1 || hosts.length - 1);
      }, { what: `the Sentinel ${sentinel.address} to know the others`, timeoutMs: 30_000 });
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  const addresses = sentinels.map((sentinel) => sentinel.address).join(",");
  return {
    topology: "sentinel",
    nodes,
    appEnv: { REDIS_SENTINELS: addresses, REDIS_SENTINEL_NAME: SENTINEL_NAME },
    producerArgs: [`--sentinels=${addresses}`, `--name=${SENTINEL_NAME}`],
    [Symbol.asyncDispose]: dispose,
  };
}

/**
 * The nodes among `nodes` whose `ROLE` is master; a node that does not answer is none.
 *
 * @example
 * ```ts ignore
 * console.log((await mastersAmong(cluster.nodes)).length); // 3
 * ```
 */
export async function mastersAmong(nodes: readonly RedisNode[]): Promise<RedisNode[]> {
  const roles = await Promise.all(nodes.map((node) => node.cli("ROLE").catch(() => "")));
  return nodes.filter((_, i) => roles[i].startsWith("master"));
}
