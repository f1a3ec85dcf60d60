/** The connection a request came on: `Deno.ServeHandlerInfo` fits. */
export interface ConnectionInfo {
  /** The peer's address. */
  readonly remoteAddr?: { readonly hostname?: string };
}

const LOOPBACK_ADDRESS = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;
const LOOPBACK_HOST = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d{1,5})?$/i;

/**
 * True when `request` comes from this machine and from no other web page:
 * the client is a loopback address, its `Host` names loopback (so a
 * DNS-rebinding page is refused), and an `Origin`, if any, is a loopback
 * origin (so a cross-origin page is refused). Behind a trusted proxy the
 * client is the one its `X-Real-IP` names; a proxied request without it
 * (only `X-Forwarded-For`, say) has no known client and is not local.
 * Without connection info (a call in the same process) the client is local.
 *
 * @example
 * ```ts
 * import { isLocalRequest } from "./local_request.ts";
 * const trusted = new Set(["127.0.0.1"]);
 * const direct = new Request("http://127.0.0.1:8888/publish", {
 *   headers: { host: "127.0.0.1:8888" },
 * });
 * console.log(isLocalRequest(direct, { remoteAddr: { hostname: "127.0.0.1" } }, trusted)); // true
 * const proxied = new Request("http://127.0.0.1:8888/publish", {
 *   headers: { host: "127.0.0.1:8888", "x-forwarded-for": "203.0.113.9" },
 * });
 * console.log(isLocalRequest(proxied, { remoteAddr: { hostname: "127.0.0.1" } }, trusted)); // false
 * ```
 */
export function isLocalRequest(
  request: Request,
  info: ConnectionInfo | undefined,
  trustedProxies: ReadonlySet<string>,
): boolean {
  const headers = request.headers;
  const host = headers.get("host");
  if (host !== null && !LOOPBACK_HOST.test(host)) return false;
  const origin = headers.get("origin");
  if (origin !== null && !LOOPBACK_HOST.test(URL.parse(origin)?.host ?? "")) return false;
  const client = _clientAddress(request, info, trustedProxies);
  return client === "" || (client !== undefined && LOOPBACK_ADDRESS.test(client));
}

/**
 * The client's address: the peer's, or `X-Real-IP` when the peer is a
 * trusted proxy; undefined when a proxy names no client; "" when there is
 * no connection info at all.
 */
function _clientAddress(
  request: Request,
  info: ConnectionInfo | undefined,
  trustedProxies: ReadonlySet<string>,
): string | undefined {
  const peer = info?.remoteAddr?.hostname;
  if (peer === undefined) return "";
  if (!trustedProxies.has(peer)) return peer;
  const headers = request.headers;
  const realIp = headers.get("x-real-ip")?.trim();
  if (realIp) return realIp;
  const proxied = headers.has("x-forwarded-for") || headers.has("forwarded") ||
    headers.has("via");
  return proxied ? undefined : peer;
}
