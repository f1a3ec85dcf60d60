/**
 * `POST /publish?uid=`: queues the body for `uid`, once the method, the
 * producer, the uid and the body have passed their steps.
 *
 * @module
 */
import type { HandlerInternals } from "../handler_internals.ts";
import { clip, HttpError } from "../http_error.ts";
import { storeFailureAnswer } from "../store_failure.ts";
import { readBody } from "./publish_body.ts";
import { queryUid } from "./query_uid.ts";
import { chain, type RouteContext, type RouteStep } from "./route_step.ts";

/** What {@linkcode publishRoute} needs. */
export interface PublishRouteOptions {
  /** The poll handler's parts: its options, responder and store health. */
  readonly internals: HandlerInternals;
  /** The step that lets a producer in, for an action. */
  readonly producer: (action: string) => RouteStep;
  /** Largest body, in bytes. */
  readonly maxBodyBytes: number;
}

/**
 * Makes the publish route: 405 for a method other than POST, then the
 * producer check, the uid, the body, and the store; answers 202.
 *
 * @example
 * ```ts
 * import { publishRoute } from "./publish_route.ts";
 * import { internalsOf } from "../handler_internals.ts";
 * import { createLongPollHandler } from "../handler.ts";
 * import { MemoryStore } from "../store/memory.ts";
 * const store = new MemoryStore();
 * const route = publishRoute({
 *   internals: internalsOf(createLongPollHandler({ store })),
 *   producer: () => (_context, next) => next(),
 *   maxBodyBytes: 1024,
 * });
 * const request = new Request("http://x/publish?uid=42", { method: "POST", body: "hi" });
 * console.log((await route({ request, query: "uid=42", info: undefined })).status); // 202
 * console.log(await store.pop("42")); // hi
 * ```
 */
export function publishRoute(
  { internals, producer, maxBodyBytes }: PublishRouteOptions,
): (context: RouteContext) => Promise<Response> {
  const { options, responder, storeHealth } = internals;
  const store: RouteStep = async ({ uid, body }) => {
    try {
      await options.store.publish(uid!, body!);
    } catch (error) {
      throw storeFailureAnswer(error, {
        action: "publish",
        health: storeHealth,
        retryAfter: options.retryAfter,
      });
    }
    storeHealth.succeeded();
    options.metrics.published++;
    return responder.json({ published: true }, 202);
  };
  return chain([
    _postOnly,
    producer("publish"),
    queryUid({ action: "publish", maxBytes: options.maxUidBytes }),
    readBody(maxBodyBytes),
    store,
  ]);
}

const _postOnly: RouteStep = ({ request }, next) => {
  if (request.method !== "POST") {
    throw new HttpError(405, `Cannot publish with method "${clip(request.method)}": use POST`, {
      Allow: "POST",
    });
  }
  return next();
};
