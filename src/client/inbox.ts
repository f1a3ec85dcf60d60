/**
 * Where a tab's deliveries meet the page's `onMessage`: one at a time, in
 * the order they came, whether from this tab's own poll or from the tab
 * that polls for it, and never twice for the same ack id.
 *
 * @module
 */
import type { Delivery, DeliveryInfo } from "./poll_loop.ts";

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

/**
 * Creates an {@linkcode Inbox} calling `onMessage`.
 *
 * @example
 * ```ts
 * import { createInbox } from "./inbox.ts";
 * const seen: string[] = [];
 * const inbox = createInbox((message) => void seen.push(message));
 * const info = { ack: "a1", redelivered: false };
 * await inbox.handle({ messages: ["x", "y"], info }, true);
 * await inbox.handle({ messages: ["x", "y"], info }, false); // the same ack id: dropped
 * console.log(seen); // [ "x", "y" ]
 * ```
 */
export function createInbox(
  onMessage: (message: string, info: DeliveryInfo) => void | Promise<void>,
): Inbox {
  const handled = new Set<string>();
  let tail: Promise<unknown> = Promise.resolve();

  const run = async ({ messages, info }: Delivery, comesAgain: boolean) => {
    if (info.ack !== undefined && handled.has(info.ack)) return true;
    let all = true;
    for (const message of messages) {
      try {
        await onMessage(message, info);
      } catch {
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
