/**
 * Wraps a real store so a test can hold a pop between the store's answer
 * and the handler's view of it, to force the races that matter.
 */
import type { LeasedMessage, MessageStore, TakeOptions, Waiter } from "../mod.ts";

/** A store whose next pop can be paused after the real pop returned. */
export class GatedStore implements MessageStore {
  readonly inner: MessageStore;
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  #paused: ((message: string | null) => void) | undefined;
  pops = 0;

  constructor(inner: MessageStore) {
    this.inner = inner;
  }

  get ready(): boolean {
    return this.inner.ready;
  }

  get kind(): string {
    return this.inner.kind;
  }

  checkReady(): Promise<boolean> {
    return this.inner.checkReady();
  }

  /**
   * Pauses the next pop after the real pop came back. Resolves with what it
   * popped, once it is paused; call the returned `release` to let it go on.
   */
  pauseNextPop(): { paused: Promise<string | null>; release: () => void } {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
    const paused = new Promise<string | null>((resolve) => (this.#paused = resolve));
    return { paused, release: () => this.#open?.() };
  }

  async pop(uid: string): Promise<string | null> {
    this.pops++;
    const message = await this.inner.pop(uid);
    await this.#pauseIfAsked(message);
    return message;
  }

  async take(uid: string, options: TakeOptions): Promise<LeasedMessage | null> {
    this.pops++;
    const leased = await this.inner.take(uid, options);
    await this.#pauseIfAsked(leased?.message ?? null);
    return leased;
  }

  release(uid: string, id: string): Promise<void> {
    return this.inner.release(uid, id);
  }

  async #pauseIfAsked(message: string | null): Promise<void> {
    const gate = this.#gate;
    if (gate === undefined) return;
    this.#gate = undefined;
    this.#paused?.(message);
    await gate;
  }

  popMany(uid: string, count: number): Promise<string[]> {
    return this.inner.popMany(uid, count);
  }

  pushBack(uid: string, message: string): Promise<void> {
    return this.inner.pushBack(uid, message);
  }

  publish(uid: string, message: string): Promise<void> {
    return this.inner.publish(uid, message);
  }

  watch(uid: string, waiter: Waiter): void {
    this.inner.watch(uid, waiter);
  }

  unwatch(uid: string, waiter: Waiter): void {
    this.inner.unwatch(uid, waiter);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
