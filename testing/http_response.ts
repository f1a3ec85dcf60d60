/**
 * Reads HTTP/1.1 responses off a raw socket, for tests that send bytes no
 * `fetch` would send and for the bench's load client: enough of RFC 9112
 * for `Content-Length`, chunked, no-body and close-delimited responses.
 *
 * @module
 */

/** One response, as read from the wire. */
export interface HttpResponse {
  /** Status code. */
  status: number;
  /** Header fields, decoded as Latin-1 (one character per byte). */
  headers: Headers;
  /** Body bytes, de-chunked. */
  body: Uint8Array;
  /** Whether the server closes the connection after it (`Connection: close`, or HTTP/1.0). */
  close: boolean;
  /** False when the connection closed before the whole body had arrived. */
  complete: boolean;
}

/** What is left to read of the response in progress. */
const _HEAD = -1;
const _CHUNKED = -2;
const _UNTIL_CLOSE = -3;

/**
 * Parses responses as their bytes arrive on one connection. `feed()` returns
 * the responses the new bytes complete; `end()` says the connection closed.
 *
 * @example
 * ```ts
 * import { HttpResponseParser } from "./http_response.ts";
 * const bytes = (text: string) => new TextEncoder().encode(text);
 * const parser = new HttpResponseParser();
 * console.log(parser.feed(bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")).length); // 0
 * console.log(parser.headersSeen); // true
 * const [response] = parser.feed(bytes("hi"));
 * console.log(response.status, new TextDecoder().decode(response.body)); // 200 hi
 * ```
 */
export class HttpResponseParser {
  #buffer: Uint8Array = new Uint8Array(0);
  /** Where the search for the end of the head resumes. */
  #scanned = 0;
  /** `_HEAD`, `_CHUNKED`, `_UNTIL_CLOSE`, or the body bytes still to come. */
  #remaining = _HEAD;
  #status = 0;
  #headers = new Headers();
  #close = false;
  #body: Uint8Array[] = [];
  #headOnly = false;

  /** Whether the head of the response in progress has arrived (early headers). */
  get headersSeen(): boolean {
    return this.#remaining !== _HEAD;
  }

  /** Tells the parser that the next response answers a HEAD request: it has no body. */
  expectHeadOnly(): void {
    this.#headOnly = true;
  }

  /** Adds bytes; returns the responses they complete. Throws on a malformed response. */
  feed(bytes: Uint8Array): HttpResponse[] {
    // A copy: callers may read the next bytes into the same buffer.
    this.#buffer = this.#buffer.length === 0 ? bytes.slice() : concatBytes([this.#buffer, bytes]);
    const done: HttpResponse[] = [];
    for (;;) {
      if (this.#remaining === _HEAD && !this.#readHead()) return done;
      if (this.#remaining === _UNTIL_CLOSE) {
        this.#body.push(this.#buffer);
        this.#buffer = new Uint8Array(0);
        return done;
      }
      if (this.#remaining === _CHUNKED ? !this.#readChunks() : !this.#readLength()) return done;
      done.push(this.#finish(true));
    }
  }

  /**
   * The connection closed: returns the response in progress, if its head had
   * arrived, with the body read so far. A body that runs until the close is
   * complete; any other is complete only if nothing was missing.
   */
  end(): HttpResponse | undefined {
    if (this.#remaining === _HEAD) return undefined;
    if (this.#remaining === _CHUNKED) this.#readChunks();
    return this.#finish(this.#remaining === _UNTIL_CLOSE || this.#remaining === 0);
  }

  /** Reads the head if it is all here; false when more bytes are needed. */
  #readHead(): boolean {
    const end = _indexOfBlankLine(this.#buffer, this.#scanned);
    if (end < 0) {
      this.#scanned = Math.max(0, this.#buffer.length - 3);
      return false;
    }
    const lines = _latin1(this.#buffer.subarray(0, end)).split("\r\n");
    this.#buffer = this.#buffer.subarray(end + 4);
    this.#scanned = 0;
    const match = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]);
    if (match === null) throw new Error(`Cannot parse response: bad status line "${lines[0]}"`);
    this.#status = Number(match[2]);
    this.#headers = new Headers();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) throw new Error(`Cannot parse response: bad header line "${line}"`);
      this.#headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    const connection = this.#headers.get("connection")?.toLowerCase();
    this.#close = connection === undefined ? match[1] === "0" : connection === "close";
    const length = this.#headers.get("content-length");
    const noBody = this.#headOnly || this.#status === 204 || this.#status === 304 ||
      this.#status < 200;
    this.#headOnly = false;
    this.#body = [];
    if (noBody) this.#remaining = 0;
    else if (/chunked/i.test(this.#headers.get("transfer-encoding") ?? "")) {
      this.#remaining = _CHUNKED;
    } else if (length === null) this.#remaining = _UNTIL_CLOSE;
    else if (/^\d+$/.test(length)) this.#remaining = Number(length);
    else throw new Error(`Cannot parse response: bad Content-Length "${length}"`);
    return true;
  }

  /** Takes body bytes up to the length; true once all are here. */
  #readLength(): boolean {
    const take = Math.min(this.#remaining, this.#buffer.length);
    if (take > 0) this.#body.push(this.#buffer.subarray(0, take));
    this.#buffer = this.#buffer.subarray(take);
    this.#remaining -= take;
    return this.#remaining === 0;
  }

  /** Takes whole chunks; true once the last chunk (no trailers) is in. */
  #readChunks(): boolean {
    for (;;) {
      const lineEnd = _indexOfCrlf(this.#buffer);
      if (lineEnd < 0) return false;
      const size = parseInt(_latin1(this.#buffer.subarray(0, lineEnd)), 16);
      if (!Number.isFinite(size) || size < 0) {
        throw new Error("Cannot parse response: bad chunk size");
      }
      if (size === 0) {
        if (this.#buffer.length < lineEnd + 4) return false;
        this.#buffer = this.#buffer.subarray(lineEnd + 4);
        this.#remaining = 0;
        return true;
      }
      if (this.#buffer.length < lineEnd + 2 + size + 2) return false;
      this.#body.push(this.#buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
      this.#buffer = this.#buffer.subarray(lineEnd + 2 + size + 2);
    }
  }

  #finish(complete: boolean): HttpResponse {
    const response: HttpResponse = {
      status: this.#status,
      headers: this.#headers,
      body: this.#body.length === 1 ? this.#body[0] : concatBytes(this.#body),
      close: this.#close,
      complete,
    };
    this.#remaining = _HEAD;
    this.#body = [];
    return response;
  }
}

/**
 * The first response in `bytes`, everything a connection received until it
 * closed; undefined when no whole head arrived or it is malformed.
 *
 * @example
 * ```ts
 * import { parseHttpResponse } from "./http_response.ts";
 * const wire = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n" +
 *   "Transfer-Encoding: chunked\r\n\r\n3\r\nno!\r\n0\r\n\r\n";
 * const response = parseHttpResponse(new TextEncoder().encode(wire));
 * console.log(response?.status, response?.headers.get("content-type")); // 404 text/plain
 * console.log(new TextDecoder().decode(response?.body)); // no!
 * console.log(parseHttpResponse(new TextEncoder().encode("HTTP/1.1 200"))); // undefined
 * ```
 */
export function parseHttpResponse(bytes: Uint8Array): HttpResponse | undefined {
  const parser = new HttpResponseParser();
  try {
    return parser.feed(bytes)[0] ?? parser.end();
  } catch {
    return undefined;
  }
}

function _indexOfBlankLine(bytes: Uint8Array, from: number): number {
  for (let i = from; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

function _indexOfCrlf(bytes: Uint8Array): number {
  for (let i = 0; i + 1 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10) return i;
  }
  return -1;
}

function _latin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

/**
 * Joins byte arrays into one new array: chunks read off a socket, or a
 * request head and its body.
 *
 * @example
 * ```ts
 * import { concatBytes } from "./http_response.ts";
 * console.log(concatBytes([Uint8Array.of(1, 2), Uint8Array.of(3)])); // Uint8Array(3) [ 1, 2, 3 ]
 * ```
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}
