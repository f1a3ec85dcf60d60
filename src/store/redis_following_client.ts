/**
 * A command client that stays the same object while the connection under
 * it is replaced, as when Redis Sentinel names another primary: the store's
 * parts keep the client they were given, and their commands go to the
 * connection of the moment.
 *
 * @module
 */
import type { RESP_TYPES } from "redis";
import type { Buffer } from "node:buffer";
import type { RedisByteCommands, RedisCommands } from "./redis_connection.ts";

/**
 * Holds the connection of the moment and hands out one client for all of
 * them. Listeners of `error` and `ready` are kept and added to each new
 * connection. Before the first connection, commands fail at once, as those
 * of a client that is offline; each command's failure is also told to
 * `onCommandError` (a `READONLY` says the primary was demoted).
 *
 * @example
 * ```ts
 * import { createClient } from "redis";
 * import { FollowingClient } from "./redis_following_client.ts";
 * const following = new FollowingClient(() => {});
 * const { client } = following;
 * await client.type("Q/MSG42").catch((error) => console.log(error.message)); // Cannot send a command: no Redis primary is known yet
 * following.use(createClient({ url: "redis://127.0.0.1:1" }) as never);
 * console.log(client.isReady); // false
 * ```
 */
export class FollowingClient {
  /** The client to hand out: its commands go to the connection of the moment. */
  readonly client: RedisCommands;
  readonly #listeners: [event: "error" | "ready", listener: (...args: never[]) => void][] = [];
  #current: RedisCommands | undefined;
  #bytes: { of: RedisCommands; bytes: RedisByteCommands } | undefined;

  /** Has no connection yet: see {@linkcode FollowingClient.use}. */
  constructor(onCommandError: (error: unknown) => void) {
    const current = () => this.#current;
    const lifecycle = {
      on: (event: "error" | "ready", listener: (...args: never[]) => void) => {
        this.#listeners.push([event, listener]);
        this.#current?.on(event as "error", listener as (error: unknown) => void);
        return this.client;
      },
      get isReady() {
        return current()?.isReady ?? false;
      },
      get isOpen() {
        return current()?.isOpen ?? false;
      },
      connect: () => this.#current?.connect() ?? Promise.resolve(),
      close: () => this.#current?.close() ?? Promise.resolve(),
      destroy: () => this.#current?.destroy(),
      withTypeMapping: (mapping: { [RESP_TYPES.BLOB_STRING]: typeof Buffer }) =>
        _commandsOf(() => this.#bytesOf(mapping), onCommandError),
    };
    const commands = _commandsOf(() => this.#current, onCommandError);
    this.client = new Proxy(lifecycle, {
      get: (target, key) =>
        key in target ? target[key as keyof typeof target] : commands[key as keyof RedisCommands],
    }) as unknown as RedisCommands;
  }

  /** The connection of the moment, if any. */
  get current(): RedisCommands | undefined {
    return this.#current;
  }

  /**
   * Sends the commands to `next` from now on, with the listeners added so
   * far; resolves the connection it replaces, for the caller to close.
   */
  use(next: RedisCommands): RedisCommands | undefined {
    const previous = this.#current;
    for (const [event, listener] of this.#listeners) {
      next.on(event as "error", listener as (error: unknown) => void);
    }
    this.#current = next;
    return previous;
  }

  /**
   * Tells the `error` listeners of a failure outside any connection, such
   * as no Sentinel naming a primary.
   */
  failed(error: unknown): void {
    for (const [event, listener] of this.#listeners) {
      if (event === "error") (listener as (error: unknown) => void)(error);
    }
  }

  /** The byte-typed view of the connection of the moment, made once per connection. */
  #bytesOf(
    mapping: { [RESP_TYPES.BLOB_STRING]: typeof Buffer },
  ): RedisByteCommands | undefined {
    const current = this.#current;
    if (current === undefined) return undefined;
    if (this.#bytes?.of !== current) {
      this.#bytes = { of: current, bytes: current.withTypeMapping(mapping) };
    }
    return this.#bytes.bytes;
  }
}

/** Commands that go to `current()`, failing at once while there is none. */
function _commandsOf<T extends object>(
  current: () => T | undefined,
  onCommandError: (error: unknown) => void,
): T {
  return new Proxy({} as T, {
    // Not a thenable: awaiting the client gives the client.
    get: (_, key) =>
      typeof key === "symbol" || key === "then" ? undefined : async (
        ...args: unknown[]
      ) => {
        const target = current();
        if (target === undefined) {
          throw new Error("Cannot send a command: no Redis primary is known yet");
        }
        try {
          return await (target[key as keyof T] as (...args: unknown[]) => Promise<unknown>)
            .apply(target, args);
        } catch (error) {
          onCommandError(error);
          throw error;
        }
      },
  });
}
