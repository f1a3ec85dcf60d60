import { clip, HttpError } from "./http_error.ts";

/** The path and the query of a request, as its request line gave them (dot segments resolved). */
export interface RequestTarget {
  /** The path, such as `/publish`. */
  readonly path: string;
  /** The query, without its `?`; empty when there is none. */
  readonly query: string;
}

/** The usual Host: a name or IPv4 address, or an IPv6 one, with an optional port. */
const PLAIN_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** A Host with any of these would move where the path or query seem to start. */
const SMUGGLING_HOST = /[/?#@\\\s]/;

/** Options of {@linkcode requestTarget}. */
export interface RequestTargetOptions {
  /**
   * Skip the `Host` check, for a caller that checks it itself where it
   * matters (with {@linkcode checkHost}), such as a router whose read-only
   * routes a smuggled path can't harm.
   * @default {false}
   */
  readonly hostChecked?: boolean;
}

/**
 * Reads the path and query of `request` from its request target. A runtime
 * builds `request.url` from the `Host` header and the target, so a `?` or
 * `#` smuggled into `Host` could replace the query or the route: such a
 * `Host`, or one that is no valid host at all, is refused with 400 (see
 * {@linkcode checkHost}).
 *
 * @example
 * ```ts
 * import { requestTarget } from "./request_target.ts";
 * console.log(requestTarget(new Request("http://x/publish?uid=42")));
 * // { path: "/publish", query: "uid=42" }
 * ```
 */
export function requestTarget(
  request: Request,
  options: RequestTargetOptions = {},
): RequestTarget {
  if (!options.hostChecked) checkHost(request);
  const plain = _plainTarget(request.url);
  if (plain !== undefined) return plain;
  const url = URL.parse(request.url);
  if (url === null) {
    throw new HttpError(
      400,
      `Cannot read the request: the URL "${clip(request.url)}" is not valid`,
    );
  }
  return { path: url.pathname, query: url.search.slice(1) };
}

/** A path the URL parser keeps as it is: one segment of plain characters. */
const PLAIN_PATH = /^\/[A-Za-z0-9_.-]*$/;

/** A character the URL parser would percent-encode in a query, or a fragment's start. */
const ENCODED_IN_QUERY = /[^\x21-\x7e]|["#'<>\\]/;

/**
 * The target of `url` read without the URL parser when parsing could not
 * change it (every poll's is such), else undefined. Parsing a URL is a
 * fair share of a poll's cost.
 */
function _plainTarget(url: string): RequestTarget | undefined {
  const authorityStart = url.indexOf("//") + 2;
  const start = url.indexOf("/", authorityStart);
  if (start === -1 || !_validAuthority(url.slice(authorityStart, start))) return undefined;
  const mark = url.indexOf("?", start);
  const path = mark === -1 ? url.slice(start) : url.slice(start, mark);
  const query = mark === -1 ? "" : url.slice(mark + 1);
  if (!PLAIN_PATH.test(path) || path === "/." || path === "/.." || ENCODED_IN_QUERY.test(query)) {
    return undefined;
  }
  return { path, query };
}

/** Whether each authority seen lately parses as one (a port past 65535 does not, say). */
const _authorities = new Map<string, boolean>();

/**
 * Whether the URL parser takes `authority` as it is, remembered for the few
 * hosts a server sees (and forgotten past 64, so a client making up hosts
 * grows nothing).
 */
function _validAuthority(authority: string): boolean {
  let valid = _authorities.get(authority);
  if (valid === undefined) {
    valid = !SMUGGLING_HOST.test(authority) && URL.parse(`http://${authority}/`) !== null;
    if (_authorities.size >= 64) _authorities.clear();
    _authorities.set(authority, valid);
  }
  return valid;
}

/**
 * Throws a 400 {@linkcode HttpError} when the `Host` header could move the
 * path or query that `request.url` shows, or is no valid host.
 *
 * @example
 * ```ts
 * import { checkHost } from "./request_target.ts";
 * checkHost(new Request("http://x/", { headers: { host: "push.example.com" } })); // fine
 * try {
 *   checkHost(new Request("http://x/", { headers: { host: "x?uid=victim" } }));
 * } catch (error) {
 *   console.log((error as Error).message);
 *   // Cannot read the request: the Host header "x?uid=victim" is malformed
 * }
 * ```
 */
export function checkHost(request: Request): void {
  const host = request.headers.get("host");
  if (host !== null && host !== "" && !PLAIN_HOST.test(host) && !_isValidHost(host)) {
    throw new HttpError(
      400,
      `Cannot read the request: the Host header "${clip(host)}" is malformed`,
    );
  }
}

function _isValidHost(host: string): boolean {
  return !SMUGGLING_HOST.test(host) && URL.parse(`http://${host}/`) !== null;
}
