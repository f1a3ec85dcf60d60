/**
 * The shipped deploy/nginx.conf run by a real nginx, in front of real
 * `deno task serve` processes on a real Redis, for the tests that need the
 * whole stack.
 *
 * The site file is a rendered copy of the shipped one: it changes only the
 * upstream ports, the listen ports, the log paths and (where a test says so)
 * proxy_read_timeout, scaled by the same factor as the hold, so a 945 s hold
 * becomes a few seconds. It also adds one response header, the address of
 * the process that answered, so the tests can see where each poll went.
 */
import assert from "node:assert/strict";
import { HmacSigner } from "../mod.ts";
import { canConnect, freePort } from "./free_port.ts";
import { type RedisServer, startRedisServer } from "./redis_server.ts";
import { waitUntil } from "./wait_until.ts";
import { type ServeProcess, startServe } from "./serve_process.ts";
import { waitUntilHeld } from "./held_polls.ts";
import { TEST_SECRET, testSecret } from "./secrets.ts";

/** The shipped site file, as shipped. */
export const SHIPPED_SITE: string = await Deno.readTextFile(
  new URL("../deploy/nginx.conf", import.meta.url),
);
/** `SIGN_SECRET` of the stack's processes. */
const SECRET = TEST_SECRET;
/** `PUBLISH_TOKEN` of the stack's processes. */
export const TOKEN: string = testSecret("token");
/** Default waits of the stack's processes: holds of 0.5 + 1 + 2 = 3.5 s instead of 945 s. */
export const MIN_WAIT = 0.5;
/** See {@linkcode MIN_WAIT}. */
export const MAX_WAIT = 2;
/** Signs polls for the stack's processes. */
export const signer: HmacSigner = new HmacSigner({ secret: SECRET });

/** A running stack: Redis, serve processes, and nginx in front of them. */
export interface Stack extends AsyncDisposable {
  readonly redis: RedisServer;
  readonly processes: ServeProcess[];
  /** The public listener of nginx: `http://127.0.0.1:<port>`. */
  readonly public: string;
  /** The internal (publish) listener of nginx. */
  readonly internal: string;
  /** The folder of nginx's logs. */
  readonly logDir: string;
  readonly client: Deno.HttpClient;
  /** A signed poll through nginx's public listener. */
  poll(uid: string): Promise<Response>;
  /** Fetches and reads the whole answer. */
  get(url: string, init?: RequestInit): Promise<Answer>;
  /** Waits until the processes hold `count` polls between them. */
  waitUntilHeld(count: number): Promise<void>;
  /** Starts process `index` again on its port. */
  restart(index: number): Promise<void>;
}

/** An answer, read whole. */
export interface Answer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

/** Options of {@linkcode startStack}. */
export interface StackOptions {
  /** How many serve processes nginx spreads polls over. */
  processes: number;
  /** Multiplies nginx's proxy_read_timeout and proxy_next_upstream_timeout. */
  timeoutScale?: number;
  /** `DRAIN_WINDOW` of the processes, in seconds (default 1). */
  drainWindow?: number;
  /** More environment of the processes, over the stack's own. */
  env?: Record<string, string>;
}

/** Starts Redis, `processes` serve processes and nginx in front; disposing stops them all. */
export async function startStack(options: StackOptions): Promise<Stack> {
  await using cleanup = new AsyncDisposableStack();
  const redis = cleanup.use(await startRedisServer());
  const env = {
    REDIS_URL: redis.url,
    MIN_WAIT: String(MIN_WAIT),
    MAX_WAIT: String(MAX_WAIT),
    DRAIN_WINDOW: String(options.drainWindow ?? 1),
    SIGN_SECRET: SECRET,
    PUBLISH_TOKEN: TOKEN,
    NO_COLOR: "1",
    ...options.env,
  };
  const start = async (port: number) => {
    const server = await startServe({ ...env, PORT: String(port) });
    await waitUntil(async () => (await _status(`${server.origin}/readyz`)) === 200, {
      what: () => `/readyz; the server printed\n${server.output()}`,
      timeoutMs: 10_000,
      intervalMs: 25,
    });
    return server;
  };
  const processes = await Promise.all(
    Array.from({ length: options.processes }, () => start(freePort())),
  );
  cleanup.defer(() => Promise.all(processes.map((p) => p[Symbol.asyncDispose]())).then(() => {}));
  const nginx = cleanup.use(
    await startNginx({ upstreams: processes.map((p) => p.port), ...options }),
  );
  const client = Deno.createHttpClient({});
  cleanup.defer(() => client.close());
  const get = async (url: string, init: RequestInit = {}): Promise<Answer> => {
    const response = await fetch(url, { ...init, client });
    return {
      status: response.status,
      body: await response.text(),
      headers: Object.fromEntries(response.headers),
    };
  };
  const moved = cleanup.move();
  return {
    redis,
    processes,
    public: nginx.public,
    internal: nginx.internal,
    logDir: nginx.logDir,
    client,
    get,
    async poll(uid) {
      return await fetch(`${nginx.public}/?uid=${uid}&sign=${await signer.sign(uid)}`, { client });
    },
    async waitUntilHeld(count) {
      await waitUntilHeld(processes, count, { timeoutMs: 10_000, intervalMs: 25 });
    },
    async restart(index) {
      await processes[index][Symbol.asyncDispose]();
      processes[index] = await start(processes[index].port);
    },
    [Symbol.asyncDispose]: () => moved.disposeAsync(),
  };
}

/** A running nginx. */
export interface Nginx extends AsyncDisposable {
  readonly public: string;
  readonly internal: string;
  /** The folder of its logs: the shipped `/var/log/nginx/` paths point here. */
  readonly logDir: string;
}

/**
 * The arguments that run, in the foreground, the nginx that
 * {@linkcode writeNginxConfig} wrote into `dir`, logging at `logLevel`.
 *
 * @example
 * ```ts
 * import { nginxArgs } from "./nginx.ts";
 * console.log(nginxArgs("/tmp/x", "warn").slice(0, 2)); // [ "-p", "/tmp/x" ]
 * ```
 */
export function nginxArgs(dir: string, logLevel: string): string[] {
  return [
    "-p",
    dir,
    "-c",
    `${dir}/nginx.conf`,
    "-e",
    `${dir}/error.log`,
    "-g",
    `daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log ${logLevel};`,
  ];
}

/**
 * Writes an nginx that runs as one worker from `dir`: `site` as
 * `dir/site.conf`, included by a main `dir/nginx.conf` whose temporary
 * files stay in `dir`. `workerConnections` (1024 unless given) above 1024
 * also raises the worker's file limit to match.
 *
 * @example
 * ```ts
 * import { writeNginxConfig } from "./nginx.ts";
 * const dir = await Deno.makeTempDir();
 * await writeNginxConfig(dir, "server { listen 127.0.0.1:1; }");
 * console.log((await Deno.readTextFile(`${dir}/nginx.conf`)).includes("site.conf")); // true
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeNginxConfig(
  dir: string,
  site: string,
  workerConnections = 1024,
): Promise<void> {
  await Deno.writeTextFile(`${dir}/site.conf`, site);
  await Deno.writeTextFile(
    `${dir}/nginx.conf`,
    [
      "worker_processes 1;",
      ...(workerConnections > 1024 ? [`worker_rlimit_nofile ${workerConnections + 4000};`] : []),
      `events { worker_connections ${workerConnections}; }`,
      "http {",
      ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(
        (kind) => `  ${kind}_temp_path ${dir}/${kind}_temp;`,
      ),
      `  include ${dir}/site.conf;`,
      "}",
    ].join("\n"),
  );
}

/**
 * Runs nginx on the shipped site file, rendered for the test: upstream
 * ports, listen ports and log paths replaced, and proxy_read_timeout /
 * proxy_next_upstream_timeout multiplied by `timeoutScale`.
 * `readTimeoutSeconds` replaces the poll route's shipped proxy_read_timeout
 * first (60 is nginx's own default).
 */
export async function startNginx(
  options: { upstreams: number[]; timeoutScale?: number; readTimeoutSeconds?: number },
): Promise<Nginx> {
  const dir = await Deno.makeTempDir({ prefix: "longpoll-nginx-" });
  const publicPort = freePort();
  const internalPort = freePort();
  const site = _renderSite({
    dir,
    publicPort,
    internalPort,
    upstreams: options.upstreams,
    timeoutScale: options.timeoutScale ?? 1,
    readTimeoutSeconds: options.readTimeoutSeconds,
  });
  await writeNginxConfig(dir, site);
  const nginx = new Deno.Command("nginx", {
    args: nginxArgs(dir, "info"),
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(nginx.stderr).text();
  let exited = false;
  nginx.status.then(() => (exited = true));
  const dispose = async () => {
    if (!exited) {
      const workers = await _children(nginx.pid);
      nginx.kill("SIGTERM");
      const timer = setTimeout(() => {
        for (const pid of [nginx.pid, ...workers]) {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
      }, 5_000);
      await nginx.status;
      clearTimeout(timer);
    }
    await stderr;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await waitUntil(async () => {
      if (exited) throw new Error(`Cannot start nginx: ${await stderr}\n${site}`);
      return await canConnect(publicPort) && await canConnect(internalPort);
    }, { what: () => "nginx to listen", timeoutMs: 10_000, intervalMs: 25 });
  } catch (error) {
    await dispose();
    throw error;
  }
  return {
    public: `http://127.0.0.1:${publicPort}`,
    internal: `http://127.0.0.1:${internalPort}`,
    logDir: dir,
    [Symbol.asyncDispose]: dispose,
  };
}

/**
 * `site` (the shipped site file) with its four upstream `server` lines
 * replaced by one per address, each keeping the shipped parameters; throws
 * when the shipped lines are not there.
 *
 * @example
 * ```ts
 * import { SHIPPED_SITE, withUpstreams } from "./nginx.ts";
 * const site = withUpstreams(SHIPPED_SITE, ["10.0.0.1:8885", "10.0.0.2:8885"]);
 * console.log(site.includes("server 10.0.0.2:8885 max_fails=3 fail_timeout=5s;")); // true
 * ```
 */
export function withUpstreams(site: string, addresses: readonly string[]): string {
  const servers = /^(\s*)server 127\.0\.0\.1:888[5-8]( [^;]*)?;\n/gm;
  assert.equal(site.match(servers)?.length, 4, "the shipped upstream has 8885–8888");
  let first = true;
  return site.replace(servers, (_line, indent: string, params = "") => {
    if (!first) return "";
    first = false;
    return addresses.map((address) => `${indent}server ${address}${params};\n`).join("");
  });
}

/** The shipped site file with the test's ports, paths and timeouts. */
function _renderSite(options: {
  dir: string;
  publicPort: number;
  internalPort: number;
  upstreams: number[];
  timeoutScale: number;
  readTimeoutSeconds?: number;
}): string {
  let site = SHIPPED_SITE;
  const replaceOnce = (pattern: RegExp, by: (match: string, ...groups: string[]) => string) => {
    const count = site.match(new RegExp(pattern.source, "gm"))?.length ?? 0;
    assert.equal(count, 1, `the shipped nginx.conf has one line matching ${pattern}`);
    site = site.replace(new RegExp(pattern.source, "m"), by);
  };
  // The four upstream servers become the test's processes.
  site = withUpstreams(site, options.upstreams.map((port) => `127.0.0.1:${port}`));
  replaceOnce(
    /^(\s*)listen 80 /,
    (_m, indent) => `${indent}listen 127.0.0.1:${options.publicPort} `,
  );
  replaceOnce(
    /^(\s*)listen 127\.0\.0\.1:8880;/,
    (_m, indent) => `${indent}listen 127.0.0.1:${options.internalPort};`,
  );
  site = site.replaceAll("/var/log/nginx/", `${options.dir}/`);
  if (options.readTimeoutSeconds !== undefined) {
    // The poll route's, the first (the /events route has its own).
    replaceOnce(
      /^(\s*location = \/ \{[^}]*?)proxy_read_timeout \d+s;/,
      (_m, before) => `${before}proxy_read_timeout ${options.readTimeoutSeconds}s;`,
    );
  }
  site = site.replace(
    /(proxy_read_timeout|proxy_next_upstream_timeout) (\d+)s;/g,
    (_m, name: string, seconds: string) =>
      `${name} ${Math.max(1, Math.round(Number(seconds) * 1000 * options.timeoutScale))}ms;`,
  );
  // Test-only: which process answered.
  replaceOnce(
    /^(\s*)location = \/ \{\n/,
    (line, indent) => `${line}${indent}    add_header X-Upstream-Addr $upstream_addr always;\n`,
  );
  return site;
}
async function _status(url: string): Promise<number> {
  try {
    const response = await fetch(url);
    await response.body?.cancel();
    return response.status;
  } catch {
    return 0;
  }
}

async function _children(pid: number): Promise<number[]> {
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`);
    return text.trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
