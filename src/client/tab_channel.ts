/**
 * The fan-out between the tabs of one uid: the tab that polls shares each
 * delivery on a `BroadcastChannel`, and every other tab receives it there.
 * Each tab also keeps the last ack id shared, so a tab that takes over the
 * polling in at-least-once mode acknowledges what the previous one
 * delivered, and nothing else. A share says when it has left: it comes back
 * to a second end of the channel in the same tab, which it reaches only
 * once it went out to every other tab, so a tab that dies after that
 * moment can no longer take the share with it.
 *
 * @module
 */
import type { Delivery } from "./poll_loop.ts";

/** How long a share may take to come back before it counts as lost, in milliseconds. */
const SHARE_TIMEOUT_MS = 1000;

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
  /**
   * Sends `delivery` to every other tab. Resolves true once it has left
   * this tab for all of them, false when it did not within a second or the
   * channel closed first.
   */
  share(delivery: Delivery): Promise<boolean>;
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
 * const left = await leader.share({ messages: ['{"n":1}'], info: { ack: "a1", redelivered: false } });
 * console.log(left, await promise, leader.lastAck); // true [ '{"n":1}' ] a1
 * stop.abort();
 * ```
 */
export function openTabChannel(options: TabChannelOptions): TabChannel {
  const channel = new BroadcastChannel(options.name);
  // The second end, where this tab's own shares come back.
  const echo = new BroadcastChannel(options.name);
  const tag = Math.random().toString(36).slice(2);
  const pending = new Map<string, (left: boolean) => void>();
  let sent = 0;
  let lastAck: string | undefined;
  channel.onmessage = (event: MessageEvent) => {
    const delivery = _deliveryOf(event.data);
    if (delivery === null) return;
    if (delivery.info.ack !== undefined) lastAck = delivery.info.ack;
    options.onDelivery(delivery);
  };
  echo.onmessage = (event: MessageEvent) => {
    const { share } = (event.data ?? {}) as Record<string, unknown>;
    if (typeof share === "string") pending.get(share)?.(true);
  };
  options.signal.addEventListener("abort", () => {
    channel.close();
    echo.close();
    for (const settle of pending.values()) settle(false);
  }, { once: true });
  return {
    share(delivery) {
      if (delivery.info.ack !== undefined) lastAck = delivery.info.ack;
      if (options.signal.aborted) return Promise.resolve(false);
      const { messages, info, stream } = delivery;
      const share = `${tag}.${sent++}`;
      const left = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => settle(false), SHARE_TIMEOUT_MS);
        const settle = (left: boolean) => {
          clearTimeout(timer);
          pending.delete(share);
          resolve(left);
        };
        pending.set(share, settle);
      });
      channel.postMessage({
        messages,
        ack: info.ack,
        redelivered: info.redelivered,
        stream,
        share,
      });
      return left;
    },
    get lastAck() {
      return lastAck;
    },
  };
}

/** The delivery in a channel message, or null when it is not one. */
function _deliveryOf(data: unknown): Delivery | null {
  const { messages, ack, redelivered, stream } = (data ?? {}) as Record<string, unknown>;
  const valid = _strings(messages) &&
    (ack === undefined || typeof ack === "string") && typeof redelivered === "boolean";
  if (!valid) return null;
  if (stream === undefined) return { messages, info: { ack, redelivered } };
  const { ids, next, reset } = stream as Record<string, unknown>;
  return _strings(ids) && ids.length === messages.length && typeof next === "string" &&
      typeof reset === "boolean"
    ? { messages, info: { ack, redelivered }, stream: { ids, next, reset } }
    : null;
}

function _strings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}
