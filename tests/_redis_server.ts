/**
 * Starts a real `redis-server` on a free port for one test, and stops it
 * with `await using`. Where the binary is missing, Redis tests are skipped
 * with a line saying so; `REQUIRE_REDIS=1` turns that skip into a failure.
 */

import { RedisStore, type RedisStoreOptions } from "../src/store/redis.ts";

/** True when a `redis-server` binary can be run. */
export const haveRedis: boolean = await _canRun("redis-server");

const required = Deno.env.get("REQUIRE_REDIS") === "1";
if (!haveRedis && required) {
  throw new Error("Cannot run Redis tests: REQUIRE_REDIS=1 but redis-server is not on PATH");
}

let skipped = 0;
/**
 * Test options that skip the test where `redis-server` is missing, and count
 * the skip for one clear line at the end.
 */
export function redisTest(name: string, fn: () => Promise<void>): Deno.TestDefinition {
  if (!haveRedis && skipped++ === 0) {
    // Test files register their tests synchronously, so by the next task the
    // count covers every Redis test of this module graph.
    setTimeout(() => {
      console.log(
        `Skipping ${skipped} Redis tests: redis-server is not on PATH ` +
          `(install it, or set REQUIRE_REDIS=1 to fail instead)`,
      );
    }, 0);
  }
  return { name, fn, ignore: !haveRedis, sanitizeOps: false, sanitizeResources: false };
}

/** A running redis-server. */
export interface RedisServer extends AsyncDisposable {
  readonly port: number;
  readonly url: string;
  /** Runs a redis-cli command against this server and returns its output. */
  cli(...args: string[]): Promise<string>;
  /** Stops the server (SHUTDOWN NOSAVE) and waits for the process to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port, with the same data directory. */
  restart(): Promise<void>;
}

/** Starts redis-server on a free port, with AOF on so a restart keeps data. */
export async function startRedisServer(
  options: { extraArgs?: string[] } = {},
): Promise<RedisServer> {
  let port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "longpoll-redis-" });
  let process: Deno.ChildProcess | undefined;
  const spawn = () =>
    new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--dir",
        dir,
        ...(options.extraArgs ?? []),
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
  // The port was free a moment ago; other tests, here or in other processes,
  // may take it first. The server then exits at once: the first start tries
  // another port, up to 3 times; a restart keeps its port.
  const start = async (firstStart = false) => {
    for (let attempt = 1;; attempt++) {
      const child = process = spawn();
      let exited = false;
      child.status.then(() => (exited = true));
      try {
        await _waitForPing(port, () => exited);
        await new Promise((resolve) => setTimeout(resolve, 20));
        if (!exited) return;
      } catch (error) {
        if (!exited) throw error;
      }
      if (!firstStart || attempt === 3) {
        throw new Error(`Cannot start redis-server: it exited at once on port ${port}`);
      }
      port = freePort();
    }
  };
  const cli = async (...args: string[]) => {
    const output = await new Deno.Command("redis-cli", {
      args: ["-p", String(port), ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(output.stdout).trim();
  };
  const stop = async () => {
    if (process === undefined) return;
    try {
      process.kill("SIGKILL");
    } catch {
      // already gone
    }
    await process.status;
    process = undefined;
  };
  await start(true);
  return {
    get port() {
      return port;
    },
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    cli,
    stop: async () => {
      await cli("SHUTDOWN", "NOSAVE").catch(() => {});
      await process?.status;
      process = undefined;
    },
    restart: () => start(),
    async [Symbol.asyncDispose]() {
      await stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * A RedisStore on `server`, connected and subscribed; `await using` closes it.
 */
export async function connectStore(
  server: RedisServer,
  options: RedisStoreOptions = {},
): Promise<RedisStore> {
  const store = new RedisStore({ url: server.url, ...options });
  if (!await store.whenReady(5000)) {
    await store.close();
    throw new Error(`Cannot connect a RedisStore to ${server.url} within 5 s`);
  }
  return store;
}

/** A running Redis Cluster of several redis-server processes. */
export interface RedisCluster extends AsyncDisposable {
  readonly nodes: RedisServer[];
  /** `redis://127.0.0.1:<port>` of each node. */
  readonly urls: string[];
  /** Runs a redis-cli command in cluster mode (-c), following redirects. */
  cli(...args: string[]): Promise<string>;
}

/** Options of {@linkcode startRedisCluster}. */
export interface RedisClusterOptions {
  /** Replicas per master (the first `masters` nodes are the masters). */
  replicas?: number;
  /** `cluster-node-timeout`, in ms: how soon a dead master is failed over. */
  nodeTimeoutMs?: number;
}

/**
 * Starts `masters` masters (and their replicas) and joins them into one
 * cluster, all slots covered.
 */
export async function startRedisCluster(
  masters = 3,
  options: RedisClusterOptions = {},
): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  const replicas = options.replicas ?? 0;
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      nodes.push(
        await startRedisServer({
          extraArgs: [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            ...(options.nodeTimeoutMs === undefined
              ? []
              : ["--cluster-node-timeout", String(options.nodeTimeoutMs)]),
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
      throw new Error(
        `Cannot create the cluster: ${new TextDecoder().decode(created.stderr)}`,
      );
    }
    const deadline = Date.now() + 20_000;
    for (const node of nodes) {
      while (!(await node.cli("CLUSTER", "INFO")).includes("cluster_state:ok")) {
        if (Date.now() > deadline) {
          throw new Error("Cannot create the cluster: no cluster_state:ok");
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // A replica counts once it is in sync with its master.
      while (
        /role:slave(?![^]*master_link_status:up)/.test(await node.cli("INFO", "replication"))
      ) {
        if (Date.now() > deadline) {
          throw new Error("Cannot create the cluster: a replica is not in sync");
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
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

/** A TCP port that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function _waitForPing(port: number, gaveUp: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !gaveUp()) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buffer = new Uint8Array(16);
      const n = await conn.read(buffer);
      conn.close();
      // A server that needs a password is up too: it answers NOAUTH.
      if (n !== null && /^(\+PONG|-NOAUTH)/.test(new TextDecoder().decode(buffer.subarray(0, n)))) {
        return;
      }
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`Cannot start redis-server: port ${port} did not answer PING within 10 s`);
}

async function _canRun(binary: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(binary, { args: ["--version"], stdout: "null" })
      .output();
    return success;
  } catch {
    return false;
  }
}
