/**
 * What the scenarios need to know about a server under test.
 *
 * @module
 */
import type { PublishSpec } from "./worker_protocol.ts";

/** A running server under test: ours, Nchan, or the hello-world ceiling. */
export interface BenchTarget {
  /** Name in the table. */
  readonly name: string;
  /** Port on 127.0.0.1. */
  readonly port: number;
  /** Poll path and query up to the uid, e.g. `/?uid=`. */
  readonly pollPath: string;
  /** How a message for a uid is published. */
  readonly publish: PublishSpec;
  /** The processes whose memory and CPU are measured. */
  pids(): number[];
  /** Polls held, as the server reports it; undefined where it can't tell. */
  heldCount(): Promise<number | undefined>;
  /** Stops it. */
  stop(): Promise<void>;
}

/**
 * Waits until `ready()` is true, checking every `intervalMs`, for at most `timeoutMs`.
 * Returns whether it became true.
 *
 * @example
 * ```ts
 * import { waitFor } from "./target.ts";
 * console.log(await waitFor(() => true, 100)); // true
 * ```
 */
export async function waitFor(
  ready: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 25,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let round = 0; round < 1_000_000; round++) {
    try {
      if (await ready()) return true;
    } catch {
      // not yet
    }
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return false;
}

/**
 * Reads a text file's last `lines` lines, or "" when it can't.
 *
 * @example
 * ```ts
 * import { tail } from "./target.ts";
 * console.log(tail("/nonexistent", 5)); // ""
 * ```
 */
export function tail(path: string, lines: number): string {
  try {
    return Deno.readTextFileSync(path).trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}
