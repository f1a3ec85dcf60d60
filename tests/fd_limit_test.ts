/**
 * The serve entries of Deno, Node and Bun under a low file limit
 * (`ulimit -n 256`), flooded with more connections than the limit allows:
 * idle ones that send nothing, ones that trickle their request head a byte
 * at a time, and signed polls. The process must stay alive, the polls it
 * held before the flood must get their messages, and once the flood closes
 * it must serve new polls again. Node and Bun are skipped where missing,
 * except in CI.
 */
import assert from "node:assert/strict";
import { HmacSigner } from "../src/signature.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { canRun } from "../testing/can_run.ts";
import { freePort } from "../testing/free_port.ts";
import { startRedisServer } from "../testing/redis_server.ts";
import { startProcess } from "../testing/serve_process.ts";
import { sleep, waitUntil } from "../testing/wait_until.ts";
import { type HasOrigin, waitUntilHeld } from "../testing/held_polls.ts";
import { TEST_SECRET } from "../testing/secrets.ts";

const FILE_LIMIT = 256;
const SECRET = TEST_SECRET;
const ROOT = new URL("../", import.meta.url).pathname;
const signer = new HmacSigner({ secret: SECRET });
const encoder = new TextEncoder();

/** A runtime's serve entry, and how it behaves at its file limit. */
interface _Runtime {
  readonly name: string;
  readonly binary: string;
  readonly entry: string;
  /** Bundled first (`deno bundle`), as the task does, or run as it is. */
  readonly bundled: boolean;
  /** Logs when accepting fails and it listens again (the Deno entry). */
  readonly listensAgain: boolean;
  /** Closes a connection that sends no request head within `HEADER_TIMEOUT` (Node). */
  readonly headerTimeout: boolean;
}

const RUNTIMES: _Runtime[] = [
  {
    name: "deno",
    binary: Deno.execPath(),
    entry: "deploy/cli.ts",
    bundled: false,
    listensAgain: true,
    headerTimeout: false,
  },
  {
    name: "node",
    binary: "node",
    entry: "deploy/serve_node.ts",
    bundled: true,
    listensAgain: false,
    headerTimeout: true,
  },
  {
    name: "bun",
    binary: "bun",
    entry: "deploy/serve_bun.ts",
    bundled: true,
    listensAgain: false,
    headerTimeout: false,
  },
];

for (const runtime of RUNTIMES) {
  const missing = !await canRun(runtime.binary);
  const test = redisTest(
    `fd limit: under ${runtime.name}, a flood past the file limit leaves the process alive, ` +
      "its held polls served",
    () => _flood(runtime),
  );
  Deno.test({ ...test, ignore: test.ignore || (missing && !Deno.env.get("CI")) });
}

async function _flood(runtime: _Runtime): Promise<void> {
  await using redis = await startRedisServer();
  await using dir = await _tempDir();
  const port = freePort();
  const entry = runtime.bundled ? await _bundle(runtime.entry, dir.path) : [
    "run",
    "--allow-all",
    "--unstable-no-legacy-abort",
    "--unstable-net",
    `${ROOT}${runtime.entry}`,
    "serve",
  ];
  await using server = await startProcess({
    command: "bash",
    args: ["-c", `ulimit -n ${FILE_LIMIT} && exec "$0" "$@"`, runtime.binary, ...entry],
    env: {
      PORT: String(port),
      HOST: "127.0.0.1",
      REDIS_URL: redis.url,
      SIGN_SECRET: SECRET,
      // Only a message answers a held poll within this test.
      MIN_WAIT: "60",
      MAX_WAIT: "60",
      DRAIN_WINDOW: "0",
      HEADER_TIMEOUT: "1",
      NO_COLOR: "1",
    },
    ready: /listening on/,
  });
  let exited = false;
  server.process.status.then(() => exited = true);

  const held = await Promise.all(["a", "b", "c", "d", "e"].map((uid) => _poll(port, uid)));
  await waitUntilHeld(_local(port), held.length, { retryErrors: true });

  // Connections are refused while the server listens again, so the flood
  // retries until it has opened well over the file limit.
  const flood = new _Flood(port);
  const deadline = Date.now() + 10_000;
  for (let i = 0; flood.opened < 2 * FILE_LIMIT; i++) {
    assert.ok(!exited, `the server exited:\n${server.output()}`);
    assert.ok(Date.now() < deadline, `only ${flood.opened} sockets opened in 10 s`);
    await flood.idle();
    await flood.trickle();
    await flood.poll(`flood${i}`);
  }
  if (runtime.listensAgain) {
    await waitUntil(
      () => /Cannot accept connections: too many open files/.test(server.output()),
      { what: "the server to say it cannot accept" },
    );
  }
  await sleep(500);
  assert.ok(!exited, `the server exited:\n${server.output()}`);

  for (const poll of held) await redis.cli("LPUSH", `Q/MSG${poll.uid}`, `{"to":"${poll.uid}"}`);
  for (const poll of held) {
    assert.deepEqual(await poll.answer, { status: 200, body: `{"to":"${poll.uid}"}` });
  }

  flood.close();
  const after = await _retry(() => _poll(port, "after"));
  await waitUntilHeld(_local(port), 1, { retryErrors: true });
  await redis.cli("LPUSH", "Q/MSGafter", '{"after":1}');
  assert.deepEqual(await after.answer, { status: 200, body: '{"after":1}' });
  assert.ok(!exited, `the server exited:\n${server.output()}`);

  if (runtime.headerTimeout) {
    const silent = await Deno.connect({ hostname: "127.0.0.1", port });
    const started = Date.now();
    assert.match(await _readToEnd(silent), /^HTTP\/1\.1 408 /);
    assert.ok(Date.now() - started >= 900, `closed after ${Date.now() - started} ms`);
  }

  assert.match(server.output(), /connections: at most 128 \(file limit 256\), MAX_HELD 64/);
  assert.equal(
    server.output().match(/Cannot accept connections/g)?.length ?? 0,
    runtime.listensAgain ? 1 : 0,
    "one warning for the whole flood",
  );
  assert.equal(await server.stop("SIGTERM"), 0, server.output());
  assert.doesNotMatch(server.output(), /Uncaught|error:/i);
}

/** A poll on a connection of its own, and its answer. */
interface _HeldPoll {
  readonly uid: string;
  readonly answer: Promise<{ status: number; body: string }>;
}

async function _poll(port: number, uid: string): Promise<_HeldPoll> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encoder.encode(await _pollHead(uid)));
  const answer = _readAnswer(conn);
  answer.catch(() => {}); // awaited later; a failure then fails the test
  return { uid, answer };
}

async function _pollHead(uid: string): Promise<string> {
  const sign = await signer.sign(uid);
  return `GET /?uid=${uid}&sign=${sign} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
}

/** Reads one answer with a Content-Length within 15 s, then closes the connection. */
async function _readAnswer(conn: Deno.Conn): Promise<{ status: number; body: string }> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(4096);
  let text = "";
  const timer = setTimeout(() => conn.close(), 15_000);
  try {
    for (;;) {
      const end = text.indexOf("\r\n\r\n");
      const head = text.slice(0, end);
      const length = /\r\ncontent-length: (\d+)/i.exec(head)?.[1];
      const body = text.slice(end + 4);
      if (end >= 0 && length !== undefined && encoder.encode(body).length >= Number(length)) {
        return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]), body };
      }
      const read = await conn.read(buffer);
      if (read === null) throw new Error(`Connection closed after ${JSON.stringify(text)}`);
      text += decoder.decode(buffer.subarray(0, read));
    }
  } catch (error) {
    throw new Error(`No answer, got ${JSON.stringify(text)}`, { cause: error });
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

/** Reads until the server closes the connection, for up to 10 s. */
async function _readToEnd(conn: Deno.Conn): Promise<string> {
  const timer = setTimeout(() => conn.close(), 10_000);
  try {
    return await new Response(conn.readable).text();
  } finally {
    clearTimeout(timer);
  }
}

/** Sockets that take file descriptors from the server and give nothing back. */
class _Flood {
  readonly #port: number;
  readonly #conns: Deno.Conn[] = [];
  readonly #trickling: Deno.Conn[] = [];
  readonly #timer: ReturnType<typeof setInterval>;
  #sent = 0;
  opened = 0;

  constructor(port: number) {
    this.#port = port;
    // One more byte of a request head every 100 ms, never the end of it.
    const head = `GET /?uid=slow HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${"p".repeat(500)}`;
    this.#timer = setInterval(() => {
      const byte = encoder.encode(head[this.#sent++ % head.length]);
      for (const conn of this.#trickling) conn.write(byte).catch(() => {});
    }, 100);
  }

  /** A socket that sends nothing. */
  async idle(): Promise<void> {
    await this.#open();
  }

  /** A socket that sends its request head a byte at a time. */
  async trickle(): Promise<void> {
    const conn = await this.#open();
    if (conn !== undefined) this.#trickling.push(conn);
  }

  /** A signed poll that is held, or answered 503 over `MAX_HELD`. */
  async poll(uid: string): Promise<void> {
    const conn = await this.#open();
    conn?.write(encoder.encode(await _pollHead(uid))).catch(() => {});
  }

  close(): void {
    clearInterval(this.#timer);
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // closed by the server already
      }
    }
  }

  async #open(): Promise<Deno.Conn | undefined> {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.#port });
      this.#conns.push(conn);
      this.opened++;
      return conn;
    } catch {
      await sleep(10); // refused while the server listens again
      return undefined;
    }
  }
}

/** Retries `fn` while the connection is refused, for up to 5 s. */
async function _retry<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionRefused) || Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
}

/** The server listening on `port` of this machine. */
function _local(port: number): HasOrigin {
  return { origin: `http://127.0.0.1:${port}` };
}

/** A temporary directory, removed on dispose. */
async function _tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "longpoll-fd-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** Bundles `entry` into `dir` as the tasks do; returns the arguments that run it. */
async function _bundle(entry: string, dir: string): Promise<string[]> {
  const output = `${dir}/server.mjs`;
  const bundled = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "--output", output, entry],
    cwd: ROOT,
    stderr: "inherit",
  }).output();
  assert.ok(bundled.success, `Cannot bundle ${entry}`);
  return [output];
}
