import { createLongPollHandler, type DrainOptions, type LongPollHandler } from "../handler.ts";
import { internalsOf } from "../handler_internals.ts";
import { clip, HttpError } from "../http_error.ts";
import type { Metrics } from "../metrics.ts";
import type { LongPollOptions } from "../options.ts";
import { checkHost, requestTarget } from "../request_target.ts";
import { secretList, type Secrets } from "../secret_list.ts";
import { storeFailureAnswer } from "../store_failure.ts";
import { validateUid } from "../uid.ts";
import { demoPage } from "./demo_page.ts";
import { isLocalRequest } from "./local_request.ts";
import { SERVE_DEFAULTS } from "./settings.ts";

/** Options of {@linkcode createServer}: the handler's, plus the publish route's. */
export interface ServerOptions extends LongPollOptions {
  /**
   * Bearer token that `POST /publish` requires, or a list while one is
   * rotated: any of them is let in.
   * @default {undefined}
   */
  publishToken?: Secrets;
  /**
   * Let `POST /publish` in without a token, from local requests only: a
   * loopback client (see `trustedProxies`), a loopback `Host`, and no
   * cross-origin `Origin`. Meant for the in-memory store bound to loopback.
   * @default {false}
   */
  openPublish?: boolean;
  /**
   * Called before `/metrics` renders, to copy figures kept elsewhere (such
   * as the store's) into the counters.
   */
  collectMetrics?: (metrics: Metrics) => void;
  /**
   * Serve the demo page at `GET /demo`.
   * @default {false}
   */
  demo?: boolean;
  /**
   * Peer addresses whose `X-Real-IP` header names the real client, such as
   * the nginx in front. Any other peer is the client itself.
   * @default {["127.0.0.1", "::1"]}
   */
  trustedProxies?: readonly string[];
  /**
   * Largest `POST /publish` body, in bytes; larger gets 413.
   * @default {65536}
   */
  maxBodyBytes?: number;
}

/**
 * The routes of `deno task serve`, as one fetch handler.
 *
 * @example
 * ```ts
 * import { createServer } from "./app.ts";
 * import { MemoryStore } from "../store/memory.ts";
 * const server = createServer({ store: new MemoryStore() });
 * console.log((await server.fetch(new Request("http://x/healthz"))).status); // 200
 * ```
 */
export interface Server {
  /**
   * Answers any request: `GET /`, `POST /publish`, `/healthz`, `/readyz`,
   * `/metrics`. `info` is the connection, as `Deno.serve` passes it; without
   * it the caller is taken to be local.
   */
  fetch(request: Request, info?: ConnectionInfo): Response | Promise<Response>;
  /** The long-poll handler behind `GET /`. */
  readonly handler: LongPollHandler;
  /** Drains the handler; `/readyz` answers 503 from now on. */
  drain(options?: DrainOptions): Promise<void>;
}

/** The connection a request came on: `Deno.ServeHandlerInfo` fits. */
export interface ConnectionInfo {
  /** The peer's address. */
  readonly remoteAddr?: { readonly hostname?: string };
}

/**
 * Creates the server's routes around a long-poll handler:
 *
 * | route | what it does |
 * | --- | --- |
 * | `GET /` | the poll (protocol v1) |
 * | `POST /publish?uid=` | queues the body for `uid`; needs `Authorization: Bearer <token>` |
 * | `GET /healthz` | liveness |
 * | `GET /readyz` | 503 while the store is unreachable or the server drains; else the queue limits in force |
 * | `GET /metrics` | Prometheus text format |
 * | `GET /demo` | the demo page, with `demo: true` |
 *
 * @example
 * ```ts
 * import { createServer } from "./app.ts";
 * import { MemoryStore } from "../store/memory.ts";
 * const server = createServer({ store: new MemoryStore(), publishToken: "t0ken" });
 * const published = await server.fetch(
 *   new Request("http://x/publish?uid=42", {
 *     method: "POST",
 *     headers: { Authorization: "Bearer t0ken" },
 *     body: '{"hi":1}',
 *   }),
 * );
 * console.log(published.status); // 202
 * console.log(await (await server.fetch(new Request("http://x/?uid=42"))).text()); // {"hi":1}
 * ```
 */
export function createServer(options: ServerOptions): Server {
  const handler = createLongPollHandler(options);
  const { store } = options;
  const { metrics } = handler;
  const { responder, storeHealth, options: { retryAfter } } = internalsOf(handler);
  const maxBodyBytes = options.maxBodyBytes ?? SERVE_DEFAULTS.maxBodyBytes;
  const tokens = options.publishToken === undefined
    ? undefined
    : secretList("publishToken", options.publishToken).map((token) =>
      new TextEncoder().encode(token)
    );
  let draining = false;

  const trustedProxies: ReadonlySet<string> = new Set(
    options.trustedProxies ?? SERVE_DEFAULTS.trustedProxies,
  );

  /** Lets a producer in: the bearer token, or open publishing for local requests. */
  const authorize = (request: Request, info: ConnectionInfo | undefined, action: string) =>
    _authorize(request, {
      tokens,
      open: (options.openPublish ?? false) && isLocalRequest(request, info, trustedProxies),
      action,
    });

  const ready = async (): Promise<Response> => {
    if (draining) throw new HttpError(503, "Not ready: the server is draining");
    if (!await store.checkReady()) {
      throw new HttpError(503, `Not ready: the ${store.kind} store is unreachable`, {
        "Retry-After": retryAfter,
      });
    }
    return responder.json({
      status: "ready",
      store: store.kind,
      ...(store.queueLimits === undefined ? {} : { queueLimits: store.queueLimits }),
    });
  };

  const presenceOf = async (
    request: Request,
    query: string,
    info: ConnectionInfo | undefined,
  ): Promise<Response> => {
    if (options.presence === undefined) throw new HttpError(404, 'Cannot find "/presence"');
    authorize(request, info, "read presence");
    const uid = validateUid(new URLSearchParams(query).get("uid"), {
      action: "read presence",
      maxBytes: options.maxUidBytes,
    });
    let found;
    try {
      found = await options.presence.lookup(uid);
    } catch (error) {
      throw storeFailureAnswer(error, {
        action: "read presence",
        health: storeHealth,
        retryAfter,
      });
    }
    return responder.json({
      uid,
      present: found.present,
      ...(found.since === undefined ? {} : { since: new Date(found.since).toISOString() }),
    });
  };

  const publish = async (
    request: Request,
    query: string,
    info: ConnectionInfo | undefined,
  ): Promise<Response> => {
    if (request.method !== "POST") {
      throw new HttpError(405, `Cannot publish with method "${clip(request.method)}": use POST`, {
        Allow: "POST",
      });
    }
    authorize(request, info, "publish");
    const uid = validateUid(new URLSearchParams(query).get("uid"), {
      action: "publish",
      maxBytes: options.maxUidBytes,
    });
    const message = await _readBody(request, maxBodyBytes);
    try {
      await store.publish(uid, message);
    } catch (error) {
      throw storeFailureAnswer(error, {
        action: "publish",
        health: storeHealth,
        retryAfter,
      });
    }
    storeHealth.succeeded();
    metrics.published++;
    return responder.json({ published: true }, 202);
  };

  const answerError = (error: unknown) => responder.error(error, _PLAIN);

  /**
   * Routes a request. The poll handler answers its own errors; each other
   * route that answers later catches its own, so a held poll carries no
   * extra promise.
   */
  const route = (request: Request, info?: ConnectionInfo): Promise<Response> | Response => {
    // Liveness probes come thousands of times: an exact "/healthz" skips URL parsing.
    if (_isExactPath(request.url, "/healthz")) return _healthy();
    // The Host is checked only where a smuggled path or query could harm.
    const { path, query } = requestTarget(request, { hostChecked: true });
    switch (path) {
      case "/":
        checkHost(request);
        return handler(request, { query });
      case "/publish":
        checkHost(request);
        return publish(request, query, info).catch(answerError);
      case "/presence":
        checkHost(request);
        return presenceOf(request, query, info).catch(answerError);
      case "/healthz":
        return _healthy();
      case "/readyz":
        return ready().catch(answerError);
      case "/demo":
        if (!options.demo) break;
        return demoPage();
      case "/metrics":
        options.collectMetrics?.(metrics);
        return _prometheusText(metrics.render());
    }
    throw new HttpError(404, `Cannot find "${clip(path)}"`);
  };

  return {
    handler,
    fetch(request, info) {
      try {
        return route(request, info);
      } catch (error) {
        return answerError(error);
      }
    },
    drain(drainOptions) {
      draining = true;
      return handler.drain(drainOptions);
    },
  };
}

const _PLAIN = Object.freeze({ callback: null, cors: null });

/** True when `url`'s path and query are exactly `path`. */
function _isExactPath(url: string, path: string): boolean {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  return start !== -1 && url.length - start === path.length && url.endsWith(path);
}

/**
 * The liveness answer, built for the probes that call it thousands of times:
 * a constant body and the two headers it needs.
 */
function _healthy(): Response {
  const response = new Response('{"status":"ok"}');
  response.headers.set("content-type", "application/json; charset=utf-8");
  response.headers.set("cache-control", "no-store");
  return response;
}

function _prometheusText(text: string): Response {
  const response = new Response(text);
  response.headers.set("content-type", "text/plain; version=0.0.4; charset=utf-8");
  response.headers.set("cache-control", "no-store");
  return response;
}

function _authorize(
  request: Request,
  { tokens, open, action }: {
    tokens: readonly Uint8Array[] | undefined;
    open: boolean;
    action: string;
  },
): void {
  if (tokens === undefined) {
    if (open) return;
    throw new HttpError(
      403,
      `Cannot ${action}: the route is off; set PUBLISH_TOKEN to turn it on`,
    );
  }
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer (.+)$/i.exec(header);
  if (match === null) {
    throw new HttpError(401, `Cannot ${action}: "Authorization: Bearer <token>" is missing`, {
      "WWW-Authenticate": "Bearer",
    });
  }
  const given = new TextEncoder().encode(match[1]);
  // Every token is compared, with no early exit, so the time taken does not tell which matched.
  let matched = false;
  for (const token of tokens) matched = _equalInConstantTime(given, token) || matched;
  if (!matched) {
    throw new HttpError(401, `Cannot ${action}: the bearer token is wrong`, {
      "WWW-Authenticate": "Bearer",
    });
  }
}

function _equalInConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) difference |= (a[i] ?? 0) ^ b[i];
  return difference === 0;
}

async function _readBody(request: Request, maxBytes: number): Promise<string> {
  const tooLarge = () =>
    new HttpError(413, `Cannot publish: the body is larger than ${maxBytes} bytes`);
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBytes) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body !== null) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read().catch(() => {
        // The publisher left mid-body: its fault, not the server's.
        throw new HttpError(400, "Cannot publish: the body was cut off before its end");
      });
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
  }
  if (size === 0) throw new HttpError(400, "Cannot publish: the body is empty");
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "Cannot publish: the body is not valid UTF-8");
  }
}
