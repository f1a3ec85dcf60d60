/**
 * The browser side of the protocol: a long-poll loop over `fetch` that
 * hands each message to a callback, polls again at once, acknowledges in
 * at-least-once mode, and backs off on failures. With stream delivery
 * (`delivery: "stream"`) it follows `/events` with an `EventSource` where
 * the page has one (long-polls with a cursor elsewhere), keeps the last id
 * in `sessionStorage` so a reload resumes, and reports a reset. The tabs
 * of one uid on one origin share a single poll or stream: one tab leads,
 * the others get every message from it over a `BroadcastChannel`, and
 * when the leader closes or crashes another tab takes over. It runs
 * wherever `fetch` does: browsers, Deno, Bun, Node 18+.
 *
 * @example
 * ```ts ignore
 * import { createLongPollClient } from "@longpoll/redis-longpoll/client";
 *
 * const client = createLongPollClient({
 *   url: "https://push.example.com/",
 *   uid: "42",
 *   sign: "…", // from your backend: hex HMAC-SHA256(secret, uid)
 *   onMessage: (message) => console.log(JSON.parse(message)),
 *   onEnd: (reason) => console.warn("polling ended:", reason),
 * });
 * client.start();
 * ```
 *
 * @module
 */
import { type Backoff, exponentialBackoff, type ExponentialBackoffOptions } from "../backoff.ts";
import { DEFAULT_DELIVERY, DEFAULT_PARAMS, DEFAULT_STOP_CODE } from "../protocol.ts";
import { type EventSourceLike, runEventStreamLoop } from "./event_stream_loop.ts";
import { createInbox, type Inbox } from "./inbox.ts";
import {
  type Delivery,
  type DeliveryInfo,
  type EndReason,
  type PollEnd,
  type PollLoopOptions,
  runPollLoop,
} from "./poll_loop.ts";
import { sleep } from "./sleep.ts";
import { openStreamCursor } from "./stream_cursor.ts";
import { openTabChannel, type TabChannel } from "./tab_channel.ts";
import { electLeader } from "./tab_leadership.ts";

export type { DeliveryInfo, EndReason };
export { type Backoff, exponentialBackoff, type ExponentialBackoffOptions };

/** The hold asked for by default, in seconds. */
const DEFAULT_WAIT = 60;
/** The shortest and longest hold the protocol lets a client ask for, in seconds. */
const MIN_WAIT = 0.001;
const MAX_WAIT = 999_999;
/**
 * A tab that takes over waits this long before its first poll, in
 * milliseconds, so the last deliveries the previous leader shared reach it
 * first: in at-least-once mode it acknowledges the newest of them.
 */
const HANDOVER_MS = 50;

/** Options of {@linkcode createLongPollClient}. */
export interface LongPollClientOptions {
  /** The poll endpoint, such as `https://push.example.com/`. */
  url: string | URL;
  /** The user's id. */
  uid: string;
  /** The uid's signature, from your backend. */
  sign?: string;
  /** The signature's expiry, in unix seconds, when it has one. */
  exp?: number;
  /**
   * Called with each message, exactly as stored (in a batch, the element's
   * JSON text: a message that is not JSON arrives as a JSON string). Calls
   * come one at a time, in order; polling resumes once it returns (or its
   * promise settles). In at-least-once mode a message is acknowledged only
   * if it returned without throwing; otherwise it comes again once its
   * lease runs out (in a batch, the messages after it wait for that).
   */
  onMessage: (message: string, info: DeliveryInfo) => void | Promise<void>;
  /** Called once when polling ends for good. */
  onEnd?: (reason: EndReason, detail?: string) => void;
  /**
   * How the server delivers, its `DELIVERY`: `"queue"` (each message to
   * one poll) or `"stream"` (every device of the uid gets every message,
   * each with an id; `info.id` in `onMessage`). In stream delivery the id
   * of the last message handled is kept in `sessionStorage` under
   * `longpoll:<uid>:since`, and the first poll or stream reads after it,
   * so a reload resumes with no loss and no duplicate; without one it reads
   * from now. A message whose id is not after the last one is dropped.
   * Should the server turn out to deliver in queue mode (its answer names
   * `DELIVERY=stream`), the client long-polls in queue mode.
   * @default {"queue"}
   */
  delivery?: "queue" | "stream";
  /**
   * In stream delivery, how to read: `"eventsource"` follows `/events`
   * with an `EventSource` (reconnecting at once after the last id when a
   * process drains), `"poll"` long-polls with a cursor (`since=`), and
   * `"auto"` picks the `EventSource` where the page has one. Queue delivery
   * always long-polls.
   * @default {"auto"}
   */
  transport?: "auto" | "eventsource" | "poll";
  /**
   * The Server-Sent Events endpoint.
   * @default {"events" resolved against url: https://push.example.com/events}
   */
  eventsUrl?: string | URL;
  /**
   * Called, in order with the messages, when the server reset the stream:
   * the last id was older than the history keeps (or the history was
   * lost), so messages may be missing. Reload the app's state; reading
   * goes on after `next`, the newest id the history keeps.
   */
  onReset?: (next: string) => void | Promise<void>;
  /**
   * The longest hold to ask for, in seconds, sent as `wait=`: the server
   * answers (with the stop code, when nothing came) before then. The client
   * abandons a poll unanswered after `wait` plus 10 % plus a second, and
   * polls again, so a dead connection is noticed, and a poll the server
   * would answer is never abandoned. From 0.001 to 999999, rounded to
   * milliseconds.
   * @default {60}
   */
  wait?: number;
  /**
   * The most messages to take in one answer, sent as `max=`; the server
   * answers up to that many as a JSON array, and each element goes to
   * `onMessage` in order (in at-least-once mode, acknowledged together once
   * all were handled). Unset: one message per answer.
   */
  max?: number;
  /**
   * Share one poll among the tabs of this uid and URL on this origin: one
   * tab polls and hands every message to the others over a
   * `BroadcastChannel`, and another tab takes over when it goes (the Web
   * Locks API picks it, or an election over the channel where that API is
   * missing). A `409` (a poll from elsewhere, such as another browser, took
   * this one's place) is then retried after the backoff instead of ending
   * the client. Off, or where `BroadcastChannel` is missing, each client
   * polls on its own and ends on `409`.
   * @default {true}
   */
  shareTabs?: boolean;
  /**
   * Wait before retry number `attempt` after a failed poll (network error,
   * timeout, 5xx, a 409 while sharing, or a 403 after a poll that worked),
   * in milliseconds; a `Retry-After` header wins when longer. Every wait is
   * clamped to about 24.8 days, the longest a timer honours. Unless set,
   * `exponentialBackoff({ base: 500, max: 30_000, jitter: 0.5 })`.
   * @default {exponentialBackoff from 500 ms to 30 s, jitter 0.5}
   */
  retry?: Backoff;
  /**
   * The server's stop code: the hold ran out, so the client polls again.
   * The server marks its stop answers (`X-Stop: true`), so a message equal
   * to it is still a message; this matters only with `max` against a
   * server with `EARLY_HEADERS=true`, whose answers carry no mark: the stop
   * code where a batch belongs is then the stop. Without `max`, such a
   * server's stop reaches `onMessage`. Unless set, `{"stop":1}`.
   * @default {DEFAULT_STOP_CODE}
   */
  stopCode?: string;
  /**
   * Query parameter names, if the server uses others. Each name left out
   * keeps its default: `uid`, `sign`, `exp`, `ack`, `wait`, `max`, `since`.
   * @default {DEFAULT_PARAMS}
   */
  params?: Partial<Record<"uid" | "sign" | "exp" | "ack" | "wait" | "max" | "since", string>>;
  /**
   * The `fetch` to use; inject one in tests or to add headers.
   * @default {globalThis.fetch}
   */
  fetch?: (request: Request) => Promise<Response>;
}

/**
 * A running long-poll loop.
 *
 * @example
 * ```ts ignore
 * import { createLongPollClient } from "./long_poll_client.ts";
 * const client = createLongPollClient({ url: "http://127.0.0.1:8888/", uid: "42", onMessage: console.log });
 * client.start();
 * setTimeout(() => client.stop(), 60_000);
 * ```
 */
export interface LongPollClient {
  /** Starts polling, or following the tab that polls; calling it while running does nothing. */
  start(): void;
  /** Stops polling and aborts the poll in flight; another tab takes over. */
  stop(): void;
  /** True between {@linkcode LongPollClient.start} and the end. */
  readonly running: boolean;
  /** True while this client is the one that polls (always, while running, when not sharing). */
  readonly leading: boolean;
}

/**
 * Creates a long-poll client; call `start()` to begin.
 *
 * @example
 * ```ts
 * import { createLongPollClient } from "./long_poll_client.ts";
 * import { createLongPollHandler, MemoryStore } from "@longpoll/redis-longpoll";
 *
 * const store = new MemoryStore();
 * const handler = createLongPollHandler({ store, minWait: 0.05, maxWait: 0.05 });
 * await store.publish("42", '{"hi":1}');
 *
 * const received: string[] = [];
 * const client = createLongPollClient({
 *   url: "http://local/",
 *   uid: "42",
 *   fetch: handler,
 *   onMessage: (message) => {
 *     received.push(message);
 *     client.stop();
 *   },
 * });
 * client.start();
 * await new Promise((resolve) => setTimeout(resolve, 50));
 * console.log(received); // [ '{"hi":1}' ]
 * ```
 */
export function createLongPollClient(options: LongPollClientOptions): LongPollClient {
  const poll = _pollOptions(options);
  const stream = _streamOptions(options);
  const share = options.shareTabs !== false && typeof BroadcastChannel === "function";
  const name = `redis-longpoll ${new URL(options.url).href} ${options.uid}`;
  let run: AbortController | undefined;
  let leader: AbortController | undefined;
  // Set once a server in queue mode refused the stream.
  let queueMode = stream === undefined;

  const end = (current: AbortController, reason: EndReason, detail?: string) => {
    if (run !== current) return;
    run = leader = undefined;
    current.abort();
    options.onEnd?.(reason, detail);
  };

  const start = (current: AbortController) => {
    const cursor = stream === undefined ? undefined : openStreamCursor(options.uid);
    const inbox = createInbox({ onMessage: options.onMessage, onReset: options.onReset, cursor });
    const read = (
      signal: AbortSignal,
      deliver: (delivery: Delivery) => Promise<boolean>,
      tabs?: TabChannel,
    ): Promise<PollEnd> => {
      const loop = { ...poll, ack: tabs?.lastAck, retrySuperseded: tabs !== undefined, deliver };
      if (stream === undefined || queueMode) return runPollLoop({ ...loop, signal });
      const position = { param: stream.param, since: cursor?.last };
      if (stream.events === undefined) return runPollLoop({ ...loop, signal, stream: position });
      return runEventStreamLoop({ ...loop, ...stream.events, stream: position, signal });
    };
    const lead = async (
      signal: AbortSignal,
      deliver: (delivery: Delivery) => Promise<boolean>,
      tabs?: TabChannel,
    ) => {
      if (run === current) leader = current;
      let result = await read(signal, deliver, tabs);
      if (!queueMode && result.reason === "refused" && _namesQueueMode(result.detail)) {
        queueMode = true;
        result = await read(signal, deliver, tabs);
      }
      if (leader === current) leader = undefined;
      if (result.reason !== "stopped") end(current, result.reason, result.detail);
    };
    if (!share) {
      lead(current.signal, (delivery) => inbox.handle(delivery, delivery.info.ack !== undefined));
      return;
    }
    const tabs = openTabChannel({
      name,
      signal: current.signal,
      onDelivery: (delivery) => void inbox.handle(delivery, false),
    });
    electLeader({
      name,
      signal: current.signal,
      lead: async (lost, takeover) => {
        if (takeover) await sleep(HANDOVER_MS, lost);
        if (!lost.aborted) await lead(lost, (delivery) => _handOut(delivery, inbox, tabs), tabs);
      },
    });
  };

  return {
    start() {
      if (run !== undefined) return;
      run = new AbortController();
      start(run);
    },
    stop() {
      if (run !== undefined) end(run, "stopped");
    },
    get running() {
      return run !== undefined;
    },
    get leading() {
      return leader !== undefined;
    },
  };
}

/**
 * The leader's delivery: shared with the other tabs and handled here. In
 * at-least-once mode it is shared only once handled, and acknowledged only
 * once the share has left this tab: if this tab fails or dies before
 * either, it comes again to all (each tab drops what it already had, by
 * ack id).
 */
async function _handOut(delivery: Delivery, inbox: Inbox, tabs: TabChannel): Promise<boolean> {
  if (delivery.info.ack === undefined) {
    void tabs.share(delivery);
    return inbox.handle(delivery, false);
  }
  return await inbox.handle(delivery, true) && await tabs.share(delivery);
}

/** The poll loop's settings from the client's options, each checked. */
function _pollOptions(
  options: LongPollClientOptions,
): Omit<PollLoopOptions, "ack" | "retrySuperseded" | "deliver" | "signal"> {
  let url: URL;
  try {
    url = new URL(options.url); // not URL.parse, which browsers before 2024 lack
  } catch {
    throw new TypeError(`Cannot create client: "url" is not a valid URL, got "${options.url}"`);
  }
  if (options.uid === "") throw new TypeError('Cannot create client: "uid" is empty');
  const { max } = options;
  // Sent with at most 3 decimals, as the server reads it.
  const wait = Math.round((options.wait ?? DEFAULT_WAIT) * 1000) / 1000;
  if (!(wait >= MIN_WAIT && wait <= MAX_WAIT)) {
    throw new RangeError(
      `Cannot create client: "wait" must be a number of seconds from ${MIN_WAIT} to ${MAX_WAIT}, got "${options.wait}"`,
    );
  }
  if (max !== undefined && !(Number.isSafeInteger(max) && max >= 1)) {
    throw new RangeError(
      `Cannot create client: "max" must be an integer of 1 or more, got "${max}"`,
    );
  }
  const names = _paramNames(options);
  _sign(url, options);
  url.searchParams.set(names.wait, String(wait));
  if (max !== undefined) url.searchParams.set(names.max, String(max));
  return {
    url,
    ackParam: names.ack,
    fetch: options.fetch ?? ((request: Request) => fetch(request)),
    timeoutMs: wait * 1100 + 1000,
    retry: options.retry ?? exponentialBackoff({ base: 500, max: 30_000, jitter: 0.5 }),
    stopCode: options.stopCode ?? DEFAULT_STOP_CODE,
    batch: max !== undefined,
  };
}

/** Stream delivery's settings from the client's options, each checked; undefined in queue delivery. */
function _streamOptions(options: LongPollClientOptions): {
  param: string;
  events?: { url: URL; open: (url: string) => EventSourceLike };
} | undefined {
  const { delivery = DEFAULT_DELIVERY, transport = "auto" } = options;
  if (delivery !== "queue" && delivery !== "stream") {
    throw new TypeError(
      `Cannot create client: "delivery" must be "queue" or "stream", got "${delivery}"`,
    );
  }
  if (!["auto", "eventsource", "poll"].includes(transport)) {
    throw new TypeError(
      `Cannot create client: "transport" must be "auto", "eventsource" or "poll", got "${transport}"`,
    );
  }
  const EventSource = (globalThis as { EventSource?: new (url: string) => EventSourceLike })
    .EventSource;
  if (transport === "eventsource" && delivery === "queue") {
    throw new TypeError(
      'Cannot create client: "transport" "eventsource" needs "delivery" "stream"',
    );
  }
  if (transport === "eventsource" && EventSource === undefined) {
    throw new TypeError(
      'Cannot create client: "transport" is "eventsource" but there is no EventSource here',
    );
  }
  if (delivery === "queue") return undefined;
  const param = _paramNames(options).since;
  if (transport === "poll" || EventSource === undefined) return { param };
  let url: URL;
  try {
    url = new URL(options.eventsUrl ?? "events", options.url);
  } catch {
    throw new TypeError(
      `Cannot create client: "eventsUrl" is not a valid URL, got "${options.eventsUrl}"`,
    );
  }
  _sign(url, options);
  return { param, events: { url, open: (href) => new EventSource(href) } };
}

/** The query parameter names, the defaults where `options.params` leaves one out. */
function _paramNames(options: LongPollClientOptions) {
  return { ...DEFAULT_PARAMS, ...options.params };
}

/** Puts the uid, its signature and expiry on `url`. */
function _sign(url: URL, options: LongPollClientOptions): void {
  const names = _paramNames(options);
  url.searchParams.set(names.uid, options.uid);
  if (options.sign !== undefined) url.searchParams.set(names.sign, options.sign);
  if (options.exp !== undefined) url.searchParams.set(names.exp, String(options.exp));
}

/** True for the error of a server that delivers in queue mode, asked for a stream or a cursor. */
function _namesQueueMode(detail: string | undefined): boolean {
  return detail?.includes("DELIVERY=stream") ?? false;
}
