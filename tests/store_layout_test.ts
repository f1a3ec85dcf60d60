/**
 * The Redis store stays a facade over small modules: `src/store/redis.ts`
 * wires them and keeps to a size one can read, and no module of
 * `src/store/` imports one that imports it back.
 */
import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));
const MAX_FACADE_LINES = 400;
const IMPORT =
  /^(?:import|export)\s+(?:type\s+)?(?:\{[^}]*\}|\*(?:\s+as\s+\w+)?|\w+(?:\s*,\s*\{[^}]*\})?)\s+from\s+"(\.\.?\/[^"]+)"/gm;

/** The relative imports of each module under `dir`, by path from `SRC`. */
async function importsUnder(dir: string, graph = new Map<string, string[]>()) {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) await importsUnder(path, graph);
    else if (entry.name.endsWith(".ts")) {
      const source = await Deno.readTextFile(path);
      graph.set(
        relative(SRC, path),
        [...source.matchAll(IMPORT)].map((match) =>
          relative(SRC, normalize(join(dirname(path), match[1])))
        ),
      );
    }
  }
  return graph;
}

/** The first cycle found, as the modules on it, or undefined. */
function cycleOf(graph: Map<string, string[]>): string[] | undefined {
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (module: string): string[] | undefined => {
    const at = path.indexOf(module);
    if (at >= 0) return [...path.slice(at), module];
    if (done.has(module)) return undefined;
    path.push(module);
    for (const imported of graph.get(module) ?? []) {
      const cycle = visit(imported);
      if (cycle !== undefined) return cycle;
    }
    path.pop();
    done.add(module);
    return undefined;
  };
  for (const module of graph.keys()) {
    const cycle = visit(module);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}

Deno.test(`store layout: src/store/redis.ts is a facade of at most ${MAX_FACADE_LINES} lines`, async () => {
  const lines = (await Deno.readTextFile(join(SRC, "store/redis.ts"))).split("\n").length;
  assert.ok(lines <= MAX_FACADE_LINES, `src/store/redis.ts has ${lines} lines`);
});

Deno.test("store layout: no module of src/store/ imports one that imports it back", async () => {
  const graph = await importsUnder(join(SRC, "store"));
  assert.ok(graph.get("store/redis.ts")!.includes("store/redis_leases.ts"));
  assert.equal(cycleOf(graph)?.join(" -> "), undefined);
  graph.get("store/redis_leases.ts")!.push("store/redis.ts");
  const cycle = cycleOf(graph)!;
  assert.equal(cycle[0], cycle.at(-1));
  assert.deepEqual(new Set(cycle), new Set(["store/redis.ts", "store/redis_leases.ts"]));
});
