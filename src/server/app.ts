import { createLongPollHandler, type DrainOptions, type LongPollHandler } from "../handler.ts";
import { internalsOf } from "../handler_internals.ts";
import { clip, HttpError } from "../http_error.ts";
import type { Metrics } from "../metrics.ts";
import type { LongPollOptions } from "../options.ts";
import { PLAIN_FORMAT } from "../poll_request.ts";
import { checkHost, requestTarget } from "../request_target.ts";
import { clientRoute } from "./client_route.ts";
import { demoPage, type DemoPublish } from "./demo_page.ts";
import type { ConnectionInfo } from "./local_request.ts";
import { presenceRoute } from "./presence_route.ts";
import { producerCheck, type ProducerCheckOptions } from "./publish_authorization.ts";
import { publishRoute } from "./publish_route.ts";
import { readiness } from "./readiness.ts";
import { chain } from "./route_step.ts";
import { SERVE_DEFAULTS } from "./settings.ts";

/** Options of {@linkcode createServer}: the handler's, the producers', plus the routes'. */
export interface ServerOptions extends LongPollOptions, ProducerCheckOptions {
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
   * Answers any request: `GET /`, `GET /events`, `POST /publish`, `/healthz`, `/readyz`,
   * `/metrics`, `/client.js`, `/client.global.js`. `info` is the connection, as `Deno.serve` passes it; without
   * it the caller is taken to be local.
   */
  fetch(request: Request, info?: ConnectionInfo): Response | Promise<Response>;
  /** The long-poll handler behind `GET /`. */
  readonly handler: LongPollHandler;
  /** Drains the handler; `/readyz` answers 503 from now on. */
  drain(options?: DrainOptions): Promise<void>;
}

/**
 * Creates the server's routes around a long-poll handler:
 *
 * | route | what it does |
 * | --- | --- |
 * | `GET /` | the poll (protocol v1) |
 * | `GET /events` | Server-Sent Events of the uid's messages (`DELIVERY=stream`) |
 * | `POST /publish?uid=` | queues the body for `uid`; needs `Authorization: Bearer <token>` |
 * | `GET /healthz` | liveness |
 * | `GET /readyz` | 503 while the store is unreachable or the server drains; else the queue limits in force |
 * | `GET /metrics` | Prometheus text format |
 * | `GET /client.js` | the browser client, an ES module; `?v=<version>` caches it for a year |
 * | `GET /client.global.js` | the same as the global `LongPoll`, for a plain `<script>` tag |
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
  const internals = internalsOf(handler);
  const { metrics } = handler;
  const producer = producerCheck(options);
  const publish = publishRoute({
    internals,
    producer,
    maxBodyBytes: options.maxBodyBytes ?? SERVE_DEFAULTS.maxBodyBytes,
  });
  const presence = options.presence === undefined
    ? undefined
    : presenceRoute({ presence: options.presence, internals, producer });
  const client = clientRoute({ corsOrigins: internals.options.corsOrigins });
  const demoPublish: DemoPublish = options.publishToken !== undefined
    ? "token"
    : options.openPublish
    ? "open"
    : "off";
  let draining = false;
  const ready = chain([readiness({
    store: options.store,
    responder: internals.responder,
    retryAfter: internals.options.retryAfter,
    draining: () => draining,
  })]);
  const answerError = (error: unknown) => internals.responder.error(error, PLAIN_FORMAT);

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
        return internals.handle(request, query);
      case "/events":
        checkHost(request);
        return handler.events(request);
      case "/publish":
        checkHost(request);
        return publish({ request, query, info }).catch(answerError);
      case "/presence":
        checkHost(request);
        if (presence === undefined) break;
        return presence({ request, query, info }).catch(answerError);
      case "/healthz":
        return _healthy();
      case "/readyz":
        return ready({ request, query, info }).catch(answerError);
      case "/demo":
        if (!options.demo) break;
        return demoPage(demoPublish);
      case "/metrics":
        options.collectMetrics?.(metrics);
        return _prometheusText(metrics.render());
      case "/client.js":
      case "/client.global.js":
        return client({ request, query, path });
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
