/**
 * How a poll takes its messages, whatever the delivery: the contract of
 * the takers that `createTaker` makes.
 *
 * @module
 */
import type { Taken } from "./outcome.ts";

/** What a poll asks of a take: its uid, and where it is. */
export interface TakeSubject {
  /** The uid whose messages are taken. */
  readonly uid: string;
  /** At-least-once: the delivery this poll acknowledges. */
  readonly ack: string | undefined;
  /**
   * Most messages to take at once (`max=`), or undefined for one (in
   * stream delivery, up to `maxBatch`).
   */
  readonly max?: number;
  /**
   * Stream delivery: the cursor to read after, undefined for from now. A
   * read from now that finds nothing sets it to the newest id, so the poll
   * holds on it.
   */
  since?: string;
}

/**
 * How a poll takes its messages from the store, gives back one it could not
 * deliver, and learns that one was delivered. Three kinds, made by
 * `createTaker` (leases.ts): plain pops, at-least-once leases, and reads of
 * a uid's history after a cursor (stream delivery).
 */
export interface Taker {
  /**
   * Takes the next message of `subject.uid`, or null; `ack` acknowledges a
   * lease first. With `max`, plain pops take a batch of up to that many.
   */
  take(subject: TakeSubject): Promise<Taken | null>;
  /** Puts back a message taken for a client that has gone. */
  giveBack(uid: string, taken: Taken): Promise<void>;
  /** Says that `taken` was handed to the client of `uid`. */
  delivered(uid: string, taken: Taken): void;
}
