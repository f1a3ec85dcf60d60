/**
 * The producer examples of examples/ (PHP, Python, Node, shell), each run
 * against a real Redis and a real server: what it pushes arrives at a poll,
 * signed with the query it prints, also waking a held poll; a bad input is
 * refused with a clear line and pushes nothing.
 *
 * An example whose runtime is missing (Debian `php-cli php-redis
 * python3-redis`, or `npm ci --prefix examples/node`) is skipped with one
 * line; under `REQUIRE_REDIS=1`, as in CI, where `.ci/run` installs them, it
 * fails instead.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { canRun } from "../testing/can_run.ts";
import { freePort } from "../testing/free_port.ts";
import { haveRedis } from "../testing/redis_gate.ts";
import { startRedisServer } from "../testing/redis_server.ts";
import { runCommand } from "../testing/run_command.ts";
import { startServe } from "../testing/serve_process.ts";
import { waitUntil } from "../testing/wait_until.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SECRET = "examples-test-secret-of-more-than-32-bytes";
const REQUIRED = Deno.env.get("REQUIRE_REDIS") === "1";

/** How to run one example, and whether this machine can. */
interface _Example {
  name: string;
  command: string[];
  /** Encodes any uid; the shell example takes plain ones only. */
  anyUid: boolean;
  available: () => Promise<boolean>;
}

const EXAMPLES: _Example[] = [
  {
    name: "PHP (phpredis)",
    command: ["php", "examples/php/publish.php"],
    anyUid: true,
    available: () => canRun("php", ["-r", "exit(class_exists('Redis') ? 0 : 1);"]),
  },
  {
    name: "Python (redis-py)",
    command: [await _pythonWithRedis() ?? "python3", "examples/python/publish.py"],
    anyUid: true,
    available: async () => (await _pythonWithRedis()) !== undefined,
  },
  {
    name: "Node (node-redis)",
    command: ["node", "examples/node/publish.mjs"],
    anyUid: true,
    available: async () =>
      await canRun("node") &&
      await _exists(`${ROOT}/examples/node/node_modules/@redis/client/package.json`),
  },
  {
    name: "shell (redis-cli, openssl)",
    command: ["bash", "examples/shell/publish.sh"],
    anyUid: false,
    available: async () => await canRun("redis-cli") && await canRun("openssl", ["version"]),
  },
];

for (const example of EXAMPLES) {
  const available = haveRedis && await example.available();
  if (!available && REQUIRED) {
    throw new Error(
      `Cannot run the ${example.name} example: its runtime is missing and REQUIRE_REDIS=1 ` +
        `(run .ci/run, or apt-get install php-cli php-redis python3-redis and ` +
        `npm ci --prefix examples/node)`,
    );
  }
  if (!available) console.log(`Skipping the ${example.name} example: its runtime is missing`);
  Deno.test({
    name: `examples: ${example.name} signs a uid and pushes a message that a poll receives`,
    ignore: !available,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => _exercise(example),
  });
}

async function _exercise(example: _Example): Promise<void> {
  await using redis = await startRedisServer({ persistent: false });
  await using server = await startServe({
    REDIS_URL: redis.url,
    SIGN_SECRET: SECRET,
    MIN_WAIT: "30",
    MAX_WAIT: "30",
  });
  const env = { SIGN_SECRET: `${SECRET},an-older-secret-still-accepted`, REDIS_URL: redis.url };
  const uids = example.anyUid ? ["42", "ü 42&x=1"] : ["42"];
  for (const uid of uids) {
    // Queued first, then polled: the printed query is accepted.
    const query = await _run(example, [uid, '{"n":1}'], env);
    assert.equal(new URLSearchParams(query).get("uid"), uid, query);
    const hit = await fetch(`${server.origin}/?${query}`);
    assert.equal(hit.status, 200, query);
    assert.equal(await hit.text(), '{"n":1}');

    // With an expiry, and woken: the poll is held when the example pushes.
    const expiring = await _run(example, [uid, "first"], env);
    assert.equal(await (await fetch(`${server.origin}/?${expiring}`)).text(), "first");
    const signed = await _run(example, [uid, "queued", "300"], env);
    const exp = Number(new URLSearchParams(signed).get("exp"));
    const now = Date.now() / 1000;
    assert.ok(exp > now + 290 && exp < now + 310, signed);
    assert.equal(await (await fetch(`${server.origin}/?${signed}`)).text(), "queued");
    const held = fetch(`${server.origin}/?${signed}`);
    await waitUntil(
      async () =>
        /^longpoll_held_polls 1$/m.test(await (await fetch(`${server.origin}/metrics`)).text()),
      { what: "the poll to be held", intervalMs: 20 },
    );
    await _run(example, [uid, '{"woke":true}', "300"], env);
    assert.equal(await (await held).text(), '{"woke":true}');
    assert.equal(await redis.cli("LLEN", `Q/MSG${uid}`), "0");
  }

  // A signature for another secret is refused by the server.
  const other = await _run(example, ["42", "x"], { ...env, SIGN_SECRET: "another-secret" });
  assert.equal((await fetch(`${server.origin}/?${other}`)).status, 403);
  assert.equal(await redis.cli("RPOP", "Q/MSG42"), "x");
}

Deno.test({
  name: "examples: every example refuses a bad input with a clear line and pushes nothing",
  ignore: !haveRedis,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using redis = await startRedisServer({ persistent: false });
    const env = { SIGN_SECRET: SECRET, REDIS_URL: redis.url };
    const unreachable = `redis://127.0.0.1:${freePort()}`;
    const cases: [string, string[], Record<string, string>, RegExp][] = [
      ["no uid", [], env, /^Usage: publish\.\w+ <uid> <message>/],
      ["no secret", ["42", "hi"], { REDIS_URL: redis.url }, /^Cannot sign: SIGN_SECRET is not set/],
      ["an empty uid", ["", "hi"], env, /^Cannot sign "": /],
      ["a uid with a line feed", ["4\n2", "hi"], env, /^Cannot sign "4\n2": /],
      ["an empty message", ["42", ""], env, /^Cannot publish: the message is empty/],
      ["a bad expiry", ["42", "hi", "soon"], env, /^Cannot sign: "soon" is not a whole number/],
      ["a zero expiry", ["42", "hi", "0"], env, /^Cannot sign: "0" is not a whole number/],
      [
        "Redis unreachable",
        ["42", "hi"],
        { ...env, REDIS_URL: unreachable },
        /Cannot publish: Redis at "redis:\/\/127\.0\.0\.1:\d+" (refused or is unreachable|did not take)/,
      ],
    ];
    let ran = 0;
    for (const example of EXAMPLES) {
      if (!await example.available()) continue;
      ran++;
      for (const [what, args, caseEnv, error] of cases) {
        const result = await _spawn(example, args, caseEnv);
        assert.notEqual(result.code, 0, `${example.name}, ${what}`);
        assert.equal(result.stdout, "", `${example.name}, ${what}`);
        assert.match(result.stderr, error, `${example.name}, ${what}`);
      }
      if (!example.anyUid) {
        const result = await _spawn(example, ["a&b", "hi"], env);
        assert.match(result.stderr, /^Cannot sign "a&b": this script takes uids of/);
      }
    }
    assert.ok(ran > 0, "no example could run");
    assert.equal(await redis.cli("DBSIZE"), "0");
  },
});

/** Runs the example; returns what it printed, the query for the page. */
async function _run(
  example: _Example,
  args: string[],
  env: Record<string, string>,
): Promise<string> {
  const result = await _spawn(example, args, env);
  assert.equal(result.code, 0, `${example.name}: ${result.stderr}`);
  return result.stdout.trim();
}

function _spawn(example: _Example, args: string[], env: Record<string, string>) {
  const [command, ...rest] = example.command;
  return runCommand(command, [...rest, ...args], {
    cwd: ROOT,
    env: { PATH: Deno.env.get("PATH") ?? "", ...env },
    clearEnv: true,
  });
}

/** A python3 that imports redis: the one on PATH, else Debian's. */
async function _pythonWithRedis(): Promise<string | undefined> {
  for (const python of ["python3", "/usr/bin/python3"]) {
    if (await canRun(python, ["-c", "import redis"])) return python;
  }
  return undefined;
}

async function _exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
