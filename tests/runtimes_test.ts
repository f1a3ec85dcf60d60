/**
 * The same handler and Redis store under Node 20 (through the
 * `@hono/node-server` fetch adapter) and under Bun (`Bun.serve`).
 *
 * Each runner in tests/runtimes/ is bundled with `deno bundle` into one
 * file of plain JavaScript (npm packages included), which `node` and `bun`
 * run with no `node_modules`. The source is the module's own `mod.ts` and
 * `src/store/redis.ts`, unchanged.
 *
 * Where `node` or `bun` is missing the test is skipped with a line saying
 * so, except in CI (`CI` set), where it fails: .ci/install_runtimes.sh
 * installs both.
 */
import assert from "node:assert/strict";
import { redisTest } from "./_redis_gate.ts";
import { type RedisServer, startRedisServer } from "./_support/redis_server.ts";
import { waitUntil } from "./_support/wait_until.ts";
import { type ChildProcess, startProcess } from "./_serve_process.ts";

const STOP = '{"stop":1}';
const ROOT = new URL("../", import.meta.url).pathname;

interface _Runtime {
  /** The binary, as on PATH. */
  binary: string;
  /** The runner in tests/runtimes/. */
  entry: string;
  /** Version this project supports, as `major.` prefix of `--version`. */
  wantedMajor?: string;
}

const RUNTIMES: _Runtime[] = [
  { binary: "node", entry: "tests/runtimes/node_server.ts", wantedMajor: "v20." },
  { binary: "bun", entry: "tests/runtimes/bun_server.ts" },
];

for (const runtime of RUNTIMES) {
  const version = await _version(runtime.binary);
  const missing = version === undefined;
  if (missing && Deno.env.get("CI")) {
    throw new Error(
      `Cannot run the ${runtime.binary} tests: "${runtime.binary}" is not on PATH ` +
        `(.ci/install_runtimes.sh installs it)`,
    );
  }
  if (missing) {
    console.log(
      `Skipping the ${runtime.binary} tests: "${runtime.binary}" is not on PATH ` +
        `(run .ci/install_runtimes.sh)`,
    );
  }
  const name = `runtimes: under ${runtime.binary} ${version ?? ""}`.trim();
  const test = redisTest(
    `${name}: a poll, a wake from LPUSH, a client leaving, the stop code`,
    () => _exercise(runtime),
  );
  Deno.test({ ...test, ignore: test.ignore || missing });
}

async function _exercise(runtime: _Runtime): Promise<void> {
  if (runtime.wantedMajor !== undefined) {
    const version = await _version(runtime.binary);
    assert.ok(version?.startsWith(runtime.wantedMajor), `${runtime.binary} ${version}`);
  }
  await using redis = await startRedisServer();
  await using bundle = await _bundle(runtime.entry);
  // Long waits: within this test only a wake can answer a held poll.
  await using server = await _spawn(runtime.binary, bundle.file, {
    REDIS_URL: redis.url,
    MIN_WAIT: "60",
    MAX_WAIT: "60",
  });
  // Short waits: the hold runs out with the stop code.
  await using short = await _spawn(runtime.binary, bundle.file, {
    REDIS_URL: redis.url,
    MIN_WAIT: "0.2",
    MAX_WAIT: "0.4",
  });
  using client = Deno.createHttpClient({});
  const get = async (origin: string, query: string, signal?: AbortSignal) => {
    const response = await fetch(`${origin}/?${query}`, {
      client,
      signal: signal ?? AbortSignal.timeout(15_000),
    });
    return { status: response.status, body: await response.text(), headers: response.headers };
  };

  // A message already waiting.
  await _lpush(redis, "a", '{"n":1}');
  const first = await get(server.origin, "uid=a");
  assert.equal(first.status, 200);
  assert.equal(first.body, '{"n":1}');
  assert.equal(first.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(first.headers.get("cache-control"), "no-store");

  // A held poll woken by a plain LPUSH (keyspace notification).
  const held = get(server.origin, "uid=b&jsonCallback=onMessage");
  await _waitUntilHeld(server, 1);
  await _lpush(redis, "b", '{"n":2}');
  assert.equal((await held).body, '/**/onMessage({"n":2});');

  // A client that leaves a held poll: the runtime's adapter aborts the
  // request's signal, the hold stops, and the next message waits in Redis.
  const leaving = new AbortController();
  const left = get(server.origin, "uid=c", leaving.signal).catch(() => "left");
  await _waitUntilHeld(server, 1);
  leaving.abort();
  assert.equal(await left, "left");
  await _waitUntilHeld(server, 0);
  await _lpush(redis, "c", '{"n":3}');
  assert.equal(await redis.cli("LRANGE", "Q/MSGc", "0", "-1"), '{"n":3}');
  assert.equal((await get(server.origin, "uid=c")).body, '{"n":3}');

  // An error answer, as from Deno.
  const bad = await get(server.origin, "uid=");
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.body).error, /uid/);

  // The stop code when the hold runs out…
  const timedOut = await get(short.origin, "uid=d");
  assert.equal(timedOut.status, 200);
  assert.equal(timedOut.body, STOP);

  // …and on SIGTERM: the held poll gets it, the process exits 0.
  const draining = get(server.origin, "uid=e");
  await _waitUntilHeld(server, 1);
  assert.equal(await server.stop("SIGTERM"), 0, server.output());
  assert.equal((await draining).body, STOP);
}

/** Waits until the runner holds `count` polls (its `GET /held`). */
async function _waitUntilHeld(server: { origin: string }, count: number): Promise<void> {
  let held: unknown;
  await waitUntil(async () => {
    held = (await (await fetch(`${server.origin}/held`)).json()).held;
    return held === count;
  }, { what: () => `${count} held, got ${held}`, intervalMs: 20 });
}

async function _lpush(redis: RedisServer, uid: string, message: string): Promise<void> {
  assert.match(await redis.cli("LPUSH", `Q/MSG${uid}`, message), /^\d+$/);
}

interface _Bundle extends AsyncDisposable {
  readonly file: string;
}

/** Bundles a runner into one ES module, npm packages included. */
async function _bundle(entry: string): Promise<_Bundle> {
  const dir = await Deno.makeTempDir({ prefix: "longpoll-bundle-" });
  const file = `${dir}/server.mjs`;
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "--output", file, entry],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(success, `deno bundle ${entry}: ${new TextDecoder().decode(stderr)}`);
  return {
    file,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}

/** Runs `binary file` with `env`, waiting for its `listening <port>` line. */
async function _spawn(
  binary: string,
  file: string,
  env: Record<string, string>,
): Promise<ChildProcess & { origin: string }> {
  const child = await startProcess({
    command: binary,
    args: [file],
    env: { ...env, PORT: "0", NO_COLOR: "1" },
    ready: /listening (\d+)/,
  });
  return { ...child, origin: `http://127.0.0.1:${child.ready[1]}` };
}

async function _version(binary: string): Promise<string | undefined> {
  try {
    const { success, stdout } = await new Deno.Command(binary, {
      args: ["--version"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return success ? new TextDecoder().decode(stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}
