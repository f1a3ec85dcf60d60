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
  /** What a hit answers, when it is not the message (hello world's text). */
  readonly hitBody?: string;
  /** The processes whose memory and CPU are measured. */
  pids(): number[];
  /** Polls held, as the server reports it; undefined where it can't tell. */
  heldCount(): Promise<number | undefined>;
  /** Stops it. */
  stop(): Promise<void>;
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
