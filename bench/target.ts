/**
 * What the scenarios need to know about a server under test.
 *
 * @module
 */
import type { PublishSpec } from "./worker_protocol.ts";

/**
 * The hit lists `<prefix>0..uids-1` of a server whose store is in its own
 * memory, reached through the library: each call returns every list's length.
 */
export interface TargetLists {
  /** Tops every list up to `each` copies of `message`. */
  fill(lists: { prefix: string; uids: number; each: number; message: string }): Promise<number[]>;
  /** The lists' lengths. */
  lengths(prefix: string, uids: number): Promise<number[]>;
}

/** A running server under test: ours, Nchan, or a reference server. */
export interface BenchTarget {
  /** Name in the table. */
  readonly name: string;
  /** Port on 127.0.0.1. */
  readonly port: number;
  /** Poll path and query up to the uid, e.g. `/?uid=`. */
  readonly pollPath: string;
  /** Polls are Server-Sent Events streams (`pollPath` is their path). */
  readonly stream?: boolean;
  /** How a message for a uid is published. */
  readonly publish: PublishSpec;
  /** What a hit answers, when it is not the message (hello world's text). */
  readonly hitBody?: string;
  /** The hit lists, where they live in the server's memory rather than in Redis. */
  readonly lists?: TargetLists;
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
