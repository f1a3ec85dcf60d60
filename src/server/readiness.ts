/**
 * The readiness probe, `GET /readyz`: 503 while the server drains or the
 * store does not answer; else the store's kind and the queue limits in force.
 *
 * @module
 */
import { HttpError } from "../http_error.ts";
import type { Responder } from "../responder.ts";
import type { MessageStore } from "../store/types.ts";
import type { RouteStep } from "./route_step.ts";

/** What {@linkcode readiness} asks. */
export interface ReadinessOptions {
  /** The store to ask. */
  readonly store: MessageStore;
  /** Renders the answer. */
  readonly responder: Responder;
  /** `Retry-After` of the 503 while the store is unreachable. */
  readonly retryAfter: string;
  /** True once the server drains. */
  readonly draining: () => boolean;
}

/**
 * Makes the step that answers the readiness probe.
 *
 * @example
 * ```ts
 * import { readiness } from "./readiness.ts";
 * import { Responder } from "../responder.ts";
 * import { Metrics } from "../metrics.ts";
 * import { MemoryStore } from "../store/memory.ts";
 * const responder = new Responder({
 *   stopCode: '{"stop":1}',
 *   atLeastOnce: false,
 *   metrics: new Metrics(),
 *   onError: console.error,
 * });
 * const step = readiness({
 *   store: new MemoryStore(),
 *   responder,
 *   retryAfter: "1",
 *   draining: () => false,
 * });
 * const context = { request: new Request("http://x/readyz"), query: "", info: undefined };
 * const answer = await step(context, () => Promise.reject(new Error("unused")));
 * console.log(await answer.text()); // {"status":"ready","store":"memory"}
 * ```
 */
export function readiness(
  { store, responder, retryAfter, draining }: ReadinessOptions,
): RouteStep {
  return async () => {
    if (draining()) throw new HttpError(503, "Not ready: the server is draining");
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
}
