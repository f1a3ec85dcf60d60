/**
 * Routes as a chain of small steps, in the style of Hono's middleware: a
 * step either answers or hands the request on with `next()`. Steps share
 * one context, where earlier steps leave what later ones need.
 *
 * @module
 */
import type { ConnectionInfo } from "./local_request.ts";

/** What the steps of one request share. */
export interface RouteContext {
  /** The request. */
  readonly request: Request;
  /** Its query, as the router read it from the request target. */
  readonly query: string;
  /** The connection it came on; undefined for a call in the same process. */
  readonly info: ConnectionInfo | undefined;
  /** The uid a step read from the query. */
  uid?: string;
  /** The body a step read. */
  body?: string;
}

/** One step of a route: answers, or calls `next` for the steps after it. */
export type RouteStep = (
  context: RouteContext,
  next: () => Promise<Response>,
) => Response | Promise<Response>;

/**
 * Chains steps into one route. A last step that calls `next` finds nothing
 * after it: that is a bug, answered 500.
 *
 * @example
 * ```ts
 * import { chain, type RouteStep } from "./route_step.ts";
 * const needsUid: RouteStep = (context, next) =>
 *   context.query.includes("uid=") ? next() : new Response("no uid", { status: 400 });
 * const hello: RouteStep = () => new Response("hello");
 * const route = chain([needsUid, hello]);
 * const context = { request: new Request("http://x/"), query: "uid=1", info: undefined };
 * console.log(await (await route(context)).text()); // hello
 * ```
 */
export function chain(steps: readonly RouteStep[]): (context: RouteContext) => Promise<Response> {
  return (context) => {
    const run = async (index: number): Promise<Response> => {
      const step = steps[index];
      if (step === undefined) throw new Error("Cannot route: the last step called next()");
      return await step(context, () => run(index + 1));
    };
    return run(0);
  };
}
