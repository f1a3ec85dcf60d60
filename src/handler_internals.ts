/**
 * What the routes around a long-poll handler share with it, kept off the
 * public handler object: its resolved options, the renderer of every
 * answer, and the store's health. Only the server app reads these.
 *
 * @module
 */
import type { ResolvedOptions } from "./options.ts";
import type { Responder } from "./responder.ts";
import type { StoreHealth } from "./store_health.ts";

/** A handler's parts that the routes around it use. */
export interface HandlerInternals {
  /** The handler's options, defaults applied. */
  readonly options: ResolvedOptions;
  /** The renderer of every answer. */
  readonly responder: Responder;
  /** Logs the store's outages; the routes report their store failures to it. */
  readonly storeHealth: StoreHealth;
  /**
   * Answers one poll, like the handler; `query` is the request target's
   * query when the router has read it already, so it is not parsed twice.
   */
  handle(request: Request, query?: string): Promise<Response>;
}

const _internals = new WeakMap<object, HandlerInternals>();

/**
 * Files `internals` under `handler`, for {@linkcode internalsOf}.
 *
 * @example
 * ```ts
 * import { internalsOf, keepInternals } from "./handler_internals.ts";
 * import type { HandlerInternals } from "./handler_internals.ts";
 * const handler = () => {};
 * keepInternals(handler, {} as HandlerInternals);
 * console.log(internalsOf(handler) !== undefined); // true
 * ```
 */
export function keepInternals(handler: object, internals: HandlerInternals): void {
  _internals.set(handler, internals);
}

/**
 * The internals of a handler made by `createLongPollHandler`.
 *
 * @example
 * ```ts
 * import { internalsOf } from "./handler_internals.ts";
 * import { createLongPollHandler } from "./handler.ts";
 * import { MemoryStore } from "./store/memory.ts";
 * const handler = createLongPollHandler({ store: new MemoryStore() });
 * console.log(internalsOf(handler).options.retryAfter); // 1
 * ```
 */
export function internalsOf(handler: object): HandlerInternals {
  const internals = _internals.get(handler);
  if (internals === undefined) {
    throw new TypeError(
      "Cannot find the internals: the handler was not made by createLongPollHandler",
    );
  }
  return internals;
}
