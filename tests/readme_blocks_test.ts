/**
 * Every TypeScript and JavaScript block of the README and of docs/ type-checks
 * and lints clean, so an example can't rot unseen (`deno task check` runs the
 * same type check).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runCommand } from "../testing/run_command.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DOCS = [
  "README.md",
  ...[...Deno.readDirSync(new URL("../docs", import.meta.url))]
    .filter((entry) => entry.name.endsWith(".md"))
    .map((entry) => `docs/${entry.name}`)
    .sort(),
];

/** A code block of a Markdown file. */
interface _Block {
  file: string;
  line: number;
  lang: "ts" | "js";
  code: string;
}

/** The `ts` and `js` blocks of `text`, with the line each starts on. */
function codeBlocks(file: string, text: string): _Block[] {
  return [...text.matchAll(/^```(ts|js)\n([\s\S]*?)^```$/gm)].map((match) => ({
    file,
    line: text.slice(0, match.index).split("\n").length,
    lang: match[1] as "ts" | "js",
    code: match[2],
  }));
}

/** Runs `deno <args>` from the repository's root. */
async function deno(args: string[]): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await runCommand(Deno.execPath(), args, {
    cwd: ROOT,
    env: { NO_COLOR: "1" },
  });
  return { code, output: stdout + stderr };
}

/** Lints `blocks`, each written to a file of its own; returns deno lint's result. */
async function lintBlocks(blocks: _Block[]): Promise<{ code: number; output: string }> {
  const dir = await Deno.makeTempDir({ prefix: "readme_blocks_" });
  try {
    for (const block of blocks) {
      const name = `${block.file.replaceAll("/", "_")}_line_${block.line}.${block.lang}`;
      await Deno.writeTextFile(`${dir}/${name}`, block.code);
    }
    return await deno(["lint", "--no-config", dir]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const blocks = DOCS.flatMap((file) => codeBlocks(file, Deno.readTextFileSync(`${ROOT}/${file}`)));

Deno.test("readme blocks: the README and docs/ hold TypeScript examples", () => {
  const readme = blocks.filter((block) => block.file === "README.md" && block.lang === "ts");
  assert.ok(readme.length >= 3, `${readme.length} ts blocks in README.md`);
});

Deno.test("readme blocks: every block type-checks", async () => {
  const { code, output } = await deno(["check", "--doc-only", ...DOCS]);
  assert.equal(code, 0, output);
});

Deno.test("readme blocks: every block lints clean", async () => {
  const { code, output } = await lintBlocks(blocks);
  assert.equal(code, 0, output);
});

Deno.test("readme blocks: a block with an unused import or a type error is caught", async () => {
  const [bad] = codeBlocks(
    "bad.md",
    '```ts\nimport { MemoryStore } from "../mod.ts";\nconst n: number = "x";\n```\n',
  );
  const linted = await lintBlocks([bad]);
  assert.notEqual(linted.code, 0);
  assert.match(linted.output, /no-unused-vars/);
  const dir = await Deno.makeTempDir({ prefix: "readme_blocks_" });
  try {
    await Deno.writeTextFile(
      `${dir}/bad.md`,
      "```ts\nconst n: number = 'x';\nconsole.log(n);\n```\n",
    );
    const checked = await deno(["check", "--doc-only", `${dir}/bad.md`]);
    assert.notEqual(checked.code, 0);
    assert.match(checked.output, /TS2322/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
