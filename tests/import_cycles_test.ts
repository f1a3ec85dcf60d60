/**
 * No import circles in src/: each module's imports (type-only ones too)
 * form a graph without a cycle, so every file reads from its dependencies
 * down.
 */
import assert from "node:assert/strict";

const SRC = new URL("../src/", import.meta.url);
const SPECIFIER =
  /^(?:import|export)\s+(?:type\s+)?(?:\{[^}]*\}|\*(?:\s+as\s+\w+)?|\w+(?:\s*,\s*\{[^}]*\})?)\s+from\s+"(\.{1,2}\/[^"]+)"/gm;

/** The relative imports of every .ts file under src/, by file URL. */
async function importGraph(dir: URL, graph = new Map<string, string[]>()) {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.isDirectory ? `${entry.name}/` : entry.name, dir);
    if (entry.isDirectory) await importGraph(url, graph);
    else if (entry.name.endsWith(".ts")) {
      const text = await Deno.readTextFile(url);
      const imports = [...text.matchAll(SPECIFIER)].map((match) => new URL(match[1], url).href);
      graph.set(url.href, imports);
    }
  }
  return graph;
}

/** Each cycle found by a depth-first walk, as the files around it. */
function cyclesOf(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (file: string) => {
    const at = path.indexOf(file);
    if (at !== -1) return void cycles.push([...path.slice(at), file]);
    if (done.has(file)) return;
    path.push(file);
    for (const next of graph.get(file) ?? []) visit(next);
    path.pop();
    done.add(file);
  };
  for (const file of [...graph.keys()].sort()) visit(file);
  return cycles;
}

Deno.test("import cycles: the walk finds a planted circle", () => {
  const graph = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]);
  assert.deepEqual(cyclesOf(graph), [["a", "b", "c", "a"]]);
});

Deno.test("import cycles: src/ has none", async () => {
  const graph = await importGraph(SRC);
  assert.ok(graph.size > 50, `read ${graph.size} files`);
  const relative = (file: string) => file.slice(SRC.href.length);
  assert.deepEqual(cyclesOf(graph).map((cycle) => cycle.map(relative).join(" → ")), []);
});
