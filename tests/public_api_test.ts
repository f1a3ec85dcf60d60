/**
 * The public API stays small enough to hold in one's head: mod.ts exports
 * the eight values a user needs and the types they name, the README lists
 * each, and internals stay off the handler object.
 */
import assert from "node:assert/strict";
import * as mod from "../mod.ts";

const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
const modText = await Deno.readTextFile(new URL("../mod.ts", import.meta.url));

/** Every name mod.ts re-exports, values and types. */
function exportedNames(text: string): string[] {
  return [...text.matchAll(/export (?:type )?\{([^}]*)\}/g)]
    .flatMap((match) => match[1].split(","))
    .map((name) => name.replace(/^\s*type\s+/, "").trim())
    .filter((name) => name !== "");
}

function readmeSection(start: string, end: string): string {
  const from = readme.indexOf(start);
  assert.ok(from !== -1, `README has "${start}"`);
  return readme.slice(from, readme.indexOf(end, from));
}

Deno.test("public API: mod.ts exports eight values", () => {
  assert.deepEqual(Object.keys(mod).sort(), [
    "HmacSigner",
    "MemoryPresence",
    "MemoryStore",
    "Metrics",
    "SignatureError",
    "StoreError",
    "createLogger",
    "createLongPollHandler",
  ]);
});

Deno.test("public API: the README lists every exported name, and what was removed", () => {
  const api = readmeSection("### The API (`mod.ts`)", "**Removed from the public API**");
  const removed = readmeSection("**Removed from the public API**", "\n\n");
  const names = exportedNames(modText);
  assert.deepEqual(names.filter((name) => !api.includes(`\`${name}\``)), []);
  const removedNames = [...removed.matchAll(/`(\w+)`/g)].map((match) => match[1]);
  assert.ok(removedNames.includes("Responder") && removedNames.includes("StoreHealth"));
  assert.deepEqual(removedNames.filter((name) => names.includes(name)), []);
});

Deno.test("public API: the handler object carries no internals", () => {
  const handler = mod.createLongPollHandler({ store: new mod.MemoryStore() });
  assert.deepEqual(
    Object.getOwnPropertyNames(handler).filter((name) => !["length", "name"].includes(name)).sort(),
    ["drain", "events", "held", "metrics"],
  );
});
