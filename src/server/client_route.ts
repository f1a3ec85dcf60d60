/**
 * `GET /client.js` and `GET /client.global.js`: the browser client, built
 * by `deno task build:client` into src/server/client_files.ts, so a page
 * loads it from the server it polls.
 *
 * @module
 */
import { clip, HttpError } from "../http_error.ts";
import { allowedOrigin } from "../poll_request.ts";
import { CLIENT_FILES } from "./client_files.ts";

/** A path the client is served at. */
export type ClientPath = keyof typeof CLIENT_FILES.files;

/** What {@linkcode clientRoute} needs. */
export interface ClientRouteOptions {
  /** The CORS allowlist of the polls; a module script from another origin needs it. */
  readonly corsOrigins: ReadonlySet<string>;
}

/** The query of a request for a client file, and which file. */
export interface ClientRequest {
  /** The request. */
  readonly request: Request;
  /** Its query, as the router read it. */
  readonly query: string;
  /** The file asked for. */
  readonly path: ClientPath;
}

const METHODS = "GET, HEAD";
/** For a URL whose `v` is the package version: the file there never changes. */
const VERSIONED = "public, max-age=31536000, immutable";
/** For any other URL: kept, but checked again with `If-None-Match` before each use. */
const UNVERSIONED = "no-cache";

/**
 * Makes the route of the client files. Each answer has a strong `ETag`; a
 * request whose `If-None-Match` names it gets `304`. With `?v=` the
 * package version, the answer may be cached for a year (`immutable`);
 * otherwise `no-cache`. `HEAD` answers the headers only, any other method
 * `405`. An allowed `Origin` gets `Access-Control-Allow-Origin`, as polls do.
 *
 * @example
 * ```ts
 * import { clientRoute } from "./client_route.ts";
 * const route = clientRoute({ corsOrigins: new Set() });
 * const request = new Request("http://x/client.global.js");
 * const response = route({ request, query: "", path: "/client.global.js" });
 * console.log(response.headers.get("cache-control")); // no-cache
 * const again = new Request("http://x/client.global.js", {
 *   headers: { "If-None-Match": response.headers.get("etag")! },
 * });
 * console.log(route({ request: again, query: "", path: "/client.global.js" }).status); // 304
 * ```
 */
export function clientRoute(options: ClientRouteOptions): (client: ClientRequest) => Response {
  return ({ request, query, path }) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      throw new HttpError(
        405,
        `Cannot serve "${path}" with method "${clip(request.method)}": use GET or HEAD`,
        { Allow: METHODS },
      );
    }
    const { etag, text } = CLIENT_FILES.files[path];
    const fresh = _matches(request.headers.get("if-none-match"), etag);
    const response = new Response(fresh || request.method === "HEAD" ? null : text, {
      status: fresh ? 304 : 200,
    });
    const headers = response.headers;
    headers.set("etag", etag);
    headers.set(
      "cache-control",
      new URLSearchParams(query).get("v") === CLIENT_FILES.version ? VERSIONED : UNVERSIONED,
    );
    headers.set("content-type", "text/javascript; charset=utf-8");
    headers.set("x-content-type-options", "nosniff");
    if (options.corsOrigins.size > 0) {
      headers.set("vary", "Origin");
      const cors = allowedOrigin(request, options.corsOrigins);
      if (cors !== null) headers.set("access-control-allow-origin", cors);
    }
    return response;
  };
}

/**
 * True when an `If-None-Match` header names `etag`, by the weak comparison
 * revalidation uses (so nginx's `W/` for a gzipped answer still matches).
 */
function _matches(header: string | null, etag: string): boolean {
  if (header === null) return false;
  return header.split(",").some((tag) => {
    const trimmed = tag.trim();
    return trimmed === "*" || (trimmed.startsWith("W/") ? trimmed.slice(2) : trimmed) === etag;
  });
}
