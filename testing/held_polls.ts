/**
 * How many polls a running server holds, read from its `/metrics`, and a
 * wait for a given count: for the tests and the bench that drive a server
 * process over HTTP.
 *
 * @module
 */
import { type WaitOptions, waitUntil } from "./wait_until.ts";

/** A server reachable over HTTP at `origin` (`http://127.0.0.1:8080`). */
export interface HasOrigin {
  /** Scheme, host and port, with no trailing slash. */
  readonly origin: string;
}

const _HELD = /^longpoll_held_polls (\d+)$/m;
/** Longest wait for one `/metrics` answer, so a server at its limits can't stall a check. */
const _METRICS_TIMEOUT_MS = 2_000;

/**
 * The held-polls gauge in a Prometheus text exposition; NaN where it is
 * missing.
 *
 * @example
 * ```ts
 * import { heldPollsIn } from "./held_polls.ts";
 * console.log(heldPollsIn("longpoll_held_polls 3\n")); // 3
 * console.log(heldPollsIn("")); // NaN
 * ```
 */
export function heldPollsIn(metrics: string): number {
  return Number(_HELD.exec(metrics)?.[1] ?? NaN);
}

/** The polls `server` holds now, from its `/metrics`; NaN where it does not say. */
export async function heldPolls(server: HasOrigin): Promise<number> {
  const response = await fetch(`${server.origin}/metrics`, {
    signal: AbortSignal.timeout(_METRICS_TIMEOUT_MS),
  });
  return heldPollsIn(await response.text());
}

/**
 * Resolves once `servers` together hold `count` polls; throws "Timed out
 * after <timeoutMs> ms waiting for <count> held polls (last seen: <n>)"
 * when they never do.
 */
export async function waitUntilHeld(
  servers: HasOrigin | readonly HasOrigin[],
  count: number,
  options: WaitOptions = {},
): Promise<void> {
  const all = "origin" in servers ? [servers] : servers;
  let seen = NaN;
  await waitUntil(async () => {
    seen = (await Promise.all(all.map(heldPolls))).reduce((a, b) => a + b, 0);
    return seen === count;
  }, { what: () => `${count} held polls (last seen: ${seen})`, ...options });
}
