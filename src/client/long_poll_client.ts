/**
 * The browser side of protocol v1: a long-poll loop over `fetch` that
 * hands each message to a callback, polls again at once, acknowledges in
 * at-least-once mode, and backs off on failures. It runs wherever `fetch`
 * does: browsers, Deno, Bun, Node 18+.
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
import { type Backoff, exponentialBackoff } from "../backoff.ts";
import {
  DEFAULT_PARAMS,
  DEFAULT_STOP_CODE,
  HEADER,
  REFUSED_STATUSES,
  STATUS,
} from "../protocol.ts";

/** What came with a message, besides its text. */
export interface DeliveryInfo {
  /** In at-least-once mode, the id the next poll acknowledges. */
  readonly ack: string | undefined;
  /** True when the server says this message was handed out before. */
  readonly redelivered: boolean;
}

/**
 * Why a client stopped polling for good:
 * - `stopped`: {@linkcode LongPollClient.stop} was called;
 * - `superseded`: a newer poll of the same uid took this one's place (409),
 *   e.g. another tab; polling again would push that one out;
 * - `refused`: the server refused the request itself (400, 403, 404, 405,
 *   414), so retrying can't help; `detail` has its error message.
 */
export type EndReason = "stopped" | "superseded" | "refused";

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
   * Called with each message, exactly as stored. Polling resumes once it
   * returns (or its promise settles). In at-least-once mode a message is
   * acknowledged only if it returned without throwing; otherwise it comes
   * again once its lease runs out.
   */
  onMessage: (message: string, info: DeliveryInfo) => void | Promise<void>;
  /** Called once when polling ends for good. */
  onEnd?: (reason: EndReason, detail?: string) => void;
  /**
   * Wait before retry number `attempt` after a failed poll (network error,
   * 5xx), in milliseconds; a `Retry-After` header wins when longer.
   * @default {exponentialBackoff({ base: 500, max: 30_000, jitter: 0.5 })}
   */
  retry?: Backoff;
  /**
   * The server's stop code: the hold ran out, so the client polls again.
   * @default {'{"stop":1}'}
   */
  stopCode?: string;
  /**
   * Query parameter names, if the server uses others.
   * @default {{ uid: "uid", sign: "sign", exp: "exp", ack: "ack" }}
   */
  params?: Partial<Record<"uid" | "sign" | "exp" | "ack", string>>;
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
  /** Starts polling; calling it while running does nothing. */
  start(): void;
  /** Stops polling and aborts the poll in flight. */
  stop(): void;
  /** True between {@linkcode LongPollClient.start} and the end. */
  readonly running: boolean;
}

/**
 * Creates a long-poll client; call `start()` to begin.
 *
 * @example
 * ```ts
 * import { createLongPollClient } from "./long_poll_client.ts";
 * import { createLongPollHandler, MemoryStore } from "../../mod.ts";
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
  if (URL.parse(options.url) === null) {
    throw new TypeError(`Cannot create client: "url" is not a valid URL, got "${options.url}"`);
  }
  if (options.uid === "") throw new TypeError('Cannot create client: "uid" is empty');
  const retry = options.retry ?? exponentialBackoff({ base: 500, max: 30_000, jitter: 0.5 });
  const stopCode = options.stopCode ?? DEFAULT_STOP_CODE;
  const names = { ...DEFAULT_PARAMS, ...options.params };
  const doFetch = options.fetch ?? ((request: Request) => fetch(request));
  let running = false;
  let inFlight: AbortController | undefined;
  let wake: (() => void) | undefined;

  const end = (reason: EndReason, detail?: string) => {
    if (!running) return;
    running = false;
    inFlight?.abort();
    wake?.();
    options.onEnd?.(reason, detail);
  };

  const pollUrl = (ack: string | undefined): URL => {
    const url = new URL(options.url);
    url.searchParams.set(names.uid, options.uid);
    if (options.sign !== undefined) url.searchParams.set(names.sign, options.sign);
    if (options.exp !== undefined) url.searchParams.set(names.exp, String(options.exp));
    if (ack !== undefined) url.searchParams.set(names.ack, ack);
    return url;
  };

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  const loop = async () => {
    let ack: string | undefined;
    let failures = 0;
    while (running) {
      inFlight = new AbortController();
      let response: Response;
      let body: string;
      try {
        response = await doFetch(new Request(pollUrl(ack), { signal: inFlight.signal }));
        body = await response.text();
      } catch {
        if (!running) return;
        await pause(retry(failures++));
        continue;
      }
      if (!running) return;
      if (response.status === STATUS.ok) {
        failures = 0;
        if (body === stopCode) continue;
        const info: DeliveryInfo = {
          ack: response.headers.get(HEADER.ackId) ?? undefined,
          redelivered: response.headers.get(HEADER.redelivered) === "true",
        };
        try {
          await options.onMessage(body, info);
          ack = info.ack;
        } catch {
          // Not acknowledged: in at-least-once mode it comes again.
        }
        continue;
      }
      if (response.status === STATUS.superseded) return end("superseded", _errorOf(body));
      if (REFUSED_STATUSES.has(response.status)) return end("refused", _errorOf(body));
      const retryAfter = Number(response.headers.get("retry-after")) * 1000;
      await pause(Math.max(retry(failures++), Number.isFinite(retryAfter) ? retryAfter : 0));
    }
  };

  return {
    start() {
      if (running) return;
      running = true;
      loop();
    },
    stop() {
      end("stopped");
    },
    get running() {
      return running;
    },
  };
}

function _errorOf(body: string): string {
  try {
    const parsed = JSON.parse(body);
    if (typeof parsed?.error === "string") return parsed.error;
  } catch {
    // not JSON
  }
  return body;
}
