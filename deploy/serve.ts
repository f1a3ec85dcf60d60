/**
 * The entry point of `deno task serve`: reads the settings, opens the store,
 * serves the routes, and drains on SIGINT/SIGTERM so that held polls get the
 * stop code and no popped message is lost.
 *
 * @module
 */
import { ConfigError, loadConfig, type ServeConfig } from "../src/server/settings.ts";
import { createServer } from "../src/server/app.ts";
import { MemoryStore } from "../src/store/memory.ts";
import type { MessageStore } from "../src/store/types.ts";

let config: ServeConfig;
try {
  config = loadConfig(Deno.args, Deno.env.toObject());
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  Deno.exit(2);
}

const store = await openStore(config);
const loopback = /^(127\.|::1$|localhost$)/.test(config.host);
const server = createServer({
  store,
  secret: config.signSecret,
  minWait: config.minWait,
  maxWait: config.maxWait,
  stopCode: config.stopCode,
  corsOrigins: config.corsOrigins,
  maxHeld: config.maxHeld,
  maxPollsPerUid: config.maxPollsPerUid,
  maxUidBytes: config.maxUidBytes,
  maxQueryLength: config.maxQueryLength,
  atLeastOnce: config.atLeastOnce,
  lease: config.lease,
  earlyHeaders: config.earlyHeaders,
  publishToken: config.publishToken,
  openPublish: store.kind === "memory" && loopback,
  trustedProxies: config.trustedProxies,
  demo: config.demo,
  maxBodyBytes: config.maxBodyBytes,
});

if (config.signSecret === undefined) {
  console.warn(
    "WARNING: SIGN_SECRET is not set, so signatures are NOT checked: anyone can read any uid's messages",
  );
}

const http = Deno.serve({
  hostname: config.host,
  port: config.port,
  reusePort: config.reusePort,
  onListen({ hostname, port }) {
    const signatures = config.signSecret === undefined ? "NOT checked" : "checked (HMAC-SHA256)";
    const publish = config.publishToken !== undefined
      ? "on (bearer token)"
      : store.kind === "memory" && loopback
      ? "open (in-memory store on loopback)"
      : "off";
    console.log(
      `longpoll listening on http://${hostname}:${port} (pid ${Deno.pid}), store: ${
        describe(config)
      }, signatures: ${signatures}, publish: ${publish}${
        config.demo ? `, demo: http://${hostname}:${port}/demo` : ""
      }`,
    );
  },
}, server.fetch);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  const windowMs = config.drainWindow * 1000;
  console.log(`${signal}: draining ${server.handler.held} held polls over ${windowMs} ms`);
  const drained = server.drain({ windowMs });
  await Promise.all([drained, http.shutdown()]);
  await store.close();
  const metrics = server.handler.metrics;
  console.log(
    `stopped: delivered=${metrics.delivered} timeouts=${metrics.timeouts} drained=${metrics.drained} pushed_back=${metrics.pushedBack}`,
  );
  Deno.exit(0);
}
Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));

async function openStore(config: ServeConfig): Promise<MessageStore> {
  if (config.redisUrl === undefined) return new MemoryStore();
  const { RedisStore } = await import("../src/store/redis.ts");
  const urls = config.redisUrl.split(",").map((url) => url.trim());
  const redis = new RedisStore({
    ...(urls.length > 1 ? { nodes: urls } : { url: urls[0] }),
    keyPrefix: config.keyPrefix,
    notifications: config.redisNotifications,
  });
  if (!await redis.whenReady(5_000)) {
    console.warn(
      `WARNING: Redis at ${
        redactUrl(config.redisUrl)
      } does not answer yet; polls get 503 until it does`,
    );
  }
  return redis;
}

function describe(config: ServeConfig): string {
  return config.redisUrl === undefined
    ? "memory (set REDIS_URL to use Redis)"
    : `${config.redisUrl.includes(",") ? "redis cluster" : "redis"} ${
      redactUrl(config.redisUrl)
    } prefix "${config.keyPrefix}"`;
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/g, "//***@");
}
