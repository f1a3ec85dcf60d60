/**
 * What the store cost Redis over a run, read from each node's `INFO`
 * (after a `CONFIG RESETSTAT` at the start of the load): commands by name,
 * and bytes in and out over client and replication connections.
 *
 * @module
 */
import type { RedisNode } from "./redis_hosts.ts";

/** Redis's work over a run, summed over the nodes. */
export interface RedisCost {
  /** Commands executed. */
  commands: number;
  /** Bytes in plus bytes out (`total_net_input_bytes` + `total_net_output_bytes`). */
  bytes: number;
  /** Calls by command name, most first. */
  byCommand: Record<string, number>;
  /** Commands executed by the masters alone: what the clients sent, without the replicas' copies. */
  masterCommands: number;
  /** Masters' calls by command name, most first. */
  masterByCommand: Record<string, number>;
}

/**
 * Calls by command name in an `INFO commandstats` text.
 *
 * @example
 * ```ts
 * import { commandCalls } from "./redis_cost.ts";
 * const info = "# Commandstats\r\ncmdstat_lpush:calls=7,usec=9,usec_per_call=1.29\r\ncmdstat_rpop:calls=3,usec=1";
 * console.log(commandCalls(info)); // { lpush: 7, rpop: 3 }
 * ```
 */
export function commandCalls(info: string): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls[match[1]] = Number(match[2]);
  }
  return calls;
}

/**
 * Reads and sums the cost on `nodes`; a node that does not answer (a killed master) counts nothing.
 *
 * @example
 * ```ts ignore
 * const cost = await redisCost(cluster.nodes);
 * console.log(cost.masterByCommand.lpush);
 * ```
 */
export async function redisCost(nodes: readonly RedisNode[]): Promise<RedisCost> {
  const byCommand: Record<string, number> = {};
  const masterByCommand: Record<string, number> = {};
  let bytes = 0;
  for (const node of nodes) {
    const text = await node.cli("INFO", "all").catch(() => "");
    const master = /^role:master/m.test(text);
    for (const [name, calls] of Object.entries(commandCalls(text))) {
      byCommand[name] = (byCommand[name] ?? 0) + calls;
      if (master) masterByCommand[name] = (masterByCommand[name] ?? 0) + calls;
    }
    for (const field of ["total_net_input_bytes", "total_net_output_bytes"]) {
      bytes += Number(new RegExp(`^${field}:(\\d+)`, "m").exec(text)?.[1] ?? 0);
    }
  }
  const [all, masters] = [byCommand, masterByCommand].map(_sorted);
  return { ...all, bytes, masterCommands: masters.commands, masterByCommand: masters.byCommand };
}

function _sorted(
  calls: Record<string, number>,
): { commands: number; byCommand: Record<string, number> } {
  const sorted = Object.entries(calls).sort((a, b) => b[1] - a[1]);
  return {
    commands: sorted.reduce((sum, [, n]) => sum + n, 0),
    byCommand: Object.fromEntries(sorted),
  };
}
