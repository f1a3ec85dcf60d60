/**
 * Network faults made with nftables, each in a table of its own
 * ({@linkcode SIM_TABLE}) inside a namespace the simulation made, so the
 * machine's own ruleset is never read or touched: a partition of one host
 * from some addresses, and random packet loss on the switch.
 *
 * @module
 */
import { type Host, run } from "./netns.ts";

/** The name of the simulation's nftables tables. */
export const SIM_TABLE = "lpsim";

/**
 * The ruleset that drops every packet between this host and `addresses`,
 * both ways.
 *
 * @example
 * ```ts
 * import { partitionRules } from "./nft.ts";
 * console.log(partitionRules(["10.77.0.15"]).includes("ip daddr { 10.77.0.15 } drop")); // true
 * ```
 */
export function partitionRules(addresses: readonly string[]): string {
  const set = `{ ${addresses.join(", ")} }`;
  return [
    `table inet ${SIM_TABLE} {`,
    `  chain out { type filter hook output priority 0; ip daddr ${set} drop; }`,
    `  chain in { type filter hook input priority 0; ip saddr ${set} drop; }`,
    `}`,
  ].join("\n");
}

/**
 * The ruleset of a bridge that drops `percent` % of the frames it forwards,
 * at random (`numgen random mod 100 < percent drop`).
 *
 * @example
 * ```ts
 * import { lossRules } from "./nft.ts";
 * console.log(lossRules(2).includes("numgen random mod 100 < 2 drop")); // true
 * ```
 */
export function lossRules(percent: number): string {
  if (!(Number.isInteger(percent) && percent >= 0 && percent <= 100)) {
    throw new RangeError(
      `Cannot drop packets: "percent" must be an integer from 0 to 100, got "${percent}"`,
    );
  }
  return [
    `table bridge ${SIM_TABLE} {`,
    `  chain forward { type filter hook forward priority 0; numgen random mod 100 < ${percent} drop; }`,
    `}`,
  ].join("\n");
}

/**
 * Loads `rules` (one {@linkcode SIM_TABLE} table) into namespace `netns`.
 *
 * @example
 * ```ts ignore
 * await addTable("lpsim-4242-switch", lossRules(2));
 * ```
 */
export async function addTable(netns: string, rules: string): Promise<void> {
  const nft = new Deno.Command("ip", {
    args: ["netns", "exec", netns, "nft", "-f", "-"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const writer = nft.stdin.getWriter();
  await writer.write(new TextEncoder().encode(rules + "\n"));
  await writer.close();
  const { success, stderr } = await nft.output();
  if (!success) {
    throw new Error(
      `Cannot load nftables rules in "${netns}": ${new TextDecoder().decode(stderr)}`,
    );
  }
}

/**
 * Deletes the {@linkcode SIM_TABLE} tables of namespace `netns`; none there is no error.
 *
 * @example
 * ```ts ignore
 * await deleteTables("lpsim-4242-switch");
 * ```
 */
export async function deleteTables(netns: string): Promise<void> {
  for (const family of ["inet", "bridge"]) {
    await run(["netns", "exec", netns, "nft", "delete", "table", family, SIM_TABLE]).catch(
      () => {},
    );
  }
}

/**
 * Cuts `host` off from `peers` (both ways) until {@linkcode deleteTables}.
 *
 * @example
 * ```ts ignore
 * await partition(network.host("app1"), [network.host("redis1")]);
 * ```
 */
export async function partition(host: Host, peers: readonly Host[]): Promise<void> {
  await addTable(host.netns, partitionRules(peers.map((peer) => peer.ip)));
}
