/**
 * The frames of a Server-Sent Events stream (`text/event-stream`), as
 * protocol v1.2 sends them: the reconnection delay, a message with its id,
 * a reset, the drain, and the comment heartbeat. Each frame ends with its
 * blank line; the data is always one line.
 *
 * @example
 * ```ts
 * import { SSE_FRAME, sseMessage } from "./sse_format.ts";
 * console.log(JSON.stringify(SSE_FRAME.retry + sseMessage("1-0", '{"hi":1}')));
 * // "retry: 2000\n\nid: 1-0\ndata: {\"hi\":1}\n\n"
 * ```
 *
 * @module
 */

/**
 * How long a browser's `EventSource` waits before it reconnects, in
 * milliseconds, sent as `retry:` when a stream opens.
 *
 * @example
 * ```ts
 * import { SSE_RETRY_MS } from "./sse_format.ts";
 * console.log(SSE_RETRY_MS); // 2000
 * ```
 */
export const SSE_RETRY_MS = 2000;

/**
 * The frames that never change: the first bytes of every stream, the
 * heartbeat, and the drain event that ends a stream.
 *
 * @example
 * ```ts
 * import { SSE_FRAME } from "./sse_format.ts";
 * console.log(JSON.stringify(SSE_FRAME.heartbeat)); // ": heartbeat\n\n"
 * ```
 */
export const SSE_FRAME: {
  /** `retry: 2000`: sent first, so the browser sees the stream open at once. */
  readonly retry: string;
  /** A comment, so proxies see traffic on an idle stream. */
  readonly heartbeat: string;
  /** `event: drain`: the server shuts down; reconnect at once with the last id. */
  readonly drain: string;
} = Object.freeze({
  retry: `retry: ${SSE_RETRY_MS}\n\n`,
  heartbeat: ": heartbeat\n\n",
  drain: 'event: drain\ndata: {"stop":true}\n\n',
});

/**
 * One message as an event: `id: <id>` and `data: <data>`. `data` must be
 * one line of JSON text (see `toJsonText`); the id is a stream id.
 *
 * @example
 * ```ts
 * import { sseMessage } from "./sse_format.ts";
 * console.log(JSON.stringify(sseMessage("1733300000000-0", '"hi"')));
 * // "id: 1733300000000-0\ndata: \"hi\"\n\n"
 * ```
 */
export function sseMessage(id: string, data: string): string {
  return `id: ${id}\ndata: ${data}\n\n`;
}

/**
 * The reset event: what follows the reader's cursor may be gone, so it
 * reloads its state and reads on from `next`, which is also the event's id.
 *
 * @example
 * ```ts
 * import { sseReset } from "./sse_format.ts";
 * console.log(JSON.stringify(sseReset("5-0")));
 * // "event: reset\nid: 5-0\ndata: {\"next\":\"5-0\"}\n\n"
 * ```
 */
export function sseReset(next: string): string {
  return `event: reset\nid: ${next}\ndata: {"next":"${next}"}\n\n`;
}
