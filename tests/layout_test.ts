/**
 * Where the test and bench code lives: tests/ holds only tests, the toolkit
 * they share with the bench lives in testing/, and neither the bench nor
 * the toolkit reaches into tests/.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
/** A module specifier in an import, an export, a dynamic import or a `new URL(…, import.meta.url)`. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\bnew URL\(\s*)["'`]([^"'`]+)["'`]/g;

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
