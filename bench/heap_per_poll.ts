/**
 * What each held poll keeps in the JavaScript heap on Deno, ours against
 * the floor (`bare_hold.ts`), object by object: starts each server under
 * the V8 inspector, takes a heap snapshot through the inspector (after a
 * full collection) with a fifth of `--polls` polls held and again with all
 * of them, and prints what the polls between the two added, ours minus
 * the floor, per poll: count, bytes and V8's name for the objects. Code
 * loaded once falls out of the difference. Unlike RSS, a snapshot's live
 * bytes don't move with the collector's timing, so a change of a few
 * dozen bytes per poll shows.
 *
 * ```sh
 * deno run -A bench/heap_per_poll.ts --polls 10000
 * deno run -A bench/heap_per_poll.ts --root /tmp/prev   # another checkout's ours
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { canConnect, freePort } from "../testing/free_port.ts";
import { startRedisServer } from "../testing/redis_server.ts";
import { pollUntil, sleep } from "../testing/wait_until.ts";

/** Count and bytes of one kind of heap object. */
export interface HeapGroup {
  count: number;
  bytes: number;
}

/** The nodes of a V8 heap snapshot, as far as grouping them needs. */
interface _Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/**
 * Groups a V8 heap snapshot's objects by type and name (such as
 * `object Hold` or `closure release`).
 *
 * @example
 * ```ts
 * import { groupHeap } from "./heap_per_poll.ts";
 * const snapshot = {
 *   snapshot: { meta: { node_fields: ["type", "name", "self_size"], node_types: [["object"]] } },
 *   nodes: [0, 0, 40, 0, 0, 40],
 *   strings: ["Hold"],
 * };
 * console.log(groupHeap(JSON.stringify(snapshot)).get("object Hold")); // { count: 2, bytes: 80 }
 * ```
 */
export function groupHeap(snapshotJson: string): Map<string, HeapGroup> {
  const { snapshot: { meta }, nodes, strings } = JSON.parse(snapshotJson) as _Snapshot;
  const width = meta.node_fields.length;
  const [type, name, size] = ["type", "name", "self_size"].map((f) => meta.node_fields.indexOf(f));
  const groups = new Map<string, HeapGroup>();
  for (let i = 0; i < nodes.length; i += width) {
    // Names are cut short (a closure or a string is named by its source), and a
    // scope's snapshot-specific "@<id>" is left out, so scopes group across snapshots.
    const label = strings[nodes[i + name]].replace(/ @\d+$/, "").slice(0, 48);
    const key = `${meta.node_types[0][nodes[i + type]]} ${label}`;
    const group = groups.get(key) ?? { count: 0, bytes: 0 };
    group.count++;
    group.bytes += nodes[i + size];
    groups.set(key, group);
  }
  return groups;
}

/**
 * The rows of `ours` minus `floor`, per poll, largest first, leaving out
 * groups that differ by fewer than `minBytesPerPoll` bytes per poll.
 *
 * @example
 * ```ts
 * import { diffPerPoll } from "./heap_per_poll.ts";
 * const floor = new Map([["object Promise", { count: 10, bytes: 480 }]]);
 * const ours = new Map([["object Promise", { count: 30, bytes: 1440 }], ["object Hold", { count: 10, bytes: 1520 }]]);
 * console.log(diffPerPoll(floor, ours, 10, 1));
 * // [ { name: "object Hold", count: 1, bytes: 152 }, { name: "object Promise", count: 2, bytes: 96 } ]
 * ```
 */
export function diffPerPoll(
  floor: Map<string, HeapGroup>,
  ours: Map<string, HeapGroup>,
  polls: number,
  minBytesPerPoll: number,
): { name: string; count: number; bytes: number }[] {
  const rows = [];
  for (const name of new Set([...floor.keys(), ...ours.keys()])) {
    const a = floor.get(name) ?? { count: 0, bytes: 0 };
    const b = ours.get(name) ?? { count: 0, bytes: 0 };
    const bytes = (b.bytes - a.bytes) / polls;
    if (Math.abs(bytes) < minBytesPerPoll) continue;
    rows.push({ name, count: Math.round((b.count - a.count) / polls * 100) / 100, bytes });
  }
  return rows.sort((x, y) => y.bytes - x.bytes);
}

/** Takes a heap snapshot of the process whose inspector listens on `port`, after a full collection. */
async function _snapshot(port: number): Promise<string> {
  const [target] = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve) => (socket.onopen = resolve));
  const chunks: string[] = [];
  const replies = new Map<number, () => void>();
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.method === "HeapProfiler.addHeapSnapshotChunk") chunks.push(message.params.chunk);
    else replies.get(message.id)?.();
  };
  let id = 0;
  const call = (method: string, params = {}) =>
    new Promise<void>((resolve) => {
      replies.set(++id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });
  await call("HeapProfiler.enable");
  await call("HeapProfiler.collectGarbage");
  await call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
  socket.close();
  return chunks.join("");
}

/** `after` minus `before`, group by group. */
function _minus(
  after: Map<string, HeapGroup>,
  before: Map<string, HeapGroup>,
): Map<string, HeapGroup> {
  const difference = new Map<string, HeapGroup>();
  for (const name of new Set([...after.keys(), ...before.keys()])) {
    const a = after.get(name) ?? { count: 0, bytes: 0 };
    const b = before.get(name) ?? { count: 0, bytes: 0 };
    difference.set(name, { count: a.count - b.count, bytes: a.bytes - b.bytes });
  }
  return difference;
}

/**
 * Starts `args` under the inspector and groups what its heap gained from
 * `from` polls held to `to`.
 */
async function _heapOfPolls(
  args: string[],
  env: Record<string, string>,
  port: number,
  [from, to]: [number, number],
  root: string,
): Promise<Map<string, HeapGroup>> {
  const inspectPort = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", `--inspect=127.0.0.1:${inspectPort}`, ...args],
    cwd: root,
    env,
    stdout: "null",
    stderr: "null",
  }).spawn();
  const connections: Deno.Conn[] = [];
  const hold = async (count: number) => {
    while (connections.length < count) {
      const connection = await Deno.connect({ hostname: "127.0.0.1", port });
      await connection.write(
        new TextEncoder().encode(
          `GET /?uid=h${connections.length} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
        ),
      );
      connections.push(connection);
    }
    // Long enough for every poll's first pop to come back and its hold to start.
    await sleep(3_000);
    return groupHeap(await _snapshot(inspectPort));
  };
  try {
    // A connection, not a request: every request to the floor is held.
    await pollUntil(() => canConnect(port), { timeoutMs: 20_000, what: "the server to listen" });
    const before = await hold(from);
    return _minus(await hold(to), before);
  } finally {
    for (const connection of connections) connection.close();
    child.kill("SIGKILL");
    await child.status;
  }
}

async function _main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      polls: { type: "string", default: "10000" },
      root: { type: "string", default: new URL("..", import.meta.url).pathname },
      min: { type: "string", default: "8" },
    },
  });
  const polls = Number(values.polls);
  const steps: [number, number] = [Math.round(polls / 5), polls];
  const added = steps[1] - steps[0];
  await using redis = await startRedisServer();
  const floorPort = freePort();
  const floor = await _heapOfPolls(
    ["-A", "bench/bare_hold.ts", String(floorPort)],
    {},
    floorPort,
    steps,
    values.root,
  );
  const ourPort = freePort();
  const ours = await _heapOfPolls(
    ["-A", "--unstable-no-legacy-abort", "--unstable-net", "deploy/cli.ts", "serve"],
    { PORT: String(ourPort), REDIS_URL: redis.url, DRAIN_WINDOW: "0" },
    ourPort,
    steps,
    values.root,
  );
  const rows = diffPerPoll(floor, ours, added, Number(values.min));
  console.log(
    `JavaScript heap per held poll on Deno, ours (${values.root}) minus the bare Deno.serve hold, ` +
      `from ${steps[0]} to ${steps[1]} held:\n`,
  );
  console.log("| objects per poll | bytes per poll | V8's name |\n| ---: | ---: | --- |");
  for (const row of rows) {
    const name = row.name.replaceAll("|", "\\|").replaceAll("\n", " ");
    console.log(`| ${row.count} | ${row.bytes.toFixed(0)} | ${name} |`);
  }
  const sum = (groups: Map<string, HeapGroup>) =>
    [...groups.values()].reduce((total, group) => total + group.bytes, 0);
  console.log(`\nIn all: ${((sum(ours) - sum(floor)) / added).toFixed(0)} bytes per poll.`);
}

if (import.meta.main) await _main();
