/**
 * `GET /presence?uid=`: whether a uid holds a poll now, and since when,
 * for producers.
 *
 * @module
 */
import type { HandlerInternals } from "../handler_internals.ts";
import type { Presence } from "../presence.ts";
import { storeFailureAnswer } from "../store_failure.ts";
import { queryUid } from "./query_uid.ts";
import { chain, type RouteContext, type RouteStep } from "./route_step.ts";

/** What {@linkcode presenceRoute} needs. */
export interface PresenceRouteOptions {
  /** Where presence is kept. */
  readonly presence: Presence;
  /** The poll handler's parts: its options, responder and store health. */
  readonly internals: HandlerInternals;
  /** The step that lets a producer in, for an action. */
  readonly producer: (action: string) => RouteStep;
}

/**
 * Makes the presence route: the producer check, the uid, then the lookup;
 * answers `{"uid", "present", "since"?}`, or 503 while the store fails.
 *
 * @example
 * ```ts
 * import { presenceRoute } from "./presence_route.ts";
 * import { internalsOf } from "../handler_internals.ts";
 * import { createLongPollHandler } from "../handler.ts";
 * import { MemoryPresence } from "../presence.ts";
 * import { MemoryStore } from "../store/memory.ts";
 * const route = presenceRoute({
 *   presence: new MemoryPresence(),
 *   internals: internalsOf(createLongPollHandler({ store: new MemoryStore() })),
 *   producer: () => (_context, next) => next(),
 * });
 * const request = new Request("http://x/presence?uid=42");
 * console.log(await (await route({ request, query: "uid=42", info: undefined })).text());
 * // {"uid":"42","present":false}
 * ```
 */
export function presenceRoute(
  { presence, internals, producer }: PresenceRouteOptions,
): (context: RouteContext) => Promise<Response> {
  const { options, responder, storeHealth } = internals;
  const lookUp: RouteStep = async ({ uid }) => {
    let found;
    try {
      found = await presence.lookup(uid!);
    } catch (error) {
      throw storeFailureAnswer(error, {
        action: "read presence",
        health: storeHealth,
        retryAfter: options.retryAfter,
      });
    }
    return responder.json({
      uid,
      present: found.present,
      ...(found.since === undefined ? {} : { since: new Date(found.since).toISOString() }),
    });
  };
  return chain([
    producer("read presence"),
    queryUid({ action: "read presence", maxBytes: options.maxUidBytes }),
    lookUp,
  ]);
}
