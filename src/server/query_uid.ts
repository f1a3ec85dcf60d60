/**
 * The uid a route acts on, read from its query's `uid` parameter.
 *
 * @module
 */
import { validateUid } from "../uid.ts";
import type { RouteStep } from "./route_step.ts";

/**
 * Makes the step that reads `uid` from the query into `context.uid`, or
 * answers 400 saying why it can't be used for `action`.
 *
 * @example
 * ```ts
 * import { queryUid } from "./query_uid.ts";
 * const context = {
 *   request: new Request("http://x/publish?uid=42"),
 *   query: "uid=42",
 *   info: undefined,
 *   uid: undefined as string | undefined,
 * };
 * await queryUid({ action: "publish", maxBytes: 256 })(context, () =>
 *   Promise.resolve(new Response()));
 * console.log(context.uid); // 42
 * ```
 */
export function queryUid(
  { action, maxBytes }: { readonly action: string; readonly maxBytes: number },
): RouteStep {
  return (context, next) => {
    context.uid = validateUid(new URLSearchParams(context.query).get("uid"), {
      action,
      maxBytes,
    });
    return next();
  };
}
