/**
 * A first-in, first-out queue of strings with O(1) amortized push, shift and
 * unshift, where `Array#shift` would copy the whole array on every call.
 *
 * @example
 * ```ts
 * import { Fifo } from "./fifo.ts";
 * const queue = new Fifo();
 * queue.push("a");
 * queue.push("b");
 * queue.unshift("first");
 * console.log(queue.peek(), queue.shift(), queue.shift(), queue.length); // first first a 1
 * ```
 */
export class Fifo {
  #items: (string | undefined)[] = [];
  #head = 0;

  /** Number of items queued. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Appends `item` at the tail. */
  push(item: string): void {
    this.#items.push(item);
  }

  /** Puts `item` at the head, so it is the next one out. */
  unshift(item: string): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
  }

  /** The head item, left in place, or undefined when empty. */
  peek(): string | undefined {
    return this.#items[this.#head];
  }

  /** Takes the head item, or undefined when empty. */
  shift(): string | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    // Drop the consumed prefix once it is most of the array.
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}
