import type { MessageStore, Waiter } from "./types.ts";
import { WaiterRegistry } from "./waiters.ts";

/**
 * The embedded default store: per-uid FIFO queues in this process's memory.
 * A publish wakes that uid's waiting polls at once. Nothing survives a
 * restart, and processes don't share it; use `RedisStore` for that.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "./memory.ts";
 * const store = new MemoryStore();
 * await store.publish("42", "first");
 * await store.publish("42", "second");
 * console.log(await store.pop("42")); // first
 * await store.close();
 * ```
 */
export class MemoryStore implements MessageStore {
  readonly kind: string = "memory";
  readonly #queues = new Map<string, string[]>();
  readonly #waiters = new WaiterRegistry();
  #closed = false;

  /** Always true until {@linkcode MemoryStore.close}. */
  get ready(): boolean {
    return !this.#closed;
  }

  /** Number of messages queued for `uid`. */
  size(uid: string): number {
    return this.#queues.get(uid)?.length ?? 0;
  }

  pop(uid: string): Promise<string | null> {
    if (this.#closed) return _closed("pop");
    const queue = this.#queues.get(uid);
    if (queue === undefined) return Promise.resolve(null);
    const message = queue.shift()!;
    if (queue.length === 0) this.#queues.delete(uid);
    return Promise.resolve(message);
  }

  pushBack(uid: string, message: string): Promise<void> {
    if (this.#closed) return _closed("push back");
    const queue = this.#queues.get(uid);
    if (queue === undefined) this.#queues.set(uid, [message]);
    else queue.unshift(message);
    this.#waiters.wake(uid);
    return Promise.resolve();
  }

  publish(uid: string, message: string): Promise<void> {
    if (this.#closed) return _closed("publish");
    const queue = this.#queues.get(uid);
    if (queue === undefined) this.#queues.set(uid, [message]);
    else queue.push(message);
    this.#waiters.wake(uid);
    return Promise.resolve();
  }

  watch(uid: string, waiter: Waiter): void {
    this.#waiters.add(uid, waiter);
  }

  unwatch(uid: string, waiter: Waiter): void {
    this.#waiters.delete(uid, waiter);
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}

function _closed(action: string): Promise<never> {
  return Promise.reject(new Error(`Cannot ${action}: the memory store is closed`));
}
