/**
 * A minimal Redis client over a raw RESP2 socket: what a plain producer does,
 * with no client library cost in the way of the timings.
 *
 * @module
 */

/** A RESP2 reply. Errors come back as {@linkcode RespError} values. */
export type RespValue = string | number | null | RespError | RespValue[];

/** A Redis error reply (`-ERR ...`). */
export class RespError {
  /**
   * Wraps the error text.
   *
   * @example
   * ```ts
   * import { RespError } from "./resp_client.ts";
   * console.log(new RespError("ERR x").message); // ERR x
   * ```
   */
  constructor(readonly message: string) {}
}

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();
const _INCOMPLETE = Symbol("incomplete");

/**
 * One connection to Redis. Commands are written as RESP arrays; replies are
 * read in order.
 *
 * @example
 * ```ts ignore
 * import { RespClient } from "./resp_client.ts";
 * const redis = await RespClient.connect({ port: 6379 });
 * console.log(await redis.command(["LPUSH", "Q/MSG42", '{"hi":1}'])); // 1
 * redis.close();
 * ```
 */
export class RespClient {
  readonly #conn: Deno.TcpConn;
  #buffer = new Uint8Array(0);
  #offset = 0;
  readonly #chunk = new Uint8Array(64 * 1024);

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  /** Connects to Redis at `hostname` (default 127.0.0.1) and `port`. */
  static async connect(options: { hostname?: string; port: number }): Promise<RespClient> {
    const hostname = options.hostname ?? "127.0.0.1";
    try {
      const conn = await Deno.connect({ hostname, port: options.port });
      conn.setNoDelay(true);
      return new RespClient(conn);
    } catch (error) {
      throw new Error(
        `Cannot connect to Redis at "${hostname}:${options.port}": ${(error as Error).message}`,
      );
    }
  }

  /** Sends one command and returns its reply. */
  async command(args: readonly string[]): Promise<RespValue> {
    const [reply] = await this.pipeline([args]);
    return reply;
  }

  /** Sends several commands in one write and returns their replies in order. */
  async pipeline(commands: readonly (readonly string[])[]): Promise<RespValue[]> {
    await _writeAll(this.#conn, ENCODER.encode(commands.map(encodeCommand).join("")));
    const replies: RespValue[] = [];
    while (replies.length < commands.length) replies.push(await this.#readReply());
    return replies;
  }

  /** Closes the connection. */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  async #readReply(): Promise<RespValue> {
    for (;;) {
      const start = this.#offset;
      const value = this.#parse();
      if (value !== _INCOMPLETE) return value;
      this.#offset = start;
      const n = await this.#conn.read(this.#chunk);
      if (n === null) throw new Error("Cannot read from Redis: the connection closed");
      const rest = this.#buffer.subarray(this.#offset);
      const next = new Uint8Array(rest.length + n);
      next.set(rest);
      next.set(this.#chunk.subarray(0, n), rest.length);
      this.#buffer = next;
      this.#offset = 0;
    }
  }

  #line(): string | typeof _INCOMPLETE {
    const end = this.#buffer.indexOf(10, this.#offset);
    if (end < 0) return _INCOMPLETE;
    const line = DECODER.decode(this.#buffer.subarray(this.#offset, end - 1));
    this.#offset = end + 1;
    return line;
  }

  #parse(): RespValue | typeof _INCOMPLETE {
    const line = this.#line();
    if (line === _INCOMPLETE) return _INCOMPLETE;
    const rest = line.slice(1);
    switch (line[0]) {
      case "+":
        return rest;
      case "-":
        return new RespError(rest);
      case ":":
        return Number(rest);
      case "$": {
        const length = Number(rest);
        if (length < 0) return null;
        if (this.#buffer.length - this.#offset < length + 2) return _INCOMPLETE;
        const text = DECODER.decode(this.#buffer.subarray(this.#offset, this.#offset + length));
        this.#offset += length + 2;
        return text;
      }
      case "*": {
        const length = Number(rest);
        if (length < 0) return null;
        const items: RespValue[] = [];
        for (let i = 0; i < length; i++) {
          const item = this.#parse();
          if (item === _INCOMPLETE) return _INCOMPLETE;
          items.push(item);
        }
        return items;
      }
      default:
        throw new Error(`Cannot read from Redis: unexpected reply "${line.slice(0, 40)}"`);
    }
  }
}

/**
 * Encodes a command as a RESP array of bulk strings.
 *
 * @example
 * ```ts
 * import { encodeCommand } from "./resp_client.ts";
 * console.log(JSON.stringify(encodeCommand(["PING"]))); // "*1\r\n$4\r\nPING\r\n"
 * ```
 */
export function encodeCommand(args: readonly string[]): string {
  let text = `*${args.length}\r\n`;
  for (const arg of args) text += `$${ENCODER.encode(arg).length}\r\n${arg}\r\n`;
  return text;
}

async function _writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}
