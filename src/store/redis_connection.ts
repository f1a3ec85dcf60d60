/**
 * What every Redis connection of the store shares: its options, and the
 * parts of a URL it needs.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { RESP_TYPES } from "redis";
import { exponentialBackoff } from "../backoff.ts";

/** What the store needs of a client or a cluster to run its commands. */
export interface RedisCommands {
  /** `RPUSH key value`. */
  rPush(key: string, value: string | Buffer): Promise<number>;
  /** `LPUSH key value`. */
  lPush(key: string, value: string): Promise<number>;
  /** `LTRIM key start stop`. */
  lTrim(key: string, start: number, stop: number): Promise<string>;
  /** `EXPIRE key seconds`. */
  expire(key: string, seconds: number): Promise<number>;
  /** `TYPE key`. */
  type(key: string): Promise<string>;
  /** `EVAL script`. */
  eval(
    script: string,
    options: { keys: string[]; arguments: (string | Buffer)[] },
  ): Promise<unknown>;
  /** `EVALSHA sha1`: a script Redis has cached. */
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /** Connects, retrying on the reconnect strategy. */
  connect(): Promise<unknown>;
  /** Closes after the replies due. */
  close(): Promise<void>;
  /** Closes at once. */
  destroy(): void;
  /** A connection error. */
  on(event: "error", listener: (error: unknown) => void): unknown;
  /** Connected and ready for commands. */
  on(event: "ready", listener: () => void): unknown;
  /** True while connected and ready. */
  readonly isReady: boolean;
  /** True while connected or trying to. */
  readonly isOpen: boolean;
  /** The same connection, with bulk-string replies as bytes. */
  withTypeMapping(mapping: { [RESP_TYPES.BLOB_STRING]: typeof Buffer }): RedisByteCommands;
}

/** The commands whose replies the store reads as bytes, to check their UTF-8. */
export interface RedisByteCommands {
  /** `RPOP key`. */
  rPop(key: string): Promise<Uint8Array | null>;
  /** `LRANGE key start stop`. */
  lRange(key: string, start: number, stop: number): Promise<Uint8Array[]>;
  /** `EVAL script`. */
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** The options every connection shares, command or subscriber, node or cluster. */
export interface ConnectionOptions {
  /** Reconnects on a backoff of 50 ms doubling to 1 s, with jitter. */
  socket: { reconnectStrategy: (retries: number) => number };
  /** The client's own per-command timeout, off: the store has its own deadlines. */
  commandOptions: { timeout: number };
  /** Redis Enterprise maintenance hand-offs: not used, and they cost. */
  maintNotifications: "disabled";
}

/**
 * The options every connection shares.
 *
 * @example
 * ```ts
 * import { connectionOptions } from "./redis_connection.ts";
 * console.log(connectionOptions().commandOptions.timeout); // 0
 * ```
 */
export function connectionOptions(): ConnectionOptions {
  // Short and capped: once Redis is back, polls are served again within about
  // 100 ms. A refused connection costs next to nothing meanwhile.
  const reconnect = exponentialBackoff({ base: 20, max: 100, jitter: 0.5 });
  return {
    socket: { reconnectStrategy: (retries: number) => reconnect(retries) },
    // node-redis 6 gives every command a 5 s timeout of its own: a timer
    // and an AbortSignal per command, and a timed-out command's reply is
    // dropped when Redis answers late. The store keeps deadlines of its
    // own, which put a late message back, so the client's is off.
    commandOptions: { timeout: 0 },
    maintNotifications: "disabled",
  };
}

/**
 * The user name and password of a Redis URL, decoded.
 *
 * @example
 * ```ts
 * import { credentialsOf } from "./redis_connection.ts";
 * console.log(credentialsOf("redis://app:p%40ss@127.0.0.1:6379").password); // p@ss
 * ```
 */
export function credentialsOf(url: string): { username?: string; password?: string } {
  const parsed = URL.parse(url);
  if (parsed === null) return {};
  const { username, password } = parsed;
  return {
    username: username ? decodeURIComponent(username) : undefined,
    password: password ? decodeURIComponent(password) : undefined,
  };
}

/**
 * The database number of a Redis URL (`/2`), 0 when it has none.
 *
 * @example
 * ```ts
 * import { databaseOf } from "./redis_connection.ts";
 * console.log(databaseOf("redis://127.0.0.1:6379/2")); // 2
 * ```
 */
export function databaseOf(url: string): number {
  const db = Number(URL.parse(url)?.pathname.slice(1) || "0");
  return Number.isInteger(db) ? db : 0;
}

/**
 * The message of anything thrown.
 *
 * @example
 * ```ts
 * import { messageOf } from "./redis_connection.ts";
 * console.log(messageOf(new Error("boom")), messageOf("plain")); // boom plain
 * ```
 */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * `bytes` as the client sends them, without a copy.
 *
 * @example
 * ```ts
 * import { bufferOf } from "./redis_connection.ts";
 * console.log(bufferOf(new Uint8Array([104, 105])).toString()); // hi
 * ```
 */
export function bufferOf(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Throws a TypeError unless `url` is a `redis://` or `rediss://` URL.
 *
 * @example
 * ```ts
 * import { checkRedisUrl } from "./redis_connection.ts";
 * checkRedisUrl("redis://127.0.0.1:6379");
 * try {
 *   checkRedisUrl("http://127.0.0.1:6379");
 * } catch (error) {
 *   console.log((error as Error).message);
 *   // Cannot create RedisStore: expected a redis:// or rediss:// URL, got "http://127.0.0.1:6379"
 * }
 * ```
 */
export function checkRedisUrl(url: string): void {
  if (!/^rediss?:\/\//.test(url) || URL.parse(url) === null) {
    throw new TypeError(
      `Cannot create RedisStore: expected a redis:// or rediss:// URL, got "${url}"`,
    );
  }
}
