/**
 * An incremental HTTP/1.1 response parser for the load client: enough of
 * RFC 9112 for `Content-Length`, chunked and no-body responses. Input is
 * latin1 text, one character per byte.
 *
 * @module
 */

/** One complete response. */
export interface ParsedResponse {
  /** Status code. */
  status: number;
  /** Body, de-chunked, as latin1 text. */
  body: string;
  /** Whether the server will close the connection after it. */
  close: boolean;
}

/**
 * Parses responses as their bytes arrive. `feed()` returns the responses that
 * the new bytes completed; `headersSeen` tells whether the head of the
 * response in progress has arrived (early headers).
 *
 * @example
 * ```ts
 * import { HttpResponseParser } from "./http_response_parser.ts";
 * const parser = new HttpResponseParser();
 * console.log(parser.feed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n").length); // 0
 * console.log(parser.headersSeen); // true
 * console.log(parser.feed("hi")[0].body); // hi
 * ```
 */
export class HttpResponseParser {
  #buffer = "";
  #status = 0;
  #close = false;
  /** -1: reading the head; >= 0: bytes of body left; -2: chunked. */
  #remaining = -1;
  #body = "";
  /** The current response has a body but it is not here yet. */
  #headOnly = false;

  /** Whether the head of the response in progress has been read. */
  get headersSeen(): boolean {
    return this.#remaining !== -1;
  }

  /** Tells the parser the next response answers a HEAD request. */
  expectHeadOnly(): void {
    this.#headOnly = true;
  }

  /** Adds bytes; returns the responses they complete. Throws on a malformed response. */
  feed(text: string): ParsedResponse[] {
    this.#buffer += text;
    const done: ParsedResponse[] = [];
    for (;;) {
      if (this.#remaining === -1) {
        const end = this.#buffer.indexOf("\r\n\r\n");
        if (end < 0) return done;
        this.#readHead(this.#buffer.slice(0, end));
        this.#buffer = this.#buffer.slice(end + 4);
        this.#body = "";
      }
      if (this.#remaining >= 0) {
        const take = Math.min(this.#remaining, this.#buffer.length);
        this.#body += this.#buffer.slice(0, take);
        this.#buffer = this.#buffer.slice(take);
        this.#remaining -= take;
        if (this.#remaining > 0) return done;
      } else if (!this.#readChunks()) {
        return done;
      }
      done.push({ status: this.#status, body: this.#body, close: this.#close });
      this.#remaining = -1;
    }
  }

  #readHead(head: string): void {
    const lines = head.split("\r\n");
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (match === null) throw new Error(`Cannot parse response: bad status line "${lines[0]}"`);
    this.#status = Number(match[1]);
    let length: number | undefined;
    let chunked = false;
    this.#close = lines[0].startsWith("HTTP/1.0");
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(":");
      const name = lines[i].slice(0, colon).trim().toLowerCase();
      const value = lines[i].slice(colon + 1).trim().toLowerCase();
      if (name === "content-length") length = Number(value);
      else if (name === "transfer-encoding") chunked = value.includes("chunked");
      else if (name === "connection") this.#close = value === "close";
    }
    const noBody = this.#headOnly || this.#status === 204 || this.#status === 304 ||
      (this.#status >= 100 && this.#status < 200);
    this.#headOnly = false;
    if (noBody) this.#remaining = 0;
    else if (chunked) this.#remaining = -2;
    else if (length !== undefined) this.#remaining = length;
    else throw new Error("Cannot parse response: no length and not chunked");
  }

  /** Reads whole chunks from the buffer; true once the last chunk and trailers are in. */
  #readChunks(): boolean {
    for (;;) {
      const lineEnd = this.#buffer.indexOf("\r\n");
      if (lineEnd < 0) return false;
      const size = parseInt(this.#buffer.slice(0, lineEnd), 16);
      if (!Number.isFinite(size)) throw new Error("Cannot parse response: bad chunk size");
      if (size === 0) {
        // Last chunk: no trailers expected, just the final CRLF.
        if (this.#buffer.length < lineEnd + 4) return false;
        this.#buffer = this.#buffer.slice(lineEnd + 4);
        return true;
      }
      if (this.#buffer.length < lineEnd + 2 + size + 2) return false;
      this.#body += this.#buffer.slice(lineEnd + 2, lineEnd + 2 + size);
      this.#buffer = this.#buffer.slice(lineEnd + 2 + size + 2);
    }
  }
}
