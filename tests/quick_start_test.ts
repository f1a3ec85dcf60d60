/**
 * A new user's first minutes: the shell blocks of the README's demo and of
 * the site operator's quick start, run as they are written (only `PORT` and
 * the Redis URL changed to free ones), each documented output checked.
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../testing/free_port.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { startRedisServer } from "../testing/redis_server.ts";
import { waitUntil } from "../testing/wait_until.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const README = await Deno.readTextFile(new URL("../README.md", import.meta.url));
const PORT_LINE = /^export PORT=8888\b/m;
const REDIS_URL = "redis://127.0.0.1:6379";
const LIBRARY_SECRET = "quick-start-secret-of-more-than-32-bytes";
/** What a comment shows a line printing: JSON answers and JSONP scripts. */
const OUTPUT = /\{[^{}]*\}|\/\*\*\/[\w.$]+\([^;]*\);/g;

/** One line of a block: its command, and what its comment says it prints. */
interface _Line {
  text: string;
  expected: string[];
  /** "after 1 s": the line takes at least that long. */
  afterSeconds: number;
}

Deno.test("quick start: the demo runs as written on a free port, each line printing what its comment says", async () => {
  const block = shellBlock("## The 30-second demo");
  assert.match(block, PORT_LINE);
  const lines = await runBlock(block.replace(PORT_LINE, `export PORT=${freePort()}`));
  assert.ok(lines >= 4, `${lines} lines with a documented output`);
});

Deno.test(
  redisTest(
    "quick start: the site operator's block runs as written against a real Redis",
    async () => {
      await using redis = await startRedisServer({ persistent: false });
      const block = shellBlock("## Quick start: a site operator");
      assert.match(block, PORT_LINE);
      assert.ok(block.includes(REDIS_URL), block);
      const lines = await runBlock(
        block.replace(PORT_LINE, `export PORT=${freePort()}`).replace(REDIS_URL, redis.url),
      );
      assert.ok(lines >= 2, `${lines} lines with a documented output`);
    },
  ),
);

Deno.test("quick start: a line that prints something else than its comment says fails the run", async () => {
  const block = 'echo \'{"hi":2}\'   # {"hi":1}';
  await assert.rejects(runBlock(block), /line 1 printed \{"hi":2\}/);
  await assert.rejects(runBlock("sleep 0.1   # after 1 s: {}"), /took 0\.\d+ s/);
  await assert.rejects(runBlock("false   # {}"), /the block failed/);
});

Deno.test(
  redisTest(
    "quick start: the library example serves polls with just the permissions the README lists",
    async () => {
      await using redis = await startRedisServer({ persistent: false });
      const section = README.slice(README.indexOf("\n## Quick start: a Deno library user"));
      const run = /Run it with `deno run ([^`]+) server\.ts`/.exec(section);
      assert.ok(run !== null, "the README's deno run line");
      const port = freePort();
      const code = codeBlock("## Quick start: a Deno library user", "ts")
        .replace(REDIS_URL, redis.url)
        .replace("Deno.serve(", `Deno.serve({ port: ${port} }, `);
      const server = `${ROOT}/quick_start_library_${port}.ts`;
      await Deno.writeTextFile(server, code);
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-prompt", ...run[1].split(" "), server],
        cwd: ROOT,
        env: { SIGN_SECRET: LIBRARY_SECRET, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      try {
        const answer = await waitUntilAnswered(`http://127.0.0.1:${port}/?uid=42&sign=x`);
        assert.equal(answer.status, 403);
        assert.match(await answer.text(), /Cannot verify signature/);
      } finally {
        await Deno.remove(server);
        // It may have ended on its own already (refused a permission, say).
        if ((await Promise.race([child.status, null])) === null) child.kill();
        const output = await child.output();
        const stderr = new TextDecoder().decode(output.stderr);
        assert.doesNotMatch(stderr, /NotCapable/, stderr);
      }
    },
  ),
);

/** Fetches `url` until the server behind it answers. */
async function waitUntilAnswered(url: string): Promise<Response> {
  let answer: Response | undefined;
  await waitUntil(async () => (answer = await fetch(url)) !== undefined, {
    what: url,
    retryErrors: true,
    intervalMs: 50,
    timeoutMs: 30_000,
  });
  return answer!;
}

/** The first `sh` block after `heading` in the README. */
function shellBlock(heading: string): string {
  return codeBlock(heading, "sh");
}

/** The first `lang` block after `heading` in the README. */
function codeBlock(heading: string, lang: string): string {
  const at = README.indexOf(`\n${heading}`);
  assert.ok(at !== -1, `README has "${heading}"`);
  const match = new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(README.slice(at));
  assert.ok(match !== null, `a ${lang} block after "${heading}"`);
  return match[1];
}

/**
 * Runs `block` in one bash, from the repository's root, a marker with the
 * time printed after each line; checks each line's output against its
 * comment. Returns how many lines had a documented output.
 */
async function runBlock(block: string): Promise<number> {
  const lines = block.trimEnd().split("\n").map(_parseLine);
  const script = [
    // Should a line fail, no server started in the background outlives the test.
    "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT",
    "set -e", // a line that fails fails the block
    _marker(-1),
    ...lines.flatMap((line, index) => [line.text, _marker(index)]),
    "wait || true", // the server, stopped by the last line
  ].join("\n");
  const path = dirname(Deno.execPath());
  const output = await new Deno.Command("timeout", {
    args: ["120", "bash", "-c", script],
    cwd: ROOT,
    env: { PATH: `${path}:${Deno.env.get("PATH")}`, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `the block failed:\n${stdout}\n${stderr}`);
  // "", "-1", its time, then per line: its output, its index, its time.
  const chunks = stdout.split(/\n@@(-?\d+) ([\d.]+)@@\n/);
  let checked = 0;
  let startedAt = Number(chunks[2]);
  for (const [index, line] of lines.entries()) {
    const [printed, marker, time] = chunks.slice(index * 3 + 3, index * 3 + 6);
    assert.equal(marker, String(index), `the marker of line ${index + 1}`);
    const endedAt = Number(time);
    if (line.afterSeconds > 0) {
      const took = endedAt - startedAt;
      assert.ok(took >= line.afterSeconds, `line ${index + 1} took ${took.toFixed(2)} s`);
    }
    startedAt = endedAt;
    if (line.expected.length === 0) continue;
    checked++;
    const tokens = printed.match(OUTPUT) ?? [];
    assert.deepEqual(
      [...tokens].sort(),
      [...line.expected].sort(),
      `line ${index + 1} printed ${tokens.join(" ") || "nothing"}: ${line.text}`,
    );
    assert.equal(printed.replace(OUTPUT, "").trim(), "", `line ${index + 1} printed more`);
  }
  return checked;
}

/** A line of bash that prints the marker of line `index` with the time. */
function _marker(index: number): string {
  return `printf '\\n@@%s %s@@\\n' ${index} "$(date +%s.%N)"`;
}

function _parseLine(text: string): _Line {
  const comment = / {2,}# (.*)$/.exec(text)?.[1] ?? "";
  return {
    text,
    expected: comment.match(OUTPUT) ?? [],
    afterSeconds: Number(/^after (\d+) s\b/.exec(comment)?.[1] ?? 0),
  };
}
