import { type Authorize, createAuthorize } from "./authorize.ts";
import { exponentialBackoff } from "./backoff.ts";
import { keepInternals } from "./handler_internals.ts";
import { EventStream, type EventStreamDeps } from "./event_stream.ts";
import { type HeldPoll, HeldPolls } from "./held_polls.ts";
import { clip, HttpError } from "./http_error.ts";
import { Hold, type HoldDeps } from "./hold.ts";
import { createTaker } from "./leases.ts";
import type { Taker } from "./taker.ts";
import type { Metrics } from "./metrics.ts";
import { type LongPollOptions, type ResolvedOptions, resolveOptions } from "./options.ts";
import { ENDS, type Outcome, PLAIN_OUTCOMES, type Taken } from "./outcome.ts";
import {
  allowedOrigin,
  type AnswerFormat,
  parsePollRequest,
  type PollRequest,
} from "./poll_request.ts";
import { LingeringPresence } from "./presence_linger.ts";
import { Responder } from "./responder.ts";
import { SSE_FRAME } from "./sse_format.ts";
import { type StoreAction, storeFailureAnswer } from "./store_failure.ts";
import { StoreHealth } from "./store_health.ts";
import { TimerWheel } from "./timer_wheel.ts";

/**
 * Options of {@linkcode LongPollHandler.drain}.
 *
 * @example
 * ```ts
 * import type { DrainOptions } from "@longpoll/redis-longpoll";
 * const options: DrainOptions = { windowMs: 5_000 };
 * console.log(options.windowMs); // 5000
 * ```
 */
export interface DrainOptions {
  /**
   * Spread the stop answers over this many milliseconds, so clients don't
   * all reconnect at once.
   * @default {0}
   */
  windowMs?: number;
}

/**
 * A fetch handler for long polls, plus what a server needs to run it.
 *
 * @example
 * ```ts
 * import { createLongPollHandler, MemoryStore } from "@longpoll/redis-longpoll";
 * const handler = createLongPollHandler({ store: new MemoryStore() });
 * console.log(handler.held); // 0
 * await handler.drain();
 * ```
 */
export interface LongPollHandler {
  /**
   * Answers one poll. One parameter only, so the handler fits every
   * server's fetch handler as it is: `Deno.serve(handler)`, `deno serve`'s
   * `export default { fetch: handler }`, `Bun.serve({ fetch: handler })`.
   */
  (request: Request): Promise<Response>;
  /**
   * Answers `GET /events?uid&sign[&exp][&since]` in stream delivery: a
   * Server-Sent Events stream of the uid's messages after its cursor
   * (`Last-Event-ID`, else `since`, else from now), held like a poll:
   * same signature check, caps, presence, metrics and drain. In queue
   * delivery, a 400 naming `DELIVERY=stream`.
   */
  events(request: Request): Promise<Response>;
  /** Polls held right now, Server-Sent Events streams included. */
  readonly held: number;
  /** The counters this handler updates. */
  readonly metrics: Metrics;
  /**
   * Answers every held poll with the stop code, ends every event stream
   * with the drain event, pops nothing new, and resolves once every poll
   * has its answer, with the presence exits held back by `presenceLinger`
   * sent. Later polls get the stop code at once.
   */
  drain(options?: DrainOptions): Promise<void>;
}

/**
 * Creates the long-poll fetch handler of protocol v1: it takes the uid's
 * oldest message, or holds the request until one arrives or the backoff
 * schedule runs out, then answers the stop code.
 *
 * A poll goes one way through it: the request is parsed into a plain
 * value, its signature checked, a message taken at once if one waits;
 * otherwise the poll is admitted to the registry of held polls and held
 * until its outcome, which the responder renders.
 *
 * @example
 * ```ts
 * import { createLongPollHandler, MemoryStore } from "@longpoll/redis-longpoll";
 * const store = new MemoryStore();
 * const handler = createLongPollHandler({ store });
 * await store.publish("42", '{"hi":1}');
 * const response = await handler(new Request("http://x/?uid=42"));
 * console.log(await response.text()); // {"hi":1}
 * ```
 */
export function createLongPollHandler(options: LongPollOptions): LongPollHandler {
  const longPoll = new _LongPoll(resolveOptions(options));
  const handler = (request: Request) => longPoll.handle(request);
  keepInternals(handler, longPoll);
  return Object.defineProperties(handler, {
    held: { get: () => longPoll.polls.size },
    metrics: { value: longPoll.options.metrics },
    events: { value: (request: Request) => longPoll.events(request) },
    drain: { value: (drainOptions?: DrainOptions) => longPoll.drain(drainOptions) },
  }) as LongPollHandler;
}

/** Watches a uid during a poll's (or a stream's) first read, before its hold exists. */
class _FirstPop {
  woken = false;
  constructor(readonly uid: string) {}
  wake(): void {
    this.woken = true;
  }
}

class _LongPoll {
  readonly options: ResolvedOptions;
  readonly responder: Responder;
  readonly polls: HeldPolls<HeldPoll>;
  readonly storeHealth: StoreHealth;
  readonly #taker: Taker;
  readonly #authorize: Authorize | undefined;
  readonly #holdDeps: HoldDeps;
  readonly #streamDeps: EventStreamDeps;
  readonly #lingering: LingeringPresence | undefined;
  #draining = false;

  constructor(options: ResolvedOptions) {
    this.options = options;
    const { store, clock, metrics } = options;
    const wheel = new TimerWheel({ clock });
    this.storeHealth = new StoreHealth(options);
    this.responder = new Responder(options);
    const { presence, presenceLingerMs: lingerMs } = options;
    this.#lingering = presence === undefined || lingerMs === 0
      ? undefined
      : new LingeringPresence(presence, { lingerMs, wheel });
    const streaming = options.delivery === "stream";
    this.polls = new HeldPolls<HeldPoll>({
      ...options,
      maxStreamsPerUid: streaming ? options.maxStreamsPerUid : undefined,
      presence: this.#lingering ?? presence,
      onCount: (held) => (metrics.held = held),
    });
    this.#taker = createTaker({ ...options, wheel, wake: (uid) => this.polls.wake(uid) });
    this.#streamDeps = {
      store,
      wheel,
      heartbeatMs: options.sseHeartbeatMs,
      maxBatch: options.maxBatch,
      eventData: (message) => this.responder.eventData(message),
      metrics,
      storeHealth: this.storeHealth,
      onEnd: (stream) => {
        this.polls.delete(stream);
        metrics.streams--;
      },
    };
    this.#authorize = createAuthorize(options);
    this.#holdDeps = {
      taker: this.#taker,
      store,
      wheel,
      schedule: {
        backoff: exponentialBackoff({ base: options.minWaitMs }),
        maxWaitMs: options.maxWaitMs,
      },
      storeHealth: this.storeHealth,
    };
  }

  /**
   * Reads the poll, then answers it in `#takeOrHold`:
   * not async itself, so a poll costs one async frame, not two.
   */
  handle(request: Request, query?: string): Promise<Response> {
    const format = this.#formatOf(request);
    let poll: PollRequest;
    try {
      if (request.method === "OPTIONS") {
        return Promise.resolve(this.responder.preflight(format.cors));
      }
      poll = parsePollRequest(request, { options: this.options, format, query });
    } catch (error) {
      return Promise.resolve(this.responder.error(error, format));
    }
    return this.#takeOrHold(poll, request, format);
  }

  async events(request: Request): Promise<Response> {
    const format = this.#formatOf(request);
    let poll: PollRequest;
    try {
      if (request.method === "OPTIONS") return this.responder.preflight(format.cors);
      poll = this.#readEventsRequest(request, format.cors);
      if (this.#authorize !== undefined) await this.#authorize(poll, request);
    } catch (error) {
      return this.responder.error(error, format);
    }
    // The stream ends when the runtime cancels its body: request.signal,
    // made on first use, would cost every held stream an AbortSignal.
    return this.#openStream(poll, format);
  }

  /** How an answer to `request` is written, until its callback is read: plain, with its CORS origin. */
  #formatOf(request: Request): AnswerFormat {
    return { callback: null, cors: allowedOrigin(request, this.options.corsOrigins) };
  }

  drain(options: DrainOptions = {}): Promise<void> {
    this.#draining = true;
    // Nothing is held from now on: the exits held back go out once the last poll ends.
    return this.polls.drain(options.windowMs ?? 0, this.options.clock)
      .then(() => this.#lingering?.flush());
  }

  /**
   * Checks the poll's signature, then answers a message waiting now, or
   * holds the poll until its outcome, and answers its own errors. One async
   * frame from request to hold, and none suspended while the poll is held.
   */
  async #takeOrHold(
    poll: PollRequest,
    request: Request,
    format: AnswerFormat,
  ): Promise<Response> {
    try {
      if (this.#authorize !== undefined) await this.#authorize(poll, request);
      if (poll.headOnly) return this.responder.head(format);
      // A poll from now, in stream delivery, reads first: its stop carries the cursor learned.
      const cursorKnown = poll.since !== undefined || this.options.delivery !== "stream";
      if (this.#draining && cursorKnown) return this.#answerEnd(poll, PLAIN_OUTCOMES.drain);
      const signal = request.signal;
      if (signal.aborted) return _gone();
      const firstPop = this.#watchFirstRead(poll.uid);
      const taken = await this.#firstRead(firstPop, this.#taker.take(poll), "poll");
      if (taken !== null) return this.#deliver(poll, taken, signal);
      if (this.#draining) return this.#answerEnd(poll, PLAIN_OUTCOMES.drain);
      this.polls.checkRoom(poll.uid);
      const hold = new Hold(this.#holdDeps, poll, signal);
      this.polls.add(hold);
      const outcome = hold.start(firstPop);
      if (this.options.earlyHeaders) return this.#holdWithEarlyHeaders(poll, hold, outcome);
      // Not awaited: this frame ends here, and a held poll keeps only its outcome's reaction.
      return outcome.then((outcome) => this.#answerHeld(poll, outcome, hold));
    } catch (error) {
      return this.responder.error(error, format);
    }
  }

  /**
   * Reads an events request as a poll: GET only, no JSONP, and the cursor
   * from `Last-Event-ID` (what a reconnecting EventSource sends), which
   * wins over `since`.
   */
  #readEventsRequest(request: Request, cors: string | null): PollRequest {
    if (this.options.delivery !== "stream") {
      throw new HttpError(
        400,
        "Cannot stream events: the server delivers in queue mode; start it with DELIVERY=stream",
      );
    }
    if (request.method !== "GET") {
      throw new HttpError(
        405,
        `Cannot stream events with method "${clip(request.method)}": use GET`,
        { Allow: _EVENTS_METHODS },
      );
    }
    const poll = parsePollRequest(request, {
      options: this.options,
      format: { callback: null, cors },
      lastEventId: request.headers.get("last-event-id"),
    });
    if (poll.callback !== null) {
      throw new HttpError(
        400,
        `Cannot stream events: "${this.options.params.callback}" is for polls, not events`,
      );
    }
    return poll;
  }

  /**
   * Reads after the stream's cursor, as a poll's first take does, then
   * opens the stream with what it found: the stream is admitted to the
   * registry like a held poll, and answers its own errors.
   */
  async #openStream(poll: PollRequest, format: AnswerFormat): Promise<Response> {
    try {
      if (this.#draining) {
        return this.responder.eventStream(format, SSE_FRAME.retry + SSE_FRAME.drain);
      }
      const { store, maxBatch, metrics } = this.options;
      const firstRead = this.#watchFirstRead(poll.uid);
      const read = await this.#firstRead(
        firstRead,
        store.readStream!(poll.uid, { after: poll.since, count: maxBatch }),
        "stream events",
      );
      this.polls.checkRoom(poll.uid);
      const stream = new EventStream(
        this.#streamDeps,
        { uid: poll.uid, firstRead: read, woken: firstRead.woken },
      );
      this.polls.add(stream);
      metrics.streams++;
      return this.responder.eventStream(format, new ReadableStream(stream));
    } catch (error) {
      return this.responder.error(error, format);
    }
  }

  /**
   * A stand-in that watches `uid` from now until its first read comes back
   * (see {@linkcode _LongPoll.#firstRead}), so no wake is missed meanwhile.
   */
  #watchFirstRead(uid: string): _FirstPop {
    const firstPop = new _FirstPop(uid);
    this.options.store.watch(uid, firstPop);
    return firstPop;
  }

  /**
   * Settles the first read of a poll or stream, started once `firstPop`
   * watched: timed, the store's health told, a failure turned into its
   * answer, and the stand-in unwatched.
   */
  async #firstRead<T>(firstPop: _FirstPop, read: Promise<T>, action: StoreAction): Promise<T> {
    const started = performance.now();
    let result: T;
    try {
      result = await read;
    } catch (error) {
      throw storeFailureAnswer(error, {
        action,
        health: this.storeHealth,
        retryAfter: this.options.retryAfter,
      });
    } finally {
      this.options.store.unwatch(firstPop.uid, firstPop);
    }
    this.storeHealth.succeeded();
    this.options.metrics.storeRoundTrip.observe((performance.now() - started) / 1000);
    return result;
  }

  /** Answers with a message taken, or gives it back when the client has gone. */
  #deliver(poll: PollRequest, taken: Taken, signal: AbortSignal): Response | Promise<Response> {
    if (!signal.aborted) return this.#answerEnd(poll, { end: "message", taken });
    this.options.metrics.abandoned++;
    return this.#giveBack(poll.uid, taken).then(_gone);
  }

  #holdWithEarlyHeaders(poll: PollRequest, hold: Hold, outcome: Promise<Outcome>): Response {
    const answer = this.responder.open(poll, () => hold.abandon());
    outcome.then((outcome) => {
      this.#count(poll, outcome, hold);
      if (this.responder.finish(answer, poll, outcome) || outcome.end !== "message") return;
      // Not written: the message goes back, as for any client that left.
      this.options.metrics.delivered--;
      this.options.metrics.abandoned++;
      this.#giveBack(poll.uid, outcome.taken);
    });
    return answer.response;
  }

  /** Answers a held poll's outcome, or the error that answering it met. */
  #answerHeld(poll: PollRequest, outcome: Outcome, hold: Hold): Response {
    try {
      return this.#answerEnd(poll, outcome, hold);
    } catch (error) {
      return this.responder.error(error, poll);
    }
  }

  #answerEnd(poll: PollRequest, outcome: Outcome, hold?: Hold): Response {
    this.#count(poll, outcome, hold);
    return this.responder.outcome(poll, outcome) ?? _gone();
  }

  /** Takes the poll out of the registry and counts its end. */
  #count(poll: PollRequest, outcome: Outcome, hold: Hold | undefined): void {
    const { metrics } = this.options;
    if (hold !== undefined) {
      this.polls.delete(hold);
      const now = performance.now();
      metrics.holdDuration.get(outcome.end)!.observe((now - hold.startedAt) / 1000);
      if (outcome.end === "message" && hold.wokenAt !== undefined) {
        metrics.wakeLatency.observe((now - hold.wokenAt) / 1000);
      }
    }
    const metric = ENDS[outcome.end].metric;
    if (metric !== undefined) metrics[metric]++;
    if (outcome.end === "message") this.#taker.delivered(poll.uid, outcome.taken);
  }

  async #giveBack(uid: string, taken: Taken): Promise<void> {
    try {
      await this.#taker.giveBack(uid, taken);
    } catch (error) {
      this.storeHealth.failed(error);
    }
  }
}

/** The methods of `/events`, for `Allow` headers. */
const _EVENTS_METHODS = "GET, OPTIONS";

/** The answer to a client that has gone: nobody reads it. */
function _gone(): Response {
  return new Response(null, { status: 499 });
}
