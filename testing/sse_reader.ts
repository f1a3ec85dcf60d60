/**
 * Reads a `text/event-stream` body frame by frame, as the tests see it:
 * each frame (up to its blank line) with its fields, comments included, so
 * a test can check ids, `retry:`, heartbeats and the drain event.
 *
 * @module
 */

/** One frame of an event stream: its fields as sent (a comment has only `comment`). */
export interface SseFrame {
  /** `event:`, if any. */
  readonly event?: string;
  /** `id:`, if any. */
  readonly id?: string;
  /** `data:` lines, joined with `\n`, if any. */
  readonly data?: string;
  /** `retry:`, if any. */
  readonly retry?: string;
  /** A comment line's text, after `: `, if the frame is a comment. */
  readonly comment?: string;
}

/**
 * The frames of an event-stream body, one at a time.
 *
 * @example
 * ```ts
 * import { SseReader } from "./sse_reader.ts";
 * const reader = new SseReader(new Response("retry: 2000\n\nid: 1-0\ndata: 1\n\n: heartbeat\n\n"));
 * console.log(await reader.next()); // { retry: "2000" }
 * console.log(await reader.next()); // { id: "1-0", data: "1" }
 * console.log(await reader.next()); // { comment: "heartbeat" }
 * console.log(await reader.next()); // null
 * ```
 */
export class SseReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  /** Reads `response`'s body. */
  constructor(response: Response) {
    this.#reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  }

  /**
   * The next frame, or null once the body has ended; throws when none
   * comes within `timeoutMs`.
   */
  async next(timeoutMs = 5_000): Promise<SseFrame | null> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#buffer.includes("\n\n")) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(resolve, Math.max(deadline - Date.now(), 0), "timeout");
      });
      const chunk = await Promise.race([this.#reader.read(), timeout]);
      clearTimeout(timer);
      if (chunk === "timeout") {
        throw new Error(
          `No event within ${timeoutMs} ms (buffered: ${JSON.stringify(this.#buffer)})`,
        );
      }
      if (chunk.done) return null;
      this.#buffer += chunk.value;
    }
    const end = this.#buffer.indexOf("\n\n");
    const text = this.#buffer.slice(0, end);
    this.#buffer = this.#buffer.slice(end + 2);
    return _parse(text);
  }

  /** The next frame that is not a comment (a heartbeat). */
  async nextEvent(timeoutMs = 5_000): Promise<SseFrame | null> {
    for (;;) {
      const frame = await this.next(timeoutMs);
      if (frame === null || frame.comment === undefined) return frame;
    }
  }

  /** Stops reading: the connection closes, as a client leaving. */
  async cancel(): Promise<void> {
    await this.#reader.cancel();
  }
}

function _parse(text: string): SseFrame {
  const frame: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (line.startsWith(":")) {
      frame.comment = line.slice(1).trimStart();
      continue;
    }
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
    frame[field] = field === "data" && frame.data !== undefined ? `${frame.data}\n${value}` : value;
  }
  return frame;
}
