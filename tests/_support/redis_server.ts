/**
 * Starts real `redis-server` processes on free loopback ports, for tests and
 * the bench: a single server that can be stopped and started again (for
 * outage tests), or a Redis Cluster of several. `await using` stops them and
 * removes their data.
 *
 * @module
 */
import { freePort } from "./free_port.ts";
import { pollUntil, waitUntil } from "./wait_until.ts";

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
}

/** A running redis-server. */
export interface RedisServer extends AsyncDisposable {
  /** Its port on 127.0.0.1. */
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
 * answers PING.
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
  const port = freePort();
  const owned = options.dir === undefined;
  const dir = owned
    ? await Deno.makeTempDir({ prefix: "longpoll-redis-" })
    : `${options.dir}/redis-${port}`;
  await Deno.mkdir(dir, { recursive: true });
  const persistence = options.persistent === false
    ? ["--appendonly", "no"]
    : ["--appendonly", "yes", "--appendfsync", "always"];
  const args = [
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
  const start = async () => {
    if (process !== undefined) throw new Error(`Cannot start redis-server: port ${port} runs one`);
    process = new Deno.Command("redis-server", { args, stdout: "null", stderr: "null" }).spawn();
    let exited = false;
    process.status.then(() => exited = true);
    const up = await pollUntil(async () => exited || await _answersPing(port), {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    if (!up || exited) {
      await kill();
      throw new Error(
        `Cannot start redis-server: port ${port} did not answer PING within 10 s; log:\n${await _tail(
          `${dir}/redis.log`,
        )}`,
      );
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
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
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
    start,
    async [Symbol.asyncDispose]() {
      await kill();
      if (owned) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** A running Redis Cluster of several redis-server processes. */
export interface RedisCluster extends AsyncDisposable {
  /** Its nodes, one master each. */
  readonly nodes: RedisServer[];
  /** `redis://127.0.0.1:<port>` of each node. */
  readonly urls: string[];
  /** Runs a redis-cli command in cluster mode (`-c`, following redirects) on the first node. */
  cli(...args: string[]): Promise<string>;
}

/**
 * Starts `size` masters and joins them into one cluster with every slot
 * covered; resolves once each node says `cluster_state:ok`.
 *
 * @example
 * ```ts ignore
 * import { startRedisCluster } from "./redis_server.ts";
 * await using cluster = await startRedisCluster(3);
 * await cluster.cli("LPUSH", "Q/MSG42", "hi");
 * console.log(cluster.urls.length); // 3
 * ```
 */
export async function startRedisCluster(size = 3): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  try {
    for (let i = 0; i < size; i++) {
      nodes.push(
        await startRedisServer({
          extraArgs: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"],
        }),
      );
    }
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    const created = await new Deno.Command("redis-cli", {
      args: ["--cluster", "create", ...addresses, "--cluster-replicas", "0", "--cluster-yes"],
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

/** Whether a RESP `PING` on `port` gets `+PONG`. */
async function _answersPing(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buffer = new Uint8Array(16);
      const n = await conn.read(buffer);
      return n !== null && new TextDecoder().decode(buffer.subarray(0, n)).startsWith("+PONG");
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
