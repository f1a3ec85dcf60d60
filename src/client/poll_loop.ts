/**
 * The poll loop of the browser client: poll, hand the delivery over, poll
 * again (acknowledging it in at-least-once mode), back off on failures,
 * and tell why it ended.
 *
 * @module
 */
import type { Backoff } from "../backoff.ts";
import { HEADER, REFUSED_STATUSES, STATUS } from "../protocol.ts";
import { clampTimerDelay } from "../timer_delay.ts";
import { splitJsonArray } from "./json_array.ts";
import { sleep } from "./sleep.ts";
import { readStreamAnswer } from "./stream_answer.ts";

/**
 * How many 403s in a row, after a poll that worked, are retried with the
 * backoff before the client ends as `refused`: while a secret rotates, one
 * process may refuse a signature another still accepts. A 403 before any
 * poll worked ends the client at once.
 *
 * @example
 * ```ts
 * import { FORBIDDEN_RETRIES } from "./poll_loop.ts";
 * console.log(FORBIDDEN_RETRIES); // 2
 * ```
 */
export const FORBIDDEN_RETRIES = 2;

/** What came with a message, besides its text. */
export interface DeliveryInfo {
  /**
   * In at-least-once mode, the id the next poll acknowledges; the messages
   * of one batch share it.
   */
  readonly ack: string | undefined;
  /** True when the server says this message was handed out before. */
  readonly redelivered: boolean;
  /** In stream delivery, the message's id in its uid's stream. */
  readonly id?: string;
}

/** Where a delivery of stream delivery leaves the reader. */
export interface StreamPosition {
  /** Each message's id, in the order of the messages. */
  readonly ids: readonly string[];
  /** The cursor to read on from. */
  readonly next: string;
  /**
   * True when the cursor was older than the history keeps: the messages
   * are none, and `next` is the history's newest id.
   */
  readonly reset: boolean;
}

/** One answer's messages, oldest first, and what came with them. */
export interface Delivery {
  /** The messages; one, or the elements of a batch. */
  readonly messages: readonly string[];
  /** What the answer said about them. */
  readonly info: DeliveryInfo;
  /** In stream delivery, the ids and the cursor; an answer with no message still has one. */
  readonly stream?: StreamPosition;
}

/**
 * Why a client stopped polling for good:
 * - `stopped`: {@linkcode LongPollClient.stop} was called;
 * - `superseded`: a newer poll of the same uid took this one's place (409),
 *   with tab sharing off; polling again would push that one out;
 * - `refused`: the server refused the request itself (400, 403, 404, 405,
 *   414), so retrying can't help; `detail` has its error message. A 403
 *   after a poll that worked is retried with the backoff, up to
 *   {@linkcode FORBIDDEN_RETRIES} in a row.
 */
export type EndReason = "stopped" | "superseded" | "refused";

/** How a poll loop ended. */
export interface PollEnd {
  /** Why. */
  readonly reason: EndReason;
  /** The server's error message, for `superseded` and `refused`. */
  readonly detail?: string;
}

/** Options of {@linkcode runPollLoop}. */
export interface PollLoopOptions {
  /** The poll URL with every parameter but the ack. */
  readonly url: URL;
  /** The name of the ack parameter. */
  readonly ackParam: string;
  /** The ack the first poll sends, if any. */
  readonly ack: string | undefined;
  /** Sends a poll. */
  readonly fetch: (request: Request) => Promise<Response>;
  /** A poll not answered within this many milliseconds is abandoned and retried. */
  readonly timeoutMs: number;
  /** The wait before retry number `attempt` after a failure. */
  readonly retry: Backoff;
  /**
   * The body that ends an empty hold: with batches, it is the stop when it
   * comes unmarked where an array belongs.
   */
  readonly stopCode: string;
  /** True when the polls ask for batches, so a delivery is a JSON array. */
  readonly batch: boolean;
  /**
   * Stream delivery: the name of the cursor parameter, and the cursor the
   * first poll reads after (undefined: from now). Each answer's `next` is
   * the next poll's cursor. Absent: queue delivery.
   */
  readonly stream?: { readonly param: string; readonly since: string | undefined };
  /** True to retry after a 409 rather than end. */
  readonly retrySuperseded: boolean;
  /**
   * Hands a delivery over; resolves true once it was handled, so the next
   * poll acknowledges it.
   */
  readonly deliver: (delivery: Delivery) => Promise<boolean>;
  /** Ends the loop, aborting the poll in flight. */
  readonly signal: AbortSignal;
}

/**
 * Polls until `signal` aborts, the server refuses, or (without
 * `retrySuperseded`) a newer poll supersedes this one.
 *
 * @example
 * ```ts
 * import { runPollLoop } from "./poll_loop.ts";
 * const stop = new AbortController();
 * const end = await runPollLoop({
 *   url: new URL("http://local/?uid=42"),
 *   ackParam: "ack",
 *   ack: undefined,
 *   fetch: () => Promise.resolve(new Response("hello")),
 *   timeoutMs: 1000,
 *   retry: () => 1000,
 *   stopCode: '{"stop":1}',
 *   batch: false,
 *   retrySuperseded: false,
 *   deliver: ({ messages }) => {
 *     console.log(messages); // [ "hello" ]
 *     stop.abort();
 *     return Promise.resolve(true);
 *   },
 *   signal: stop.signal,
 * });
 * console.log(end.reason); // stopped
 * ```
 */
export async function runPollLoop(options: PollLoopOptions): Promise<PollEnd> {
  const { signal } = options;
  let ack = options.ack;
  let since = options.stream?.since;
  let failures = 0;
  let worked = false;
  let forbidden = 0;
  while (!signal.aborted) {
    const url = new URL(options.url);
    if (ack !== undefined) url.searchParams.set(options.ackParam, ack);
    if (options.stream !== undefined && since !== undefined) {
      url.searchParams.set(options.stream.param, since);
    }
    let answer: { response: Response; body: string };
    try {
      answer = await _poll(options, url);
    } catch {
      if (signal.aborted) break;
      await sleep(options.retry(failures++), signal);
      continue;
    }
    if (signal.aborted) break;
    const { response, body } = answer;
    const stream = options.stream === undefined ? undefined : readStreamAnswer(body);
    if (response.status === STATUS.ok && stream !== null) {
      failures = 0;
      worked = true;
      forbidden = 0;
      if (stream !== undefined) {
        const { messages, ...position } = stream;
        since = position.next;
        await options.deliver({
          messages,
          info: { ack: undefined, redelivered: false },
          stream: position,
        });
        continue;
      }
      const messages = _messagesOf(options, response, body);
      if (messages === null) continue;
      const info: DeliveryInfo = {
        ack: response.headers.get(HEADER.ackId) ?? undefined,
        redelivered: response.headers.get(HEADER.redelivered) === "true",
      };
      if (await options.deliver({ messages, info })) ack = info.ack;
      continue;
    }
    const superseded = response.status === STATUS.superseded;
    if (superseded && !options.retrySuperseded) {
      return { reason: "superseded", detail: errorOf(body) };
    }
    const retryForbidden = response.status === STATUS.forbidden && worked &&
      forbidden++ < FORBIDDEN_RETRIES;
    if (REFUSED_STATUSES.has(response.status) && !retryForbidden) {
      return { reason: "refused", detail: errorOf(body) };
    }
    const retryAfter = Number(response.headers.get("retry-after")) * 1000;
    const wait = Math.max(options.retry(failures++), Number.isFinite(retryAfter) ? retryAfter : 0);
    await sleep(wait, signal);
  }
  return { reason: "stopped" };
}

/**
 * One poll, abandoned on `signal` or after `timeoutMs`, even when the
 * `fetch` given does not heed the request's signal.
 */
async function _poll(
  options: PollLoopOptions,
  url: URL,
): Promise<{ response: Response; body: string }> {
  const controller = new AbortController();
  let reject = (_reason: unknown) => {};
  const abandoned = new Promise<never>((_, fail) => (reject = fail));
  const abort = () => {
    controller.abort();
    reject(controller.signal.reason);
  };
  options.signal.addEventListener("abort", abort);
  const timer = setTimeout(abort, clampTimerDelay(options.timeoutMs));
  const read = async () => {
    const response = await options.fetch(new Request(url, { signal: controller.signal }));
    return { response, body: await response.text() };
  };
  try {
    return await Promise.race([read(), abandoned]);
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener("abort", abort);
  }
}

/**
 * The messages of a 200 answer, or null for the stop. The server marks the
 * stop with `X-Stop`, so a message whose body equals the stop code is a
 * message. An answer whose headers left before its outcome was known
 * (`earlyHeaders`) has no mark; with batches, the stop code where an array
 * belongs is then the stop.
 */
function _messagesOf(
  options: PollLoopOptions,
  response: Response,
  body: string,
): readonly string[] | null {
  if (response.headers.get(HEADER.stop) === "true") return null;
  if (!options.batch) return [body];
  return splitJsonArray(body) ?? (body === options.stopCode ? null : [body]);
}

/**
 * The `error` of a JSON error answer, or the body itself.
 *
 * @example
 * ```ts
 * import { errorOf } from "./poll_loop.ts";
 * console.log(errorOf('{"error":"Cannot hold: no"}'), errorOf("Bad Gateway")); // Cannot hold: no Bad Gateway
 * ```
 */
export function errorOf(body: string): string {
  try {
    const parsed = JSON.parse(body);
    if (typeof parsed?.error === "string") return parsed.error;
  } catch {
    // not JSON
  }
  return body;
}
