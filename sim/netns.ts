/**
 * Linux network namespaces that stand for hosts: one namespace per host,
 * each with an `eth0` on a private subnet, all linked by veth pairs to a
 * bridge that lives in a namespace of its own (the "switch"). Nothing is
 * made in the machine's own namespace: no link, no route, no nftables table,
 * so no packet of the simulation can leave the namespaces it made.
 *
 * Every name starts with {@linkcode SIM_PREFIX} and the id of the process
 * that made it (`lpsim-4242-app1`), so a run can tell its own namespaces
 * from those a crashed run left behind ({@linkcode removeStaleNamespaces}).
 *
 * @module
 */

/** The prefix of every namespace the simulation makes. */
export const SIM_PREFIX = "lpsim-";
/** The hosts' subnet: host `i` (from 1) is `10.77.0.<10 + i>`. */
const _SUBNET = "10.77.0";

/** A host: a network namespace with an address on the switch. */
export interface Host {
  /** Its short name, such as `app1`. */
  readonly name: string;
  /** Its namespace, such as `lpsim-4242-app1`. */
  readonly netns: string;
  /** Its address on the switch. */
  readonly ip: string;
}

/** Hosts linked by one switch; disposing kills their processes and removes every namespace. */
export interface Network extends AsyncDisposable {
  /** The hosts, by name. */
  readonly hosts: ReadonlyMap<string, Host>;
  /** The namespace of the switch (its bridge is `br0`). */
  readonly switchNetns: string;
  /** The host called `name`; throws when there is none. */
  host(name: string): Host;
}

/**
 * Runs `ip ...args` (or another program with `program`) and returns what it
 * printed; throws with its error output when it fails.
 *
 * @example
 * ```ts ignore
 * import { run } from "./netns.ts";
 * console.log(await run(["netns", "list"]));
 * ```
 */
export async function run(args: readonly string[], program = "ip"): Promise<string> {
  const output = await new Deno.Command(program, {
    args: [...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  if (!output.success) {
    throw new Error(
      `Cannot run "${program} ${args.join(" ")}": ${text.decode(output.stderr).trim()}`,
    );
  }
  return text.decode(output.stdout);
}

/**
 * The command line that runs `command` inside `host`'s namespace.
 *
 * @example
 * ```ts
 * import { inHost } from "./netns.ts";
 * const host = { name: "app1", netns: "lpsim-1-app1", ip: "10.77.0.11" };
 * console.log(inHost(host, ["redis-cli", "PING"]).join(" ")); // netns exec lpsim-1-app1 redis-cli PING
 * ```
 */
export function inHost(host: Host, command: readonly string[]): string[] {
  return ["netns", "exec", host.netns, ...command];
}

/**
 * Makes a namespace per host name, each with `eth0` at `10.77.0.<10 + i>`
 * and its loopback up, linked to a bridge in a switch namespace. Fails, and
 * removes what it made, when a name is taken.
 *
 * @example
 * ```ts ignore
 * import { createNetwork } from "./netns.ts";
 * await using network = await createNetwork(["lb", "app1"]);
 * console.log(network.host("app1").ip); // 10.77.0.12
 * ```
 */
export async function createNetwork(names: readonly string[]): Promise<Network> {
  const runId = `${SIM_PREFIX}${Deno.pid}`;
  const switchNetns = `${runId}-switch`;
  const hosts = new Map<string, Host>();
  const made: string[] = [];
  const dispose = async () => {
    for (const netns of made.reverse()) await removeNamespace(netns);
  };
  try {
    await run(["netns", "add", switchNetns]);
    made.push(switchNetns);
    await run(["-n", switchNetns, "link", "add", "br0", "type", "bridge"]);
    await run(["-n", switchNetns, "link", "set", "br0", "up"]);
    for (const [index, name] of names.entries()) {
      const host = { name, netns: `${runId}-${name}`, ip: `${_SUBNET}.${11 + index}` };
      await run(["netns", "add", host.netns]);
      made.push(host.netns);
      const port = `p${index}`;
      await run([
        "-n",
        switchNetns,
        "link",
        "add",
        port,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        host.netns,
      ]);
      await run(["-n", switchNetns, "link", "set", port, "master", "br0", "up"]);
      await run(["-n", host.netns, "addr", "add", `${host.ip}/24`, "dev", "eth0"]);
      await run(["-n", host.netns, "link", "set", "eth0", "up"]);
      await run(["-n", host.netns, "link", "set", "lo", "up"]);
      hosts.set(name, host);
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  return {
    hosts,
    switchNetns,
    host(name) {
      const host = hosts.get(name);
      if (host === undefined) throw new Error(`Cannot find host "${name}"`);
      return host;
    },
    [Symbol.asyncDispose]: dispose,
  };
}

/**
 * Kills every process left in namespace `netns` (SIGKILL, by pid, as `ip
 * netns pids` lists them), waits for them to go, then removes it. A
 * namespace that is already gone is no error.
 *
 * @example
 * ```ts ignore
 * await removeNamespace("lpsim-4242-app1");
 * ```
 */
export async function removeNamespace(netns: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const pids = (await run(["netns", "pids", netns]).catch(() => "")).split(/\s+/)
      .filter(Boolean).map(Number);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await run(["netns", "del", netns]).catch(() => {});
}

/**
 * The namespaces {@linkcode SIM_PREFIX}`<pid>-…` whose process `<pid>` is
 * gone: what a crashed or killed run left behind.
 *
 * @example
 * ```ts
 * import { staleNamespaces } from "./netns.ts";
 * const alive = (pid: number) => pid === 7;
 * console.log(staleNamespaces(["lpsim-7-lb", "lpsim-9-lb", "other"], alive)); // [ "lpsim-9-lb" ]
 * ```
 */
export function staleNamespaces(
  names: readonly string[],
  isAlive: (pid: number) => boolean,
): string[] {
  return names.filter((name) => {
    const match = new RegExp(`^${SIM_PREFIX}(\\d+)-`).exec(name);
    return match !== null && !isAlive(Number(match[1]));
  });
}

/**
 * The namespaces whose names start with {@linkcode SIM_PREFIX}.
 *
 * @example
 * ```ts ignore
 * console.log(await simNamespaces()); // [] when no run is going
 * ```
 */
export async function simNamespaces(): Promise<string[]> {
  return (await run(["netns", "list"])).split("\n").map((line) => line.split(" ")[0])
    .filter((name) => name.startsWith(SIM_PREFIX));
}

/**
 * Removes the namespaces (and their processes) of runs whose process is gone; returns their names.
 *
 * @example
 * ```ts ignore
 * console.log(await removeStaleNamespaces()); // the names it removed
 * ```
 */
export async function removeStaleNamespaces(): Promise<string[]> {
  const stale = staleNamespaces(await simNamespaces(), _isAlive);
  for (const netns of stale) await removeNamespace(netns);
  return stale;
}

function _isAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}
