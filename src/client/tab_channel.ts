/**
 * The fan-out between the tabs of one uid: the tab that polls shares each
 * delivery on a `BroadcastChannel`, and every other tab receives it there.
 * Each tab also keeps the last ack id shared, so a tab that takes over the
 * polling in at-least-once mode acknowledges what the previous one
 * delivered, and nothing else.
 *
 * @module
 */
import type { Delivery } from "./poll_loop.ts";

/** Options of {@linkcode openTabChannel}. */
export interface TabChannelOptions {
  /** The channel's name; tabs with the same name share deliveries. */
  readonly name: string;
  /** Called with each delivery another tab shared, in the order shared. */
  readonly onDelivery: (delivery: Delivery) => void;
  /** Closes the channel. */
  readonly signal: AbortSignal;
}

/** A tab's end of the fan-out. */
export interface TabChannel {
  /** Sends `delivery` to every other tab. */
  share(delivery: Delivery): void;
  /** The ack id of the newest delivery shared, by any tab, in at-least-once mode. */
  readonly lastAck: string | undefined;
}

/**
 * Opens a {@linkcode TabChannel}; it closes when `signal` aborts.
 *
 * @example
 * ```ts
 * import { openTabChannel } from "./tab_channel.ts";
 * const stop = new AbortController();
 * const { promise, resolve } = Promise.withResolvers<string[]>();
 * const options = { name: "example tabs", signal: stop.signal };
 * openTabChannel({ ...options, onDelivery: ({ messages }) => resolve([...messages]) });
 * const leader = openTabChannel({ ...options, onDelivery: () => {} });
 * leader.share({ messages: ['{"n":1}'], info: { ack: "a1", redelivered: false } });
 * console.log(await promise, leader.lastAck); // [ '{"n":1}' ] a1
 * stop.abort();
 * ```
 */
export function openTabChannel(options: TabChannelOptions): TabChannel {
  const channel = new BroadcastChannel(options.name);
  let lastAck: string | undefined;
  channel.onmessage = (event: MessageEvent) => {
    const delivery = _deliveryOf(event.data);
    if (delivery === null) return;
    if (delivery.info.ack !== undefined) lastAck = delivery.info.ack;
    options.onDelivery(delivery);
  };
  options.signal.addEventListener("abort", () => channel.close(), { once: true });
  return {
    share(delivery) {
      if (delivery.info.ack !== undefined) lastAck = delivery.info.ack;
      if (options.signal.aborted) return;
      const { messages, info } = delivery;
      channel.postMessage({ messages, ack: info.ack, redelivered: info.redelivered });
    },
    get lastAck() {
      return lastAck;
    },
  };
}

/** The delivery in a channel message, or null when it is not one. */
function _deliveryOf(data: unknown): Delivery | null {
  const { messages, ack, redelivered } = (data ?? {}) as Record<string, unknown>;
  const valid = Array.isArray(messages) && messages.every((m) => typeof m === "string") &&
    (ack === undefined || typeof ack === "string") && typeof redelivered === "boolean";
  return valid ? { messages, info: { ack, redelivered } } : null;
}
