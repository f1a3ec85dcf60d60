/**
 * How the code is laid out: src/ has no import circle, so every file reads
 * from its dependencies down, and `src/store/redis.ts` stays a facade of a
 * size one can read; tests/ holds only tests, the toolkit they share with
 * the bench lives in testing/, and neither the bench nor the toolkit
 * reaches into tests/.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
/** A module specifier in an import, an export, a dynamic import or a `new URL(…, import.meta.url)`. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\bnew URL\(\s*)["'`]([^"'`]+)["'`]/g;
/**
 * A static relative import or re-export at the start of a line (type-only
 * ones too), so that the imports of a JSDoc example don't count.
 */
const STATIC_IMPORT =
  /^(?:import|export)\s+(?:type\s+)?(?:\{[^}]*\}|\*(?:\s+as\s+\w+)?|\w+(?:\s*,\s*\{[^}]*\})?)\s+from\s+"(\.{1,2}\/[^"]+)"/gm;
const MAX_REDIS_FACADE_LINES = 400;

Deno.test("layout: the cycle walk finds a planted circle", () => {
  const graph = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]);
  assert.deepEqual(_cyclesOf(graph), [["a", "b", "c", "a"]]);
});

Deno.test("layout: src/ has no import circle", async () => {
  const src = new URL("src/", ROOT);
  const graph = new Map<string, string[]>();
  for (const file of await _sources(src)) {
    const text = await Deno.readTextFile(file);
    graph.set(file.href, [...text.matchAll(STATIC_IMPORT)].map((m) => new URL(m[1], file).href));
  }
  assert.ok(graph.size > 50, `read ${graph.size} files`);
  const relative = (file: string) => file.slice(src.href.length);
  assert.deepEqual(_cyclesOf(graph).map((cycle) => cycle.map(relative).join(" → ")), []);
});

Deno.test(`layout: src/store/redis.ts is a facade of at most ${MAX_REDIS_FACADE_LINES} lines`, async () => {
  const text = await Deno.readTextFile(new URL("src/store/redis.ts", ROOT));
  const lines = text.split("\n").length;
  assert.ok(lines <= MAX_REDIS_FACADE_LINES, `src/store/redis.ts has ${lines} lines`);
});

Deno.test("layout: src/'s doc examples import the package by its name, not mod.ts by a path", async () => {
  // A reader of the docs on JSR sees `../../mod.ts` as written: the name is what they import.
  const src = new URL("src/", ROOT);
  const byPath: string[] = [];
  for (const file of await _sources(src)) {
    const text = await Deno.readTextFile(file);
    for (const [line] of text.matchAll(/^\s*\*\s*import\b.*["'](?:\.{1,2}\/)+mod\.ts["'].*$/gm)) {
      byPath.push(`${file.href.slice(src.href.length)}: ${line.trim()}`);
    }
  }
  assert.deepEqual(byPath, []);
});

Deno.test("layout: bench/ and testing/ import nothing from tests/", async () => {
  const tests = new URL("tests/", ROOT).href;
  const found: string[] = [];
  for (const folder of ["bench", "testing"]) {
    for (const file of await _sources(new URL(`${folder}/`, ROOT))) {
      for (const specifier of _specifiers(await Deno.readTextFile(file))) {
        if (!specifier.startsWith(".")) continue;
        if (new URL(specifier, file).href.startsWith(tests)) {
          found.push(`${file.href.slice(ROOT.href.length)} imports "${specifier}"`);
        }
      }
    }
  }
  assert.deepEqual(found, [], "bench/ and testing/ must import from testing/ instead");
});

Deno.test("layout: tests/ holds only test files; its helpers live in testing/", async () => {
  const files = await _sources(new URL("tests/", ROOT));
  assert.ok(files.length > 0, "no file found in tests/");
  const helpers = files.map((file) => file.href.slice(ROOT.href.length))
    .filter((path) => !path.endsWith("_test.ts"));
  assert.deepEqual(helpers, [], "move these to testing/");
});

Deno.test("layout: the specifier scan finds every form of import", () => {
  const text = [
    'import { a } from "./a.ts";',
    'import type { B } from "../tests/b.ts";',
    'export { c } from "./c.ts";',
    'import "./d.ts";',
    'const e = await import("./e.ts");',
    'new Worker(new URL("./f.ts", import.meta.url));',
  ].join("\n");
  assert.deepEqual(_specifiers(text), [
    "./a.ts",
    "../tests/b.ts",
    "./c.ts",
    "./d.ts",
    "./e.ts",
    "./f.ts",
  ]);
});

/** Each cycle found by a depth-first walk, as the files around it. */
function _cyclesOf(graph: ReadonlyMap<string, readonly string[]>): string[][] {
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

/** Every module specifier written in `text`. */
function _specifiers(text: string): string[] {
  return [...text.matchAll(SPECIFIER)].map((match) => match[1]);
}

/** The source files (.ts, .mjs, .js) below `folder`, at any depth, sorted. */
async function _sources(folder: URL): Promise<URL[]> {
  const files: URL[] = [];
  for await (const entry of Deno.readDir(folder)) {
    const url = new URL(entry.isDirectory ? `${entry.name}/` : entry.name, folder);
    if (entry.isDirectory) files.push(...await _sources(url));
    else if (/\.(ts|mjs|js)$/.test(entry.name)) files.push(url);
  }
  return files.sort((a, b) => a.href.localeCompare(b.href));
}
