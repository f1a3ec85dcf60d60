/**
 * A held poll, as a store sees it: something to wake when its uid may have
 * a message. Waking is a hint; the poll then pops to find out.
 *
 * @example
 * ```ts
 * import type { Waiter } from "./types.ts";
 * const waiter: Waiter = { wake: () => console.log("maybe a message") };
 * ```
 */
export interface Waiter {
  /** Called when a message may be waiting for the watched uid. */
  wake(): void;
}

/**
 * Everything the long-poll handler needs from where messages live. Each uid
 * has a FIFO queue: {@linkcode MessageStore.publish} appends, and
 * {@linkcode MessageStore.pop} takes the oldest.
 *
 * Implementations: `MemoryStore` (the embedded default) and `RedisStore`
 * (from `./redis`). One contract test suite runs against both.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "../../mod.ts";
 * import type { MessageStore } from "./types.ts";
 * const store: MessageStore = new MemoryStore();
 * await store.publish("42", '{"hi":1}');
 * console.log(await store.pop("42")); // {"hi":1}
 * await store.close();
 * ```
 */
export interface MessageStore {
  /** Takes the oldest message of `uid`, or null when there is none. */
  pop(uid: string): Promise<string | null>;
  /** Puts a popped but undelivered message back, so it is the next one out. */
  pushBack(uid: string, message: string): Promise<void>;
  /** Appends a message to `uid`'s queue and wakes its waiters. */
  publish(uid: string, message: string): Promise<void>;
  /**
   * Registers `waiter` to be woken whenever `uid` may have a message.
   * Registration is synchronous: a message published after this call
   * returns always wakes the waiter.
   */
  watch(uid: string, waiter: Waiter): void;
  /** Undoes {@linkcode MessageStore.watch}. */
  unwatch(uid: string, waiter: Waiter): void;
  /** True while the store can serve pops. */
  readonly ready: boolean;
  /** Short name for logs and metrics, such as `memory` or `redis`. */
  readonly kind: string;
  /** Releases connections and timers. The store is unusable afterwards. */
  close(): Promise<void>;
}
