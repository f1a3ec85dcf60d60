/**
 * Starts Nchan (nginx with the Debian `libnginx-mod-nchan` module) as the
 * peer: Redis storage (the headline, like for like with ours on Redis) or
 * its memory store (beside the embedded default), long-poll subscriber at
 * `/?uid=`, HTTP publisher at `/publish?uid=`, status at `/nchan_status`.
 *
 * @module
 */
import { freePort } from "../testing/free_port.ts";
import { pollUntil } from "../testing/wait_until.ts";
import { childPids } from "./proc_stats.ts";
import type { ProcessGroup } from "./process_group.ts";
import { NAMES } from "./results.ts";
import { type BenchTarget, tail } from "./target.ts";

/** Where Debian installs the module. */
const MODULE_PATHS = [
  "/usr/lib/nginx/modules/ngx_nchan_module.so",
  "/usr/share/nginx/modules/ngx_nchan_module.so",
];

/** Options of {@linkcode startNchan}. */
export interface NchanOptions {
  /** The group that owns the process. */
  group: ProcessGroup;
  /** Directory for the config, logs and temp files. */
  dir: string;
  /** Port of the Redis that stores the messages; undefined for Nchan's memory store. */
  redisPort: number | undefined;
  /** nginx worker processes (`reuseport` when above 1). @default {1} */
  workers?: number;
  /** Hold EventSource subscribers (`/events?uid=`) rather than long-polls. @default {false} */
  stream?: boolean;
}

/**
 * Why Nchan can't run here, or undefined when nginx and the module are there.
 *
 * @example
 * ```ts
 * import { nchanMissing } from "./nchan_server.ts";
 * const why = await nchanMissing();
 * console.log(why === undefined || why.length > 0); // true
 * ```
 */
export async function nchanMissing(): Promise<string | undefined> {
  try {
    await new Deno.Command("nginx", { args: ["-v"], stdout: "null", stderr: "null" }).output();
  } catch {
    return "nginx is not on PATH (Debian: apt-get install nginx libnginx-mod-nchan)";
  }
  if (_modulePath() === undefined) {
    return `the nchan module is not at ${
      MODULE_PATHS.map((path) => `"${path}"`).join(" or ")
    } (Debian: apt-get install libnginx-mod-nchan)`;
  }
  return undefined;
}

/**
 * Writes an nginx config into `dir`, starts nginx in the foreground and waits
 * until the status page answers.
 *
 * @example
 * ```ts ignore
 * import { startNchan } from "./nchan_server.ts";
 * import { ProcessGroup } from "./process_group.ts";
 * await using group = new ProcessGroup();
 * const nchan = await startNchan({ group, dir: await Deno.makeTempDir(), redisPort: 6379 });
 * console.log(nchan.port);
 * ```
 */
export async function startNchan(options: NchanOptions): Promise<BenchTarget> {
  const module = _modulePath();
  if (module === undefined) throw new Error("Cannot start nginx: the nchan module is missing");
  const port = freePort();
  const workers = options.workers ?? 1;
  const dir = `${options.dir}/nchan-${port}`;
  await Deno.mkdir(dir, { recursive: true });
  const config = `${dir}/nginx.conf`;
  await Deno.writeTextFile(
    config,
    nchanConfig({ module, dir, port, workers, redisPort: options.redisPort }),
  );
  const tracked = options.group.spawn({
    name: "nginx (nchan)",
    command: "nginx",
    args: ["-p", dir, "-c", config, "-e", `${dir}/error.log`],
    logFile: `${dir}/stdout.log`,
    stopSignal: "SIGTERM",
    killChildren: true,
  });
  const stop = () => options.group.stop(tracked, 5_000);
  let exited = false;
  tracked.child.status.then(() => exited = true);
  const up = await pollUntil(async () => {
    if (exited) return true;
    const response = await fetch(`http://127.0.0.1:${port}/nchan_status`);
    const status = await response.text();
    // Publishing gets 503 until the worker has its Redis connection.
    const connected = options.redisPort === undefined ||
      /^redis connected servers: [1-9]/m.test(status);
    return response.ok && connected &&
      childPids(tracked.child.pid).length === workers;
  }, { timeoutMs: 20_000, intervalMs: 25, retryErrors: true });
  if (!up || exited) {
    await stop();
    throw new Error(
      `Cannot start nginx: ${exited ? "it exited" : "no answer within 20 s"}; error log:\n${
        tail(`${dir}/error.log`, 20)
      }`,
    );
  }
  return {
    name: options.stream
      ? NAMES.nchanEvents
      : options.redisPort === undefined
      ? NAMES.nchanMemory
      : NAMES.nchan,
    port,
    pollPath: options.stream ? "/events?uid=" : "/?uid=",
    stream: options.stream,
    publish: { kind: "http", port, path: "/publish?uid=" },
    pids: () => childPids(tracked.child.pid),
    heldCount: async () => {
      const response = await fetch(`http://127.0.0.1:${port}/nchan_status`);
      const match = /^subscribers: (\d+)$/m.exec(await response.text());
      return match === null ? undefined : Number(match[1]);
    },
    stop,
  };
}

/**
 * The nginx config of the peer.
 *
 * @example
 * ```ts
 * import { nchanConfig } from "./nchan_server.ts";
 * const text = nchanConfig({
 *   module: "/m.so",
 *   dir: "/tmp/x",
 *   port: 8080,
 *   workers: 1,
 *   redisPort: 6379,
 * });
 * console.log(text.includes("nchan_subscriber longpoll")); // true
 * const memory = nchanConfig({ module: "/m.so", dir: "/x", port: 1, workers: 1, redisPort: undefined });
 * console.log(memory.includes("nchan_redis_pass")); // false
 * ```
 */
export function nchanConfig(
  options: {
    module: string;
    dir: string;
    port: number;
    workers: number;
    redisPort: number | undefined;
  },
): string {
  const { module, dir, port, workers, redisPort } = options;
  const reuse = workers > 1 ? " reuseport" : "";
  const upstream = redisPort === undefined ? "" : `upstream bench_redis {
    nchan_redis_server redis://127.0.0.1:${redisPort};
  }`;
  const pass = redisPort === undefined ? "" : "nchan_redis_pass bench_redis;";
  return `load_module ${module};
daemon off;
worker_processes ${workers};
worker_rlimit_nofile 20000;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events {
  worker_connections 24000;
  multi_accept on;
}
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_timeout 1000s;
  keepalive_requests 100000000;
  tcp_nodelay on;
  ${upstream}
  server {
    listen 127.0.0.1:${port}${reuse};
    location = / {
      nchan_subscriber longpoll;
      nchan_channel_id $arg_uid;
      ${pass}
      nchan_subscriber_timeout 900s;
      nchan_subscriber_first_message oldest;
    }
    location = /events {
      nchan_subscriber eventsource;
      nchan_channel_id $arg_uid;
      ${pass}
      nchan_subscriber_timeout 900s;
    }
    location = /publish {
      nchan_publisher http;
      nchan_channel_id $arg_uid;
      ${pass}
      # The burst scenario keeps 1,000 messages on one channel (the default keeps 10).
      nchan_message_buffer_length 1000;
    }
    location = /nchan_status {
      nchan_stub_status;
    }
  }
}
`;
}

function _modulePath(): string | undefined {
  for (const path of MODULE_PATHS) {
    try {
      Deno.statSync(path);
      return path;
    } catch {
      // next
    }
  }
  return undefined;
}
