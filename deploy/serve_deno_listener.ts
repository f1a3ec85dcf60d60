/**
 * `Deno.serve` that outlives its file limit, for `deploy/serve.ts`.
 *
 * When `Deno.serve` cannot accept a connection (too many open files), its
 * accept loop ends for good: the listening socket closes, `finished`
 * rejects, and with nothing else pending the process exits. The
 * connections it already accepted go on being served. So this listener:
 *
 * - shuts that server down gracefully, which closes at once every
 *   connection that carries no request (idle, still sending its head, kept
 *   alive between requests) while held polls stay and get their answers;
 * - listens again on the same port, after 50 ms, doubling to 1 s while the
 *   failures go on; in between, new connections are refused;
 * - keeps file descriptors in reserve (handles on `/dev/null`), so that
 *   accepting fails at the connection cap rather than at the file limit,
 *   and lets them go while connections are shed, for Redis and logs;
 * - serves one request at a time per connection, so that HTTP/2 without
 *   TLS can't put many polls on one connection past the cap (see
 *   `serve_one_request_per_connection.ts`).
 *
 * `Deno.serve` (Deno 2.9) has no header timeout and no connection cap, and
 * no way to serve a listener of one's own: a connection that sends nothing
 * stays open until the cap is reached.
 *
 * @module
 */
import type { Logger } from "../src/logger.ts";
import type { ConnectionInfo } from "../src/server/local_request.ts";
import type { Listener, ListenOptions } from "../src/server/serve.ts";
import { oneRequestPerConnection, type ServeHandler } from "./serve_one_request_per_connection.ts";

/** Options of {@linkcode serveGuarded}. */
export interface GuardedServeOptions extends ListenOptions {
  /** The process's open-file limit, or undefined where unknown. */
  readonly fileLimit: number | undefined;
}

/** First and last wait before listening again. */
const BACKOFF_MS = { first: 50, last: 1_000 };
/** Listening this long without a failure ends an episode. */
const QUIET_MS = 5_000;

/**
 * Serves `fetch` with `Deno.serve` on the address of `options`, listening
 * again whenever accepting fails.
 *
 * @example
 * ```ts ignore
 * import { serveGuarded } from "./serve_deno_listener.ts";
 * const listener = serveGuarded(() => Promise.resolve(new Response("ok")), options);
 * await listener.close();
 * ```
 */
export function serveGuarded(
  fetch: (request: Request, info?: ConnectionInfo) => Response | Promise<Response>,
  options: GuardedServeOptions,
): Listener {
  return new _GuardedServer(fetch, options);
}

class _GuardedServer implements Listener {
  readonly hostname: string;
  readonly port: number;
  readonly #fetch: ServeHandler;
  readonly #options: GuardedServeOptions;
  readonly #logger: Logger;
  /** Servers shutting down: their held polls are still answered. */
  readonly #retiring = new Set<Promise<void>>();
  readonly #reserve: Deno.FsFile[] = [];
  readonly #reserveSize: number;
  #current: Deno.HttpServer<Deno.NetAddr> | undefined;
  #closing = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #quiet: ReturnType<typeof setTimeout> | undefined;
  #backoff = BACKOFF_MS.first;
  #failures = 0;
  #since = 0;

  constructor(
    fetch: (request: Request, info?: ConnectionInfo) => Response | Promise<Response>,
    options: GuardedServeOptions,
  ) {
    this.#fetch = oneRequestPerConnection(fetch);
    this.#options = options;
    this.#logger = options.logger;
    this.#reserveSize = _reserveSize(options);
    this.#fillReserve();
    this.#current = this.#serve(options.port);
    this.hostname = this.#current.addr.hostname;
    this.port = this.#current.addr.port;
  }

  async close(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#retry);
    clearTimeout(this.#quiet);
    if (this.#current !== undefined) this.#retire(this.#current);
    this.#current = undefined;
    this.#emptyReserve();
    await Promise.all(this.#retiring);
  }

  #serve(port: number): Deno.HttpServer<Deno.NetAddr> {
    const { host, reusePort } = this.#options;
    const server = Deno.serve({ hostname: host, port, reusePort, onListen: () => {} }, this.#fetch);
    server.finished.catch((error) => this.#failed(server, error));
    return server;
  }

  #failed(server: Deno.HttpServer<Deno.NetAddr>, error: unknown): void {
    if (this.#closing || server !== this.#current) return;
    this.#current = undefined;
    this.#emptyReserve();
    this.#retire(server);
    this.#episode(error);
  }

  #retire(server: Deno.HttpServer<Deno.NetAddr>): void {
    const done: Promise<void> = server.shutdown().catch(() => {}).finally(() =>
      this.#retiring.delete(done)
    );
    this.#retiring.add(done);
  }

  /** Counts a failure, says so on the first of an episode, and listens again later. */
  #episode(error: unknown): void {
    clearTimeout(this.#quiet);
    if (this.#failures++ === 0) {
      this.#since = Date.now();
      this.#logger.warn(
        `Cannot accept connections: ${this.#reason(error)}; closing the connections that ` +
          "carry no request, and listening again",
      );
    }
    this.#retry = setTimeout(() => this.#listenAgain(), this.#backoff);
    this.#backoff = Math.min(this.#backoff * 2, BACKOFF_MS.last);
  }

  #listenAgain(): void {
    if (this.#closing) return;
    this.#fillReserve();
    try {
      this.#current = this.#serve(this.port);
    } catch (error) {
      return this.#episode(error);
    }
    const seconds = (Date.now() - this.#since) / 1000;
    this.#quiet = setTimeout(() => this.#recovered(seconds), QUIET_MS);
  }

  /** Says that an episode is over, with the count of failures. */
  #recovered(seconds: number): void {
    this.#logger.info(`Accepting connections again after ${seconds.toFixed(1)} s`, {
      failed: this.#failures,
    });
    this.#failures = 0;
    this.#backoff = BACKOFF_MS.first;
  }

  #reason(error: unknown): string {
    const message = error instanceof Error ? error.message : String(error);
    if (!/os error 24\b/.test(message)) return `"${message}"`;
    const { fileLimit, maxConnections } = this.#options;
    return `too many open files (connection cap ${maxConnections ?? "none"}, file limit ${
      fileLimit ?? "unknown"
    })`;
  }

  #fillReserve(): void {
    try {
      while (this.#reserve.length < this.#reserveSize) {
        this.#reserve.push(Deno.openSync("/dev/null"));
      }
    } catch {
      // Full already: the rest waits for the next listen.
    }
  }

  #emptyReserve(): void {
    for (const file of this.#reserve.splice(0)) file.close();
  }
}

/**
 * Descriptors to hold back so that connections can't pass the cap: what the
 * file limit leaves over the cap, less what the process has open already
 * and the listening socket.
 */
function _reserveSize(options: GuardedServeOptions): number {
  const { fileLimit, maxConnections } = options;
  const open = _openFiles();
  if (fileLimit === undefined || maxConnections === undefined || open === undefined) return 0;
  return Math.max(0, fileLimit - maxConnections - open - 1);
}

/** How many files this process has open, where `/proc` tells. */
function _openFiles(): number | undefined {
  try {
    return Array.from(Deno.readDirSync("/proc/self/fd")).length;
  } catch {
    return undefined;
  }
}
