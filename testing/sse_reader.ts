/**
 * Reads a `text/event-stream` answer block by block, for the tests that
 * must see what an `EventSource` hides: comments (heartbeats), `retry:`,
 * and when each block arrived.
 *
 * @module
 */

/** One block of an event stream: an event, or a comment line or `retry:` on its own. */
export interface SseBlock {
  /** The `event:` field; "message" when absent. */
  readonly event: string;
  /** The `id:` field, when present. */
  readonly id?: string;
  /** The `data:` lines, joined with "\n"; undefined when there were none. */
  readonly data?: string;
  /** The comment lines (`: heartbeat` gives "heartbeat"). */
  readonly comments: readonly string[];
  /** The `retry:` field, when present. */
  readonly retry?: number;
  /** `performance.now()` when the block's last byte was read. */
  readonly at: number;
}

/** Reads blocks from an event stream. */
export interface SseReader extends AsyncDisposable {
  /** The next block; rejects when the stream ends or `timeoutMs` passes first. */
  next(timeoutMs: number): Promise<SseBlock>;
}

/**
 * Reads the blocks of `response`'s body; disposing cancels the body.
 *
 * @example
 * ```ts
 * import { readSse } from "./sse_reader.ts";
 * await using reader = readSse(new Response("retry: 2000\n\n: heartbeat\n\nid: 5-0\ndata: 1\n\n"));
 * console.log((await reader.next(1000)).retry); // 2000
 * console.log((await reader.next(1000)).comments); // [ "heartbeat" ]
 * const { id, data, event } = await reader.next(1000);
 * console.log(id, data, event); // 5-0 1 message
 * ```
 */
export function readSse(response: Response): SseReader {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const ready: SseBlock[] = [];
  let buffer = "";
  // A read that outlived a timeout is the next call's, so no chunk is lost.
  let pending: Promise<ReadableStreamReadResult<string>> | undefined;
  const next = async (timeoutMs: number): Promise<SseBlock> => {
    const deadline = Date.now() + timeoutMs;
    while (ready.length === 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`No event within ${timeoutMs} ms`)),
          Math.max(0, deadline - Date.now()),
        );
      });
      try {
        pending ??= reader.read();
        const { done, value } = await Promise.race([pending, late]);
        pending = undefined;
        if (done) throw new Error("The event stream ended");
        buffer += value.replaceAll("\r\n", "\n");
      } finally {
        clearTimeout(timer);
      }
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        ready.push(_block(buffer.slice(0, end), performance.now()));
        buffer = buffer.slice(end + 2);
      }
    }
    return ready.shift()!;
  };
  return {
    next,
    [Symbol.asyncDispose]: () => reader.cancel().catch(() => {}),
  };
}

function _block(text: string, at: number): SseBlock {
  let event = "message";
  let id: string | undefined;
  let retry: number | undefined;
  const data: string[] = [];
  const comments: string[] = [];
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "") comments.push(value);
    else if (field === "event") event = value;
    else if (field === "id") id = value;
    else if (field === "data") data.push(value);
    else if (field === "retry") retry = Number(value);
  }
  return { event, id, data: data.length > 0 ? data.join("\n") : undefined, comments, retry, at };
}
