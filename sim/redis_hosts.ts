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
  readonly nodes: readonly RedisNode[];
  /** The `REDIS_URL` the app processes get. */
  readonly redisUrl: string;
}

/**
 * Starts `redis-server` in `host`'s namespace on `port` with `extraArgs`,
 * keeping nothing on disk, and resolves once it says it is ready.
 */
export async function startRedisNode(
  host: Host,
  port: number,
  extraArgs: readonly string[] = [],
): Promise<RedisNode> {
  const dir = await Deno.makeTempDir({ prefix: `lpsim-redis-${host.name}-${port}-` });
  const start = () =>
    startProcess({
      command: "ip",
      args: inHost(host, [
        "redis-server",
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
        ...extraArgs,
      ]),
      env: {},
      ready: /Ready to accept connections/,
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
      for (const host of hosts) nodes.push(await startRedisNode(host, port, args));
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
  return {
    nodes,
    redisUrl: nodes.slice(0, hosts.length).map((node) => `redis://${node.address}`).join(","),
    [Symbol.asyncDispose]: dispose,
  };
}

/** The node whose `ROLE` is master among `nodes`, for the slots `key` hashes to. */
export async function masterOf(nodes: readonly RedisNode[], key: string): Promise<RedisNode> {
  for (const node of nodes) {
    if (!(await node.cli("ROLE")).startsWith("master")) continue;
    if (!(await node.cli("EXISTS", key)).includes("MOVED")) return node;
  }
  throw new Error(`Cannot find the master of "${key}"`);
}

/** The replica of `master` among `nodes`, by its `ROLE`. */
export async function replicaOf(
  nodes: readonly RedisNode[],
  master: RedisNode,
): Promise<RedisNode> {
  for (const node of nodes) {
    const role = await node.cli("ROLE");
    if (role.startsWith(`slave\n${master.host.ip}\n${master.port}\n`)) return node;
  }
  throw new Error(`Cannot find a replica of ${master.address}`);
}
