/**
 * The whole serve application on every runtime: `deploy/cli.ts serve` under
 * Deno, `deploy/serve_node.ts` under Node 20 (through the
 * `@hono/node-server` fetch adapter) and `deploy/serve_bun.ts` under Bun
 * (`Bun.serve`), on the Redis store: a poll, a wake from LPUSH, a client
 * leaving, `/publish`, `/metrics`, the browser client's files, how soon
 * wakes answer, the stop code, and a SIGTERM drain.
 *
 * The Node and Bun entries are bundled with `deno bundle` into one file of
 * plain JavaScript (npm packages included), as `deno task serve:node` and
 * `deno task serve:bun` do, which `node` and `bun` run with no
 * `node_modules`.
 *
 * Where `node` or `bun` is missing the test is skipped with a line saying
 * so, except in CI (`CI` set), where it fails: .ci/install_runtimes.sh
 * installs both.
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import { CLIENT_FILES } from "../src/server/client_files.ts";
import { type RedisServer, startRedisServer } from "../testing/redis_server.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { type ChildProcess, startProcess } from "../testing/serve_process.ts";
import { waitUntilHeld } from "../testing/held_polls.ts";
import { TEST_SECRET } from "../testing/secrets.ts";

const STOP = '{"stop":1}';
/** Wakes timed per runtime, and the bound on their median, far above what any runtime takes. */
const WAKES = 20;
const WAKE_P50_BOUND_MS = 100;
/** With no drain window, the process exits this soon after SIGTERM (it takes milliseconds). */
const EXIT_BOUND_MS = 2_000;
const ROOT = new URL("../", import.meta.url).pathname;

interface _Runtime {
  /** The binary, as on PATH. */
  binary: string;
  /** The serve entry in deploy/. */
  entry: string;
  /** Version this project supports, as `major.` prefix of `--version`. */
  wantedMajor?: string;
  /** Run the entry as it is (Deno) rather than bundled. */
  unbundled?: boolean;
}

const RUNTIMES: _Runtime[] = [
  { binary: Deno.execPath(), entry: "deploy/cli.ts", unbundled: true },
  { binary: "node", entry: "deploy/serve_node.ts", wantedMajor: "v20." },
  { binary: "bun", entry: "deploy/serve_bun.ts" },
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
  const binaryName = runtime.binary.split("/").at(-1)!;
  const versionLine = version?.split("\n")[0] ?? "";
  const name = `runtimes: under ${
    versionLine.startsWith(binaryName) ? versionLine : `${binaryName} ${versionLine}`
  }`;
  const test = redisTest(
    `${name}: a poll, a wake from LPUSH, a client leaving, /publish, /metrics, the client files, quick wakes, the stop code, a drain`,
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
  await using bundle = await _bundle(runtime);
  // Long waits: within this test only a wake can answer a held poll.
  await using server = await _spawn(runtime.binary, bundle.args, {
    REDIS_URL: redis.url,
    MIN_WAIT: "60",
    MAX_WAIT: "60",
    PUBLISH_TOKEN: TEST_SECRET,
    DRAIN_WINDOW: "0",
  });
  // Short waits, set by flags: the hold runs out with the stop code.
  await using short = await _spawn(runtime.binary, [...bundle.args, "--min-wait", "0.2"], {
    REDIS_URL: redis.url,
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
  await waitUntilHeld(server, 1, { intervalMs: 20 });
  await _lpush(redis, "b", '{"n":2}');
  assert.equal((await held).body, '/**/onMessage({"n":2});');

  // A client that leaves a held poll: the runtime's adapter aborts the
  // request's signal, the hold stops, and the next message waits in Redis.
  const leaving = new AbortController();
  const left = get(server.origin, "uid=c", leaving.signal).catch(() => "left");
  await waitUntilHeld(server, 1, { intervalMs: 20 });
  leaving.abort();
  assert.equal(await left, "left");
  await waitUntilHeld(server, 0, { intervalMs: 20 });
  await _lpush(redis, "c", '{"n":3}');
  assert.equal(await redis.cli("LRANGE", "Q/MSGc", "0", "-1"), '{"n":3}');
  assert.equal((await get(server.origin, "uid=c")).body, '{"n":3}');

  // POST /publish wakes a held poll; /metrics counts it.
  const viaPublish = get(server.origin, "uid=p");
  await waitUntilHeld(server, 1, { intervalMs: 20 });
  const published = await fetch(`${server.origin}/publish?uid=p`, {
    method: "POST",
    headers: { Authorization: `Bearer ${TEST_SECRET}` },
    body: '{"n":4}',
  });
  assert.equal(published.status, 202, await published.text());
  assert.equal((await viaPublish).body, '{"n":4}');
  const metrics = await (await fetch(`${server.origin}/metrics`)).text();
  assert.match(metrics, /^longpoll_published_total 1$/m);
  assert.match(metrics, /^longpoll_delivered_total 4$/m);
  assert.match(server.output(), /longpoll listening on http:\/\/127\.0\.0\.1:\d+ \(pid \d+, /);

  // The browser client, from memory (the bundles read no file), with its ETag and 304.
  for (const [path, { etag, text }] of Object.entries(CLIENT_FILES.files)) {
    const file = await fetch(`${server.origin}${path}`, { client });
    // A runtime that compresses the answer may weaken the ETag.
    assert.equal(file.headers.get("etag")?.replace(/^W\//, ""), etag, path);
    assert.equal(await file.text(), text, path);
    const again = await fetch(`${server.origin}${path}`, {
      client,
      headers: { "If-None-Match": file.headers.get("etag")! },
    });
    assert.equal(again.status, 304, path);
    await again.body?.cancel();
  }

  // Wakes answer at once, from LPUSH's reply to the poll's answer, on every runtime.
  const wakeMs = await _timeWakes(server, redis.url);
  const p50 = wakeMs.toSorted((a, b) => a - b)[Math.floor(WAKES / 2)];
  assert.ok(
    p50 < WAKE_P50_BOUND_MS,
    `Wakes took ${p50.toFixed(1)} ms at the median: ${
      wakeMs.map((ms) => ms.toFixed(1)).join(", ")
    }`,
  );

  // An error answer, as from Deno.
  const bad = await get(server.origin, "uid=");
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.body).error, /uid/);

  // The stop code when the hold runs out…
  const timedOut = await get(short.origin, "uid=d");
  assert.equal(timedOut.status, 200);
  assert.equal(timedOut.body, STOP);

  // …and on SIGTERM: the held poll gets it, the process exits 0, at once,
  // though the poll's connection and the test's others are kept alive.
  const draining = get(server.origin, "uid=e");
  await waitUntilHeld(server, 1, { intervalMs: 20 });
  const signalled = performance.now();
  assert.equal(await server.stop("SIGTERM"), 0, server.output());
  const exitMs = performance.now() - signalled;
  assert.ok(exitMs < EXIT_BOUND_MS, `Exited ${exitMs.toFixed(0)} ms after SIGTERM`);
  assert.equal((await draining).body, STOP);
  assert.match(server.output(), /SIGTERM: draining 1 held polls/);
}

/** Holds a poll, pushes its message, and times LPUSH's reply to the answer, `WAKES` times. */
async function _timeWakes(server: { origin: string }, redisUrl: string): Promise<number[]> {
  const producer = createClient({ url: redisUrl });
  await producer.connect();
  try {
    const samples: number[] = [];
    for (let i = 0; i < WAKES; i++) {
      const answered = (async () => {
        const signal = AbortSignal.timeout(15_000);
        const response = await fetch(`${server.origin}/?uid=quick${i}`, { signal });
        return { body: await response.text(), at: performance.now() };
      })();
      await waitUntilHeld(server, 1, { intervalMs: 20 });
      await producer.lPush(`Q/MSGquick${i}`, `{"i":${i}}`);
      const pushed = performance.now();
      const { body, at } = await answered;
      assert.equal(body, `{"i":${i}}`);
      samples.push(at - pushed);
    }
    return samples;
  } finally {
    await producer.close();
  }
}

async function _lpush(redis: RedisServer, uid: string, message: string): Promise<void> {
  assert.match(await redis.cli("LPUSH", `Q/MSG${uid}`, message), /^\d+$/);
}

interface _Bundle extends AsyncDisposable {
  /** The arguments that run it. */
  readonly args: string[];
}

/** Bundles a serve entry into one ES module, npm packages included, as the tasks do. */
async function _bundle(runtime: _Runtime): Promise<_Bundle> {
  if (runtime.unbundled) {
    const args = ["run", "--allow-all", "--unstable-no-legacy-abort", runtime.entry, "serve"];
    return { args, [Symbol.asyncDispose]: () => Promise.resolve() };
  }
  const dir = await Deno.makeTempDir({ prefix: "longpoll-bundle-" });
  const file = `${dir}/server.mjs`;
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "--output", file, runtime.entry],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(success, `deno bundle ${runtime.entry}: ${new TextDecoder().decode(stderr)}`);
  return {
    args: [file],
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}

/** Runs `binary args` with `env`, waiting for its start-up line. */
async function _spawn(
  binary: string,
  args: string[],
  env: Record<string, string>,
): Promise<ChildProcess & { origin: string }> {
  const child = await startProcess({
    command: binary,
    args,
    env: { ...env, PORT: "0", NO_COLOR: "1", PATH: Deno.env.get("PATH") ?? "" },
    ready: /listening on (http:\/\/\S+:\d+)/,
    cwd: ROOT,
  });
  return { ...child, origin: child.ready[1] };
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
