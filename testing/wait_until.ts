/**
 * Waiting on the real clock, for tests and the bench: a sleep, and polling
 * a condition until it holds or time runs out.
 *
 * @module
 */

/**
 * Resolves after `ms` milliseconds.
 *
 * @example
 * ```ts
 * import { sleep } from "./wait_until.ts";
 * const started = Date.now();
 * await sleep(20);
 * console.log(Date.now() - started >= 15); // true
 * ```
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Options of {@linkcode waitUntil} and {@linkcode pollUntil}. */
export interface WaitOptions {
  /**
   * What is awaited, for the timeout error: "Timed out after 10000 ms waiting
   * for <what>". A function is called only when the time has run out, so it
   * can describe the state at that moment.
   * @default {"the condition"}
   */
  what?: string | (() => string);
  /** How long to wait, in ms. @default {10000} */
  timeoutMs?: number;
  /** Pause between two checks, in ms. @default {5} */
  intervalMs?: number;
  /**
   * Count a check that throws as "not yet" rather than failing at once: for
   * a server that refuses connections until it is up.
   * @default {false}
   */
  retryErrors?: boolean;
}

/**
 * Checks `check` at once and then every `intervalMs` until it holds; returns
 * whether it held before `timeoutMs` ran out. For callers that report a
 * timeout their own way (with a log, say).
 *
 * @example
 * ```ts
 * import { pollUntil } from "./wait_until.ts";
 * let calls = 0;
 * console.log(await pollUntil(() => ++calls === 3)); // true
 * console.log(await pollUntil(() => false, { timeoutMs: 20 })); // false
 * ```
 */
export async function pollUntil(
  check: () => boolean | Promise<boolean>,
  options: WaitOptions = {},
): Promise<boolean> {
  const { timeoutMs = 10_000, intervalMs = 5, retryErrors = false } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await _holds(check, retryErrors)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

/**
 * Resolves once `check` holds, checking at once and then every `intervalMs`;
 * throws "Timed out after <timeoutMs> ms waiting for <what>" when it never
 * does.
 *
 * @example
 * ```ts
 * import { waitUntil } from "./wait_until.ts";
 * const ready = Date.now() + 20;
 * await waitUntil(() => Date.now() >= ready, { what: "20 ms to pass" });
 * const late = await waitUntil(() => false, { what: "never", timeoutMs: 10 }).catch((e) => e);
 * console.log(late.message); // Timed out after 10 ms waiting for never
 * ```
 */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  options: WaitOptions = {},
): Promise<void> {
  if (await pollUntil(check, options)) return;
  const { what = "the condition", timeoutMs = 10_000 } = options;
  const described = typeof what === "function" ? what() : what;
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${described}`);
}

async function _holds(
  check: () => boolean | Promise<boolean>,
  retryErrors: boolean,
): Promise<boolean> {
  if (!retryErrors) return await check();
  try {
    return await check();
  } catch {
    return false;
  }
}
