/**
 * Who may publish (and read presence): a bearer token, compared in
 * constant time, or open publishing for local requests only.
 *
 * @module
 */
import { HttpError } from "../http_error.ts";
import { secretList, type Secrets } from "../secret_list.ts";
import { isLocalRequest } from "./local_request.ts";
import type { RouteStep } from "./route_step.ts";
import { SERVE_DEFAULTS } from "./settings.ts";

/** Options of {@linkcode producerCheck}: the server's, about producers. */
export interface ProducerCheckOptions {
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
   * Peer addresses whose `X-Real-IP` header names the real client, such as
   * the nginx in front. Any other peer is the client itself.
   * @default {["127.0.0.1", "::1"]}
   */
  trustedProxies?: readonly string[];
}

/**
 * Makes the step that lets a producer in for `action` (`publish`, `read
 * presence`): a valid `Authorization: Bearer` token, or, with
 * `openPublish`, a local request. Otherwise 401, or 403 when no token is
 * set and the route is off.
 *
 * @example
 * ```ts
 * import { producerCheck } from "./publish_authorization.ts";
 * const step = producerCheck({ publishToken: "t0ken" })("publish");
 * const request = new Request("http://x/publish", { headers: { Authorization: "Bearer t0ken" } });
 * const answer = await step({ request, query: "", info: undefined }, () =>
 *   Promise.resolve(new Response("let in")));
 * console.log(await answer.text()); // let in
 * ```
 */
export function producerCheck(options: ProducerCheckOptions): (action: string) => RouteStep {
  const encoder = new TextEncoder();
  const tokens = options.publishToken === undefined
    ? undefined
    : secretList("publishToken", options.publishToken).map((token) => encoder.encode(token));
  const openPublish = options.openPublish ?? false;
  const trustedProxies: ReadonlySet<string> = new Set(
    options.trustedProxies ?? SERVE_DEFAULTS.trustedProxies,
  );
  return (action) => ({ request, info }, next) => {
    _authorize(request, {
      tokens,
      open: openPublish && isLocalRequest(request, info, trustedProxies),
      action,
    });
    return next();
  };
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
