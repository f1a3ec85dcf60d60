/**
 * One run of the simulation: the hosts, Redis Cluster, six app processes,
 * nginx, the producer and the users, a steady load, one fault in the
 * middle, then the accounting. Everything it made is removed when it ends,
 * however it ends.
 *
 * @module
 */
import { initClockTicks, readCpuMs, readRssKiB } from "../bench/proc_stats.ts";
import { prepareRuntime } from "../bench/runtime.ts";
import { heldPollsIn } from "../testing/held_polls.ts";
import { TEST_SECRET } from "../testing/secrets.ts";
import { startProcess } from "../testing/serve_process.ts";
import { sleep, waitUntil } from "../testing/wait_until.ts";
import { account, type RunFigures } from "./accounting.ts";
import { startAppProcesses } from "./app_hosts.ts";
import type { ClientLog } from "./clients.ts";
import type { Fault } from "./faults.ts";
import { startLoadBalancer } from "./lb_host.ts";
import { createNetwork, type Host, inHost, run } from "./netns.ts";
import type { ProducerLog } from "./producer.ts";
import { startRedisClusterOnHosts, startRedisSentinelOnHosts } from "./redis_hosts.ts";
import { type RedisCost, redisCost } from "./redis_cost.ts";

/** Options of {@linkcode runScenario}. */
export interface ScenarioOptions {
  fault: Fault;
  /** `AT_LEAST_ONCE` of the app processes. */
  atLeastOnce: boolean;
  /** Redis Cluster (3 masters, 3 replicas) or a primary, 2 replicas and 3 Sentinels. @default {"cluster"} */
  topology?: "cluster" | "sentinel";
  /** The app processes' runtime. @default {"deno"} */
  runtime?: "deno" | "bun";
  /** Simulated users. @default {2000} */
  users?: number;
  /** Messages per second. @default {120} */
  rate?: number;
  /** Seconds of load before the fault, and after the heal. @default {15} */
  calmSeconds?: number;
  /** Called with a line about each step. */
  log?: (line: string) => void;
}

/** The figures of one run, with what it was. */
export interface ScenarioResult extends RunFigures {
  fault: string;
  topology: string;
  atLeastOnce: boolean;
  users: number;
  rate: number;
  /** Messages the app processes logged as lost ("Cannot put back …: it is lost"). */
  loggedLost: number;
  /** Redis commands and bytes over the load (divide by {@linkcode RunFigures.acknowledged} for a message's share). */
  redis: RedisCost;
  /** The app processes' runtime and version, such as `deno 2.9.6`. */
  runtime: string;
  /** CPU time of the app processes from the producer's start to the end of the drain, in ms (processes restarted meanwhile count from their start). */
  appCpuMs: number;
  /** RSS of the app processes once every user held a poll, summed, in KiB. */
  appRssKiB: number;
  /** From the producer's start to the end of the drain, in ms. */
  loadMs: number;
}

const _HOSTS = ["lb", "app1", "app2", "app3", "redis1", "redis2", "redis3", "producer", "clients"];
const _REDIS_HOSTS = ["redis1", "redis2", "redis3"];
/** `cluster-node-timeout`, or Sentinel's `down-after-milliseconds`: how soon a dead master is failed over. */
const _NODE_TIMEOUT_MS = 2_000;
/** The lease of at-least-once mode, short so that redeliveries happen within the drain. */
const _LEASE_SECONDS = 10;
/** Time after the producer stops for the last deliveries (and redeliveries after a lease). */
const _DRAIN_MS = 15_000;

/**
 * Runs `options.fault` under load and returns the run's figures.
 *
 * @example
 * ```ts ignore
 * const result = await runScenario({ fault: FAULTS.get("sigstop")!, atLeastOnce: true });
 * console.log(result.lost.length); // 0
 * ```
 */
export async function runScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const log = options.log ?? (() => {});
  const users = options.users ?? 2000;
  const rate = options.rate ?? 120;
  const calmMs = (options.calmSeconds ?? 15) * 1000;
  const dir = await Deno.makeTempDir({ prefix: "lpsim-run-" });
  await using stack = new AsyncDisposableStack();
  if (Deno.env.get("SIM_KEEP") === undefined) {
    stack.defer(() => Deno.remove(dir, { recursive: true }).catch(() => {}));
  }
  log(`run folder: ${dir}`);
  const network = stack.use(await createNetwork(_HOSTS));
  const redisHosts = _REDIS_HOSTS.map((name) => network.host(name));
  const redis = stack.use(
    options.topology === "sentinel"
      ? await startRedisSentinelOnHosts(redisHosts, _NODE_TIMEOUT_MS)
      : await startRedisClusterOnHosts(redisHosts, _NODE_TIMEOUT_MS),
  );
  log(`redis ${redis.topology} up: ${JSON.stringify(redis.appEnv)}`);
  const appHosts = ["app1", "app2", "app3"].map((name) => network.host(name));
  const lbHost = network.host("lb");
  const runtime = await prepareRuntime(options.runtime ?? "deno");
  await initClockTicks();
  const apps = stack.use(
    await startAppProcesses({
      hosts: appHosts,
      env: {
        ...redis.appEnv,
        SIGN_SECRET: TEST_SECRET,
        TRUSTED_PROXIES: lbHost.ip,
        AT_LEAST_ONCE: String(options.atLeastOnce),
        LEASE: String(_LEASE_SECONDS),
      },
      command: [runtime.command, ...runtime.args],
    }),
  );
  log(`app processes up: ${apps.all.map((app) => app.address).join(" ")}`);
  const lb = stack.use(await startLoadBalancer(lbHost, apps.all.map((app) => app.address)));
  const clientOut = `${dir}/clients.json`;
  const clients = stack.use(
    await startProcess({
      command: "ip",
      args: inHost(network.host("clients"), [
        Deno.execPath(),
        "run",
        "--allow-all",
        new URL("./clients.ts", import.meta.url).pathname,
        `--url=${lb.url}`,
        `--users=${users}`,
        `--secret=${TEST_SECRET}`,
        `--out=${clientOut}`,
      ]),
      env: {},
      ready: /polling/,
    }),
  );
  let held = 0;
  await waitUntil(async () => {
    held = 0;
    for (const app of apps.all) held += heldPollsIn(await _get(lbHost, app.address, "/metrics"));
    return held >= users;
  }, {
    what: () => `${users} held polls (last seen: ${held})`,
    timeoutMs: 60_000,
    intervalMs: 500,
  });
  log(`${held} polls held`);
  for (const node of redis.nodes) await node.cli("CONFIG", "RESETSTAT");
  const appRssKiB = apps.all.reduce((sum, app) => sum + readRssKiB(app.current.process.pid), 0);
  const cpuAtStart = new Map(
    apps.all.map((app) => [app.current.process.pid, readCpuMs(app.current.process.pid)]),
  );
  const loadStart = Date.now();
  const producerOut = `${dir}/producer.json`;
  const producer = stack.use(
    await startProcess({
      command: "ip",
      args: inHost(network.host("producer"), [
        Deno.execPath(),
        "run",
        "--allow-all",
        new URL("./producer.ts", import.meta.url).pathname,
        ...redis.producerArgs,
        `--rate=${rate}`,
        `--users=${users}`,
        `--out=${producerOut}`,
      ]),
      env: {},
      ready: /producing/,
    }),
  );
  await sleep(calmMs);
  const faultAt = Date.now();
  log(`fault: ${options.fault.name}`);
  const healAt = await options.fault.inject({ network, redis, apps, lb, redisHosts: _REDIS_HOSTS });
  log(`healed after ${healAt - faultAt} ms`);
  await sleep(calmMs);
  const producerCode = await producer.stop("SIGTERM");
  log(`producer: ${producer.output().trim().split("\n").at(-1)}; draining`);
  if (producerCode !== 0) {
    throw new Error(`Cannot produce: the producer exited ${producerCode}:\n${producer.output()}`);
  }
  await sleep(_DRAIN_MS);
  const cost = await redisCost(redis.nodes);
  const loadMs = Date.now() - loadStart;
  const appCpuMs = apps.all.reduce((sum, app) => {
    const pid = app.current.process.pid;
    return sum + readCpuMs(pid) - (cpuAtStart.get(pid) ?? 0);
  }, 0);
  await clients.stop("SIGTERM");
  const produced: ProducerLog = JSON.parse(await Deno.readTextFile(producerOut));
  const got: ClientLog = JSON.parse(await Deno.readTextFile(clientOut));
  const figures = account(produced, got, { faultAt, healAt });
  for (const app of apps.all) {
    await Deno.writeTextFile(`${dir}/app-${app.address}.log`, app.current.output());
  }
  const loggedLost = apps.all.map((app) => app.current.output().match(/it is lost/g)?.length ?? 0)
    .reduce((a, b) => a + b, 0);
  return {
    ...figures,
    fault: options.fault.name,
    topology: redis.topology,
    atLeastOnce: options.atLeastOnce,
    users,
    rate,
    loggedLost,
    redis: cost,
    runtime: runtime.version,
    appCpuMs,
    appRssKiB,
    loadMs,
  };
}

/** GET `path` of `address` from `host` (the load balancer, which reaches every app host). */
async function _get(host: Host, address: string, path: string): Promise<string> {
  return await run(inHost(host, ["curl", "-s", "-m", "2", `http://${address}${path}`])).catch(() =>
    ""
  );
}
