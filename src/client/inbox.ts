/**
 * Where a tab's deliveries meet the page's `onMessage`: one at a time, in
 * the order they came, whether from this tab's own poll or from the tab
 * that polls for it, and never twice for the same ack id or, in stream
 * delivery, for an id at or before the cursor (which each handled message
 * then moves on, and a reset moves to the history's newest id).
 *
 * @module
 */
import type { Delivery, DeliveryInfo } from "./poll_loop.ts";
import type { StreamCursor } from "./stream_cursor.ts";

/** Most ack ids an inbox remembers, to drop a delivery that comes twice. */
const REMEMBERED_ACKS = 256;

/** Hands deliveries to the page, one at a time, in order. */
export interface Inbox {
  /**
   * Queues `delivery` behind those before it; resolves true once each of
   * its messages was handled without throwing. With `comesAgain` (a
   * delivery the server will hand out again unless acknowledged), a
   * message that throws stops the rest, which then come again in order.
   */
  handle(delivery: Delivery, comesAgain: boolean): Promise<boolean>;
}

/** What an inbox calls, and where it keeps its place in stream delivery. */
export interface InboxOptions {
  /** Called with each message, in order. */
  readonly onMessage: (message: string, info: DeliveryInfo) => void | Promise<void>;
  /** Called, in order with the messages, when the history was reset: `next` is its newest id. */
  readonly onReset?: (next: string) => void | Promise<void>;
  /**
   * Stream delivery's cursor: a message at or before it is dropped, and
   * handling one moves it on (also when `onMessage` throws: the cursor is
   * the acknowledgement, and stream delivery hands nothing out again).
   */
  readonly cursor?: StreamCursor;
}

/**
 * Creates an {@linkcode Inbox} calling `options.onMessage`.
 *
 * @example
 * ```ts
 * import { createInbox } from "./inbox.ts";
 * const seen: string[] = [];
 * const inbox = createInbox({ onMessage: (message) => void seen.push(message) });
 * const info = { ack: "a1", redelivered: false };
 * await inbox.handle({ messages: ["x", "y"], info }, true);
 * await inbox.handle({ messages: ["x", "y"], info }, false); // the same ack id: dropped
 * console.log(seen); // [ "x", "y" ]
 * ```
 */
export function createInbox(options: InboxOptions): Inbox {
  const { onMessage, cursor } = options;
  const handled = new Set<string>();
  let tail: Promise<unknown> = Promise.resolve();

  const runStream = async ({ messages, info, stream }: Delivery) => {
    if (stream === undefined || cursor === undefined) return true;
    if (stream.reset) {
      cursor.reset(stream.next);
      await _settled(() => options.onReset?.(stream.next));
      return true;
    }
    let all = true;
    for (const [i, message] of messages.entries()) {
      const id = stream.ids[i];
      if (!cursor.isNew(id)) continue;
      all = await _settled(() => onMessage(message, { ...info, id })) && all;
      cursor.advance(id);
    }
    // An answer with nothing new still says where the stream is.
    cursor.advance(stream.next);
    return all;
  };

  const run = async (delivery: Delivery, comesAgain: boolean) => {
    if (delivery.stream !== undefined) return await runStream(delivery);
    const { messages, info } = delivery;
    if (info.ack !== undefined && handled.has(info.ack)) return true;
    let all = true;
    for (const message of messages) {
      if (!await _settled(() => onMessage(message, info))) {
        all = false;
        if (comesAgain) break;
      }
    }
    if (all && info.ack !== undefined) {
      handled.add(info.ack);
      if (handled.size > REMEMBERED_ACKS) handled.delete(handled.values().next().value!);
    }
    return all;
  };

  return {
    handle(delivery, comesAgain) {
      const done = tail.then(() => run(delivery, comesAgain));
      tail = done;
      return done;
    },
  };
}

/** Runs a page callback; true when it returned (or its promise resolved) without throwing. */
async function _settled(callback: () => void | Promise<void>): Promise<boolean> {
  try {
    await callback();
    return true;
  } catch {
    return false;
  }
}
