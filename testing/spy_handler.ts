/**
 * The rig of the fake-clock tests: a fake clock, a spy on an in-memory store
 * timed by it, the errors the code under test reports, and a long-poll
 * handler on them.
 *
 * @example
 * ```ts
 * import { spyHandler } from "./spy_handler.ts";
 * const { handler, store } = spyHandler({ minWait: 1, maxWait: 1 });
 * await store.publish("42", "hi");
 * const response = await handler(new Request("http://x/?uid=42"));
 * console.log(await response.text(), store.pops.length); // hi 1
 * ```
 *
 * @module
 */
import { createLongPollHandler, type LongPollHandler } from "../src/handler.ts";
import type { LongPollOptions } from "../src/options.ts";
import { MemoryStore } from "../src/store/memory.ts";
import { FakeClock } from "./fake_clock.ts";
import { type SpiedStore, spyOn } from "./spy_store.ts";

/** A fake clock, a spied store on it, and the errors reported through `onError`. */
export interface SpyRig {
  /** The clock the store and the code under test read. */
  readonly clock: FakeClock;
  /** An in-memory store with a spy on it, timed by `clock`. */
  readonly store: SpiedStore<MemoryStore>;
  /** Every error `onError` was given, in order. */
  readonly errors: unknown[];
  /** Pass as the `onError` option: notes the error in `errors`. */
  readonly onError: (error: unknown) => void;
}

/**
 * A fresh {@linkcode SpyRig}.
 *
 * @example
 * ```ts
 * import { spyRig } from "./spy_handler.ts";
 * const { onError, errors } = spyRig();
 * onError(new Error("boom"));
 * console.log(errors.length); // 1
 * ```
 */
export function spyRig(): SpyRig {
  const clock = new FakeClock();
  const store = spyOn(new MemoryStore(), clock);
  const errors: unknown[] = [];
  return { clock, store, errors, onError: (error) => errors.push(error) };
}

/** A {@linkcode SpyRig} and a long-poll handler on it, given `options` over its parts. */
export function spyHandler(
  options: Partial<LongPollOptions> = {},
): SpyRig & { handler: LongPollHandler } {
  const rig = spyRig();
  const { clock, store, onError } = rig;
  const handler = createLongPollHandler({ store, clock, onError, ...options });
  return { ...rig, handler };
}
