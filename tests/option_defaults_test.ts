/**
 * Each default has one home, `OPTION_SPECS` in src/option_defaults.ts: the
 * `@default` tags and the README's settings table agree with it, and no
 * other file of src/ writes a default again.
 */
import assert from "node:assert/strict";
import { OPTION_SPECS } from "../src/option_defaults.ts";
import { DEFAULT_PARAMS, DEFAULT_STOP_CODE } from "../src/protocol.ts";
import { SETTINGS } from "../src/server/settings.ts";

type OptionKey = keyof typeof OPTION_SPECS;

const SRC = new URL("../src/", import.meta.url);
const HOME = "option_defaults.ts";
/** Where `resolveOptions` applies the defaults, the one place that may. */
const RESOLVER = "options.ts";

/** Where the options of the table are documented with `@default`. */
const DOCUMENTED = [
  "options.ts",
  "store/types.ts",
  "store/redis_options.ts",
  "store/message_limits.ts",
];

/** Spellings of a default written again, beside what each one restates. */
const RESTATED: readonly { option: OptionKey; pattern: RegExp }[] = [
  { option: "maxUidBytes", pattern: /\bmax(?:Uid)?Bytes\b[^;]*\b256\b/ },
  { option: "keyPrefix", pattern: /(["'`])Q\/MSG\1/ },
  { option: "maxInFlight", pattern: /(?:\bmaxInFlight|MAX_IN_FLIGHT)\b[^;]*\b16\b/ },
  {
    option: "maxMessageBytes",
    pattern: /\b4_?194_?304\b|\b4 \* 1024 \* 1024\b|\b4 << 20\b|\b2 \*\* 22\b/,
  },
];

/** A handler default applied a second time, outside `resolveOptions`. */
const REAPPLIED = /\?\?\s*DEFAULTS\.\w+/;

async function sources(dir: URL = SRC): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) {
      for (const [path, text] of await sources(url)) files.set(path, text);
    } else if (entry.name.endsWith(".ts")) {
      files.set(url.href.slice(SRC.href.length), await Deno.readTextFile(url));
    }
  }
  return files;
}

/** The code of `text`, without its comments (JSDoc and its examples included). */
function codeOf(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, ""))
    .replace(/^\s*\/\/.*$/gm, "");
}

/** Each `@default {…}` tag of `text`, by the name of the field it documents. */
function defaultTags(text: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (
    const [, tag, name] of text.matchAll(/@default \{(.*)\}\n\s*\*\/\n\s*(?:readonly )?(\w+)\??:/g)
  ) {
    tags.set(name, tag);
  }
  return tags;
}

/**
 * The defaults a tag names rather than spells, since `deno doc` cuts a tag
 * at its first `}`.
 */
const NAMED: Readonly<Record<string, unknown>> = { DEFAULT_PARAMS, DEFAULT_STOP_CODE };

/** The value a tag shows: a name of {@linkcode NAMED}, `'text'`, or JSON, object keys unquoted or not. */
function tagValue(tag: string): unknown {
  if (Object.hasOwn(NAMED, tag)) return NAMED[tag];
  if (tag.startsWith("'") && tag.endsWith("'")) return tag.slice(1, -1);
  return JSON.parse(tag.replace(/([{,]\s*)(\w+):/g, '$1"$2":'));
}

/** A line of code giving `option` its default: `option ?? 15`, `option: 15`, `option = 15`. */
function assignment(option: OptionKey): RegExp {
  const value = OPTION_SPECS[option].defaultValue;
  const literal = typeof value === "string"
    ? RegExp.escape(JSON.stringify(value))
    : String(value).split("").join("_?");
  return new RegExp(`\\b${option}\\b\\s*(?:\\?\\?|=|:)\\s*${literal}(?![\\w.])`);
}

Deno.test("option defaults: every @default tag of an option in the table shows its default", async () => {
  const files = await sources();
  const tagged = new Set<string>();
  for (const path of DOCUMENTED) {
    for (const [name, tag] of defaultTags(files.get(path)!)) {
      if (!Object.hasOwn(OPTION_SPECS, name)) continue;
      assert.deepEqual(
        tagValue(tag),
        OPTION_SPECS[name as OptionKey].defaultValue,
        `${path}: ${name}`,
      );
      tagged.add(name);
    }
  }
  assert.deepEqual([...tagged].sort(), Object.keys(OPTION_SPECS).sort());
  const params = defaultTags(files.get(RESOLVER)!).get("params");
  assert.ok(params !== undefined);
  assert.deepEqual(tagValue(params), DEFAULT_PARAMS);
});

Deno.test("option defaults: every @default tag of src/ renders whole in deno doc", async () => {
  // deno doc reads a tag's value up to its first "}": `{'{"stop":1}'}` renders `'{"stop":1`.
  const cut: string[] = [];
  for (const [path, text] of await sources()) {
    for (const [line, value] of text.matchAll(/@default \{(.*)\}[ \t]*$/gm)) {
      if (value.includes("}")) cut.push(`${path}: ${line.trim()}`);
    }
  }
  assert.deepEqual(cut, []);
});

Deno.test("option defaults: the README's settings table shows the table's defaults", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const options = SETTINGS.filter((setting) => Object.hasOwn(OPTION_SPECS, setting.key));
  assert.notEqual(options.length, 0);
  for (const setting of options) {
    const row = readme.split("\n").find((line) => line.startsWith(`| \`${setting.variable}\``));
    assert.ok(row !== undefined, setting.variable);
    const value = OPTION_SPECS[setting.key as OptionKey].defaultValue;
    if (setting.defaultValue === undefined) {
      // Unset, worked out at start-up (MAX_HELD): the meaning names the default.
      assert.ok(row.includes(String(value)), row);
      continue;
    }
    assert.equal(row.split("|")[3].trim(), `\`${value}\``, setting.variable);
    assert.equal(setting.defaultValue, value, setting.variable);
  }
});

Deno.test("option defaults: no file of src/ but option_defaults.ts writes a default again", async () => {
  const files = await sources();
  const home = codeOf(files.get(HOME)!);
  for (const { option, pattern } of RESTATED) {
    assert.match(home, pattern, `${HOME} holds the default of "${option}"`);
  }
  const restated: string[] = [];
  for (const [path, text] of files) {
    if (path === HOME) continue;
    codeOf(text).split("\n").forEach((line, index) => {
      const option = RESTATED.find(({ pattern }) => pattern.test(line))?.option ??
        (Object.keys(OPTION_SPECS) as OptionKey[]).find((key) => assignment(key).test(line));
      const what = option !== undefined
        ? `the default of "${option}"`
        : REAPPLIED.test(line) && path !== RESOLVER
        ? "a default resolveOptions applies"
        : undefined;
      if (what !== undefined) restated.push(`${path}:${index + 1}: ${line.trim()} (${what})`);
    });
  }
  assert.deepEqual(restated, []);
});
