/**
 * The Server-Sent Events loop of the browser client in stream delivery:
 * an `EventSource` on `/events` that hands each message event over with
 * its id, and a `reset` event as a reset; on the server's `drain` event it
 * connects again at once after the last id, and after a dropped stream
 * after the backoff. A stream the server refused is asked again with
 * `fetch`, since an `EventSource` tells neither the status nor the error,
 * so the loop ends with the server's reason just as the poll loop does.
 *
 * @module
 */
import type { Backoff } from "../backoff.ts";
import { REFUSED_STATUSES, STATUS } from "../protocol.ts";
import { errorOf, FORBIDDEN_RETRIES, type PollEnd, type PollLoopOptions } from "./poll_loop.ts";
import { sleep } from "./sleep.ts";

/** The part of `EventSource` the loop uses. */
export interface EventSourceLike {
  /** 2 once closed for good. */
  readonly readyState: number;
  /** Listens to `open`, `error`, or events of a type. */
  addEventListener(type: string, listener: (event: MessageEvent) => void): void;
  /** Closes the stream; no reconnect follows. */
  close(): void;
}

/** Options of {@linkcode runEventStreamLoop}. */
export interface EventStreamLoopOptions
  extends Pick<PollLoopOptions, "fetch" | "deliver" | "signal"> {
  /** The `/events` URL with the uid, its signature and expiry. */
  readonly url: URL;
  /** The name of the cursor parameter, and the cursor the first stream reads after (undefined: from now). */
  readonly stream: { readonly param: string; readonly since: string | undefined };
  /** Opens an `EventSource`. */
  readonly open: (url: string) => EventSourceLike;
  /** The wait before retry number `attempt` after a failure. */
  readonly retry: Backoff;
}

/** How one stream ended. */
type _StreamEnd = "drain" | "dropped" | "refused" | "stopped";

/**
 * Streams until `signal` aborts or the server refuses the stream (its error
 * then in `detail`, as the poll loop reports it).
 *
 * @example
 * ```ts
 * import { runEventStreamLoop } from "./event_stream_loop.ts";
 * const stop = new AbortController();
 * const end = await runEventStreamLoop({
 *   url: new URL("http://local/events?uid=42"),
 *   stream: { param: "since", since: undefined },
 *   // A stream that fails before it opens, as an EventSource refused with a 400 does:
 *   open: () => ({
 *     readyState: 2,
 *     addEventListener: (type, listener) => {
 *       if (type === "error") setTimeout(() => listener(new MessageEvent("error")));
 *     },
 *     close() {},
 *   }),
 *   fetch: () => Promise.resolve(Response.json({ error: "Cannot stream events: no" }, { status: 400 })),
 *   retry: () => 1000,
 *   deliver: () => Promise.resolve(true),
 *   signal: stop.signal,
 * });
 * console.log(end); // { reason: "refused", detail: "Cannot stream events: no" }
 * ```
 */
export async function runEventStreamLoop(options: EventStreamLoopOptions): Promise<PollEnd> {
  const { signal } = options;
  let since = options.stream.since;
  let failures = 0;
  let worked = false;
  let forbidden = 0;
  while (!signal.aborted) {
    const url = new URL(options.url);
    if (since !== undefined) url.searchParams.set(options.stream.param, since);
    const end = await _follow(options, url, {
      opened: () => {
        failures = forbidden = 0;
        worked = true;
      },
      moved: (id) => (since = id),
    });
    if (end === "drain" || end === "stopped") continue;
    if (end === "refused") {
      const { status, detail, retryAfter } = await _whyRefused(options, url);
      const retryForbidden = status === STATUS.forbidden && worked &&
        forbidden++ < FORBIDDEN_RETRIES;
      if (REFUSED_STATUSES.has(status) && !retryForbidden) return { reason: "refused", detail };
      await sleep(Math.max(options.retry(failures++), retryAfter), signal);
      continue;
    }
    await sleep(options.retry(failures++), signal);
  }
  return { reason: "stopped" };
}

/** Follows one `EventSource` until it drains, drops, is refused, or `signal` aborts. */
function _follow(
  options: EventStreamLoopOptions,
  url: URL,
  on: { opened: () => void; moved: (id: string) => void },
): Promise<_StreamEnd> {
  const { signal } = options;
  if (signal.aborted) return Promise.resolve("stopped");
  const source = options.open(url.href);
  const info = { ack: undefined, redelivered: false };
  let opened = false;
  return new Promise<_StreamEnd>((resolve) => {
    const finish = (end: _StreamEnd) => {
      source.close();
      signal.removeEventListener("abort", stopped);
      resolve(end);
    };
    const stopped = () => finish("stopped");
    signal.addEventListener("abort", stopped);
    source.addEventListener("open", () => {
      opened = true;
      on.opened();
    });
    source.addEventListener("message", (event) => {
      const id = event.lastEventId;
      on.moved(id);
      void options.deliver({
        messages: [String(event.data)],
        info,
        stream: { ids: [id], next: id, reset: false },
      });
    });
    source.addEventListener("reset", (event) => {
      const next = _nextOf(String(event.data)) ?? event.lastEventId;
      on.moved(next);
      void options.deliver({ messages: [], info, stream: { ids: [], next, reset: true } });
    });
    source.addEventListener("drain", () => finish("drain"));
    // An error before the stream opened is a refusal (or no server); after,
    // a dropped stream. Either way the loop, not the EventSource, reconnects.
    source.addEventListener("error", () => finish(opened ? "dropped" : "refused"));
  });
}

/** The `next` of a reset event's data. */
function _nextOf(data: string): string | undefined {
  try {
    const { next } = JSON.parse(data);
    return typeof next === "string" ? next : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Asks `url` again with `fetch`, for what an `EventSource` does not tell:
 * the status and error of a refused stream (status 0: no answer).
 */
async function _whyRefused(
  options: EventStreamLoopOptions,
  url: URL,
): Promise<{ status: number; detail: string; retryAfter: number }> {
  const controller = new AbortController();
  const abort = () => controller.abort();
  options.signal.addEventListener("abort", abort);
  try {
    const response = await options.fetch(new Request(url, { signal: controller.signal }));
    const ok = response.status === STATUS.ok;
    const body = ok ? "" : await response.text();
    const retryAfter = Number(response.headers.get("retry-after")) * 1000;
    return {
      status: response.status,
      detail: errorOf(body),
      retryAfter: Number.isFinite(retryAfter) ? retryAfter : 0,
    };
  } catch {
    return { status: 0, detail: "", retryAfter: 0 };
  } finally {
    controller.abort();
    options.signal.removeEventListener("abort", abort);
  }
}
