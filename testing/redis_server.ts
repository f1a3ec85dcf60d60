/**
 * Starts real `redis-server` processes on free loopback ports, for tests and
 * the bench: a single server that can be stopped and started again (for
 * outage tests), a Redis Cluster of several, or a primary with replicas and
 * Sentinels. `await using` stops them and
 * removes their data.
 *
 * @module
 */
import { freePort } from "./free_port.ts";
import { pollUntil, sleep, waitUntil } from "./wait_until.ts";

/** Options of {@linkcode startRedisServer}. */
export interface RedisServerOptions {
  /**
   * More `redis-server` arguments, e.g. `["--requirepass", "secret"]` or
   * `["--rename-command", "CONFIG", ""]`.
   */
  extraArgs?: readonly string[];
  /**
   * Keep data over a stop and start: AOF on, synced on every write. Off, the
   * server keeps nothing on disk (what the bench wants).
   * @default {true}
   */
  persistent?: boolean;
  /**
   * Folder for its data and its log (`redis.log`), in a `redis-<port>`
   * subfolder that is kept. Without it, a fresh temporary folder that
   * disposing removes.
   */
  dir?: string;
  /**
   * A config file for it, written to its data folder and read first: a
   * Sentinel's (`extraArgs: ["--sentinel"]`) needs one, as it rewrites it.
   */
  configText?: string;
}

/** A running redis-server. */
export interface RedisServer extends AsyncDisposable {
  /** Its port on 127.0.0.1 (another one than first picked when that was taken meanwhile). */
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Process id of the current process; 0 while stopped. */
  readonly pid: number;
  /** Folder of its data and its log. */
  readonly dir: string;
  /** Runs `redis-cli -p <port> ...args` and returns its output, trimmed. */
  cli(...args: string[]): Promise<string>;
  /** Stops it (`SHUTDOWN NOSAVE`) and waits for the process to exit. */
  stop(): Promise<void>;
  /** Starts it again after {@linkcode RedisServer.stop}: same port, same data folder. */
  start(): Promise<void>;
}

/**
 * Starts `redis-server` on a free port of 127.0.0.1 and waits until it
 * answers PING (or, with `--requirepass`, refuses it for want of a password).
 * The port was free a moment ago, but another process may take it first: the
 * server then exits at once, and the first start tries another port, up to 3
 * times. A start after a stop keeps the port.
 *
 * @example
 * ```ts ignore
 * import { startRedisServer } from "./redis_server.ts";
 * await using redis = await startRedisServer();
 * await redis.cli("LPUSH", "Q/MSG42", "hi");
 * await redis.stop();
 * await redis.start();
 * console.log(await redis.cli("LPOP", "Q/MSG42")); // hi
 * ```
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  let port = freePort();
  const owned = options.dir === undefined;
  const dir = owned
    ? await Deno.makeTempDir({ prefix: "longpoll-redis-" })
    : `${options.dir}/redis-${port}`;
  await Deno.mkdir(dir, { recursive: true });
  const persistence = options.persistent === false
    ? ["--appendonly", "no"]
    : ["--appendonly", "yes", "--appendfsync", "always"];
  const config = options.configText === undefined ? [] : [`${dir}/redis.conf`];
  if (options.configText !== undefined) await Deno.writeTextFile(config[0], options.configText);
  const args = () => [
    ...config,
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    ...persistence,
    "--dir",
    dir,
    "--logfile",
    "redis.log",
    ...(options.extraArgs ?? []),
  ];
  let process: Deno.ChildProcess | undefined;
  const kill = async () => {
    if (process === undefined) return;
    try {
      process.kill("SIGKILL");
    } catch {
      // already gone
    }
    await process.status;
    process = undefined;
  };
  /** Starts the process; with `newPortOnClash`, a server that exits at once gets another port. */
  const launch = async (newPortOnClash: boolean) => {
    if (process !== undefined) throw new Error(`Cannot start redis-server: port ${port} runs one`);
    for (let attempt = 1;; attempt++) {
      const child = process = new Deno.Command("redis-server", {
        args: args(),
        stdout: "null",
        stderr: "null",
      }).spawn();
      let exited = false;
      child.status.then(() => exited = true);
      const up = await pollUntil(async () => exited || await _answersPing(port), {
        timeoutMs: 10_000,
        intervalMs: 20,
      });
      // A server that lost the port to another process exits right after.
      if (up && !exited) await sleep(20);
      if (up && !exited) return;
      await kill();
      if (!exited || !newPortOnClash || attempt === 3) {
        throw new Error(
          `Cannot start redis-server on port ${port}: ${
            exited ? "it exited at once" : "no answer to PING within 10 s"
          }; log:\n${await _tail(`${dir}/redis.log`)}`,
        );
      }
      port = freePort();
    }
  };
  const cli = async (...cliArgs: string[]) => {
    const output = await new Deno.Command("redis-cli", {
      args: ["-p", String(port), ...cliArgs],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(output.stdout).trim();
  };
  await launch(true);
  return {
    get port() {
      return port;
    },
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    get pid() {
      return process?.pid ?? 0;
    },
    dir,
    cli,
    async stop() {
      await cli("SHUTDOWN", "NOSAVE").catch(() => {});
      await process?.status;
      process = undefined;
    },
    start: () => launch(false),
    async [Symbol.asyncDispose]() {
      await kill();
      if (owned) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** A running Redis Cluster of several redis-server processes. */
export interface RedisCluster extends AsyncDisposable {
  /** Its nodes: the masters first, then their replicas. */
  readonly nodes: RedisServer[];
  /** `redis://127.0.0.1:<port>` of each node. */
  readonly urls: string[];
  /** Runs a redis-cli command in cluster mode (`-c`, following redirects) on the first node. */
  cli(...args: string[]): Promise<string>;
}

/** Options of {@linkcode startRedisCluster}. */
export interface RedisClusterOptions {
  /** Replicas per master. @default {0} */
  replicas?: number;
  /** `cluster-node-timeout`, in ms: how soon a dead master is failed over. */
  nodeTimeoutMs?: number;
}

/**
 * Starts `masters` masters (and their replicas) and joins them into one
 * cluster with every slot covered; resolves once each node says
 * `cluster_state:ok` and each replica is in sync with its master.
 *
 * @example
 * ```ts ignore
 * import { startRedisCluster } from "./redis_server.ts";
 * await using cluster = await startRedisCluster(3, { replicas: 1, nodeTimeoutMs: 1000 });
 * await cluster.cli("LPUSH", "Q/MSG42", "hi");
 * console.log(cluster.urls.length); // 6
 * ```
 */
export async function startRedisCluster(
  masters = 3,
  options: RedisClusterOptions = {},
): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  const replicas = options.replicas ?? 0;
  const timeout = options.nodeTimeoutMs === undefined
    ? []
    : ["--cluster-node-timeout", String(options.nodeTimeoutMs)];
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      nodes.push(
        await startRedisServer({
          extraArgs: [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            ...timeout,
          ],
        }),
      );
    }
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    const created = await new Deno.Command("redis-cli", {
      args: [
        "--cluster",
        "create",
        ...addresses,
        "--cluster-replicas",
        String(replicas),
        "--cluster-yes",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!created.success) {
      throw new Error(`Cannot create the cluster: ${new TextDecoder().decode(created.stderr)}`);
    }
    for (const node of nodes) {
      await waitUntil(
        async () => (await node.cli("CLUSTER", "INFO")).includes("cluster_state:ok"),
        {
          what: `cluster_state:ok on port ${node.port}`,
          timeoutMs: 20_000,
          intervalMs: 50,
        },
      );
      // A replica counts once it is in sync with its master.
      await waitUntil(
        async () =>
          !/role:slave(?![^]*master_link_status:up)/.test(await node.cli("INFO", "replication")),
        {
          what: `the replica on port ${node.port} to be in sync`,
          timeoutMs: 20_000,
          intervalMs: 50,
        },
      );
    }
  } catch (error) {
    for (const node of nodes) await node[Symbol.asyncDispose]();
    throw error;
  }
  return {
    nodes,
    urls: nodes.map((node) => node.url),
    cli: (...args) => nodes[0].cli("-c", ...args),
    async [Symbol.asyncDispose]() {
      for (const node of nodes) await node[Symbol.asyncDispose]();
    },
  };
}

/** A running Redis Sentinel setup: a primary, its replicas, and the Sentinels that watch them. */
export interface RedisSentinelSet extends AsyncDisposable {
  /** The name the Sentinels monitor the primary under. */
  readonly name: string;
  /** The primary at the start, then its replicas. */
  readonly nodes: RedisServer[];
  /** The Sentinels. */
  readonly sentinels: RedisServer[];
  /** `127.0.0.1:<port>` of each Sentinel, as `REDIS_SENTINELS` lists them. */
  readonly addresses: string[];
  /** The node that the first Sentinel names the primary now. */
  primary(): Promise<RedisServer>;
  /**
   * Resolves the primary once the set has settled after a failover: every
   * Sentinel names it, and every other running node is its replica with
   * the link up. On a loaded machine the Sentinels may take many seconds
   * to turn a replica they promoted in an aborted attempt back into a
   * replica; the timeout error says each node's role and ends with the
   * Sentinels' logs.
   */
  settled(timeoutMs?: number): Promise<RedisServer>;
}

/** Options of {@linkcode startRedisSentinel}. */
export interface RedisSentinelOptions {
  /** Replicas of the primary. @default {2} */
  replicas?: number;
  /** Sentinels; a majority of them is the quorum. @default {3} */
  sentinels?: number;
  /** `down-after-milliseconds`: how long a primary may not answer before it is down. @default {1000} */
  downAfterMs?: number;
  /** `failover-timeout`, in ms. @default {3000} */
  failoverTimeoutMs?: number;
}

/**
 * Starts a primary, its replicas and Sentinels watching it as `mymaster`,
 * none of them persistent; resolves once the replicas are in sync and
 * every Sentinel knows every replica and every other Sentinel, so a
 * failover can start as soon as the primary stops.
 *
 * @example
 * ```ts ignore
 * import { startRedisSentinel } from "./redis_server.ts";
 * await using set = await startRedisSentinel({ downAfterMs: 1000 });
 * await set.nodes[0].stop(); // a replica is promoted within a few seconds
 * console.log((await set.primary()).port !== set.nodes[0].port); // true, eventually
 * ```
 */
export async function startRedisSentinel(
  options: RedisSentinelOptions = {},
): Promise<RedisSentinelSet> {
  const name = "mymaster";
  const sentinelCount = options.sentinels ?? 3;
  const nodes: RedisServer[] = [];
  const sentinels: RedisServer[] = [];
  const dispose = async () => {
    for (const server of [...sentinels, ...nodes]) await server[Symbol.asyncDispose]();
  };
  try {
    nodes.push(await startRedisServer({ persistent: false }));
    const primaryPort = String(nodes[0].port);
    for (let i = 0; i < (options.replicas ?? 2); i++) {
      nodes.push(
        await startRedisServer({
          persistent: false,
          extraArgs: ["--replicaof", "127.0.0.1", primaryPort],
        }),
      );
    }
    for (const replica of nodes.slice(1)) {
      await waitUntil(
        async () => /master_link_status:up/.test(await replica.cli("INFO", "replication")),
        { what: `the replica on port ${replica.port} to be in sync`, timeoutMs: 20_000 },
      );
    }
    const configText = [
      `sentinel monitor ${name} 127.0.0.1 ${primaryPort} ${Math.floor(sentinelCount / 2) + 1}`,
      `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
      `sentinel failover-timeout ${name} ${options.failoverTimeoutMs ?? 3000}`,
      "",
    ].join("\n");
    for (let i = 0; i < sentinelCount; i++) {
      sentinels.push(
        await startRedisServer({ persistent: false, configText, extraArgs: ["--sentinel"] }),
      );
    }
    for (const sentinel of sentinels) {
      await waitUntil(async () => {
        const fields = (await sentinel.cli("SENTINEL", "MASTER", name)).split("\n");
        const field = (key: string) => fields[fields.indexOf(key) + 1];
        return field("num-slaves") === String(nodes.length - 1) &&
          field("num-other-sentinels") === String(sentinelCount - 1);
      }, {
        what: `the Sentinel on port ${sentinel.port} to know the others`,
        timeoutMs: 20_000,
      });
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  const set: RedisSentinelSet = {
    name,
    nodes,
    sentinels,
    addresses: sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`),
    async primary() {
      const reply = await sentinels[0].cli("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name);
      const port = Number(reply.split("\n")[1]);
      const node = nodes.find((candidate) => candidate.port === port);
      if (node === undefined) {
        throw new Error(`Cannot find the primary: the Sentinel said "${reply}"`);
      }
      return node;
    },
    async settled(timeoutMs = 30_000) {
      let state = "";
      const settledNow = async () => {
        const named = await Promise.all(
          sentinels.map((sentinel) => sentinel.cli("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)),
        );
        const roles = await Promise.all(
          nodes.filter((node) => node.pid !== 0).map(async (node) =>
            `${node.port}: ${(await node.cli("ROLE")).split("\n").slice(0, 4).join(" ")}`
          ),
        );
        state = `Sentinels name ${named.map((reply) => reply.replace("\n", ":")).join(", ")}; ` +
          `roles ${roles.join("; ")}`;
        const port = named[0].split("\n")[1];
        return named.every((reply) => reply === named[0]) &&
          roles.every((role) =>
            role.startsWith(`${port}: master`) ||
            role.endsWith(`: slave 127.0.0.1 ${port} connected`)
          );
      };
      if (!await pollUntil(settledNow, { timeoutMs, intervalMs: 100 })) {
        const logs = await Promise.all(
          sentinels.map(async (sentinel) =>
            `Sentinel ${sentinel.port}:\n${await _tail(`${sentinel.dir}/redis.log`)}`
          ),
        );
        throw new Error(
          `Timed out after ${timeoutMs} ms waiting for the Sentinel set to settle: ${state}\n` +
            logs.join("\n"),
        );
      }
      return await set.primary();
    },
    [Symbol.asyncDispose]: dispose,
  };
  return set;
}

/** Whether a RESP `PING` on `port` gets `+PONG`, or `-NOAUTH` from a server with a password. */
async function _answersPing(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buffer = new Uint8Array(16);
      const n = await conn.read(buffer);
      return n !== null &&
        /^(\+PONG|-NOAUTH)/.test(new TextDecoder().decode(buffer.subarray(0, n)));
    } finally {
      conn.close();
    }
  } catch {
    return false;
  }
}

async function _tail(path: string): Promise<string> {
  const text = await Deno.readTextFile(path).catch(() => "(no log)");
  return text.trimEnd().split("\n").slice(-10).join("\n");
}
