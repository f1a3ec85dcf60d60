/**
 * Reading a publish body: at most the size allowed, whole (a publisher
 * that leaves mid-body gets 400), not empty, and valid UTF-8.
 *
 * @module
 */
import { HttpError } from "../http_error.ts";
import type { RouteStep } from "./route_step.ts";

/**
 * Makes the step that reads the body into `context.body`, or answers 413
 * past `maxBytes` (declared or streamed), 400 when it is cut off, empty or
 * not UTF-8.
 *
 * @example
 * ```ts
 * import { readBody } from "./publish_body.ts";
 * const context = {
 *   request: new Request("http://x/publish", { method: "POST", body: '{"hi":1}' }),
 *   query: "",
 *   info: undefined,
 *   body: undefined as string | undefined,
 * };
 * await readBody(1024)(context, () => Promise.resolve(new Response()));
 * console.log(context.body); // {"hi":1}
 * ```
 */
export function readBody(maxBytes: number): RouteStep {
  return async (context, next) => {
    context.body = await _readBody(context.request, maxBytes);
    return next();
  };
}

async function _readBody(request: Request, maxBytes: number): Promise<string> {
  const tooLarge = () =>
    new HttpError(413, `Cannot publish: the body is larger than ${maxBytes} bytes`);
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBytes) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body !== null) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read().catch(() => {
        // The publisher left mid-body: its fault, not the server's.
        throw new HttpError(400, "Cannot publish: the body was cut off before its end");
      });
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
  }
  if (size === 0) throw new HttpError(400, "Cannot publish: the body is empty");
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "Cannot publish: the body is not valid UTF-8");
  }
}
