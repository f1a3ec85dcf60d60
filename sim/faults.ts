/**
 * The faults of the simulation, one per run, each injected under load:
 * each resolves with the moment it was healed (or, for a killed master, the
 * moment its replica was promoted), in unix ms.
 *
 * @module
 */
import { sleep, waitUntil } from "../testing/wait_until.ts";
import type { AppProcesses } from "./app_hosts.ts";
import type { LoadBalancer } from "./lb_host.ts";
import type { Network } from "./netns.ts";
import { addTable, deleteTables, lossRules, partition } from "./nft.ts";
import { mastersAmong, type RedisGroup } from "./redis_hosts.ts";

/** What a fault acts on. */
export interface Topology {
  readonly network: Network;
  readonly redis: RedisGroup;
  readonly apps: AppProcesses;
  readonly lb: LoadBalancer;
  /** The names of the Redis hosts. */
  readonly redisHosts: readonly string[];
}

/** A fault: its name in the table, and how it is done and undone. */
export interface Fault {
  readonly name: string;
  /** One line for the table. */
  readonly what: string;
  /** Injects the fault, heals it, and resolves with the time of the heal (unix ms). */
  inject(topology: Topology): Promise<number>;
}

/** How long a partition, a stopped process and the packet loss last, in ms. */
export const FAULT_MS = { partition: 10_000, stop: 10_000, loss: 30_000 } as const;

/** Every fault, by name, in the order of the table. */
export const FAULTS: ReadonlyMap<string, Fault> = new Map([
  _fault(
    "none",
    "no fault: the baseline, and the capacity figures",
    () => Promise.resolve(Date.now()),
  ),
  _fault(
    "kill-master",
    "`kill -9` the Redis master on redis1; heal = a replica is promoted; the killed node is then started again and rejoins as a replica",
    async (t) => {
      const victim = t.redis.nodes[0]; // redis1's first node: a master since the start
      const masters = (await mastersAmong(t.redis.nodes)).length;
      const survivors = t.redis.nodes.filter((node) => node !== victim);
      await victim.process.stop("SIGKILL");
      let promotedAt = 0;
      await waitUntil(async () => {
        promotedAt = Date.now();
        return (await mastersAmong(survivors)).length === masters;
      }, {
        what: "a replica of the killed master to be promoted",
        timeoutMs: 30_000,
        intervalMs: 20,
      });
      await victim.start();
      return promotedAt;
    },
  ),
  _fault(
    "partition",
    "app1 cut off from every Redis host for 10 s (nftables drop), then healed",
    async (t) => {
      const app = t.network.host("app1");
      await partition(app, t.redisHosts.map((name) => t.network.host(name)));
      await sleep(FAULT_MS.partition);
      await deleteTables(app.netns);
      return Date.now();
    },
  ),
  _fault("sigstop", "`SIGSTOP` one app process for 10 s, then `SIGCONT`", async (t) => {
    const { process } = t.apps.all[0].current;
    process.kill("SIGSTOP");
    await sleep(FAULT_MS.stop);
    process.kill("SIGCONT");
    return Date.now();
  }),
  _fault(
    "loss",
    "2% of packets between every host dropped for 30 s (nftables on the switch)",
    async (t) => {
      await addTable(t.network.switchNetns, lossRules(2));
      await sleep(FAULT_MS.loss);
      await deleteTables(t.network.switchNetns);
      return Date.now();
    },
  ),
  _fault("nginx-restart", "nginx stopped (SIGTERM, fast shutdown) and started again", async (t) => {
    await t.lb.restart();
    return Date.now();
  }),
  _fault(
    "rolling-deploy",
    "each of the 6 app processes in turn: SIGTERM (drain), start, ready",
    async (t) => {
      for (let i = 0; i < t.apps.all.length; i++) await t.apps.restart(i);
      return Date.now();
    },
  ),
]);

function _fault(name: string, what: string, inject: Fault["inject"]): [string, Fault] {
  return [name, { name, what, inject }];
}
