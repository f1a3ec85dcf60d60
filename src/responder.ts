import { HttpError } from "./http_error.ts";
import { toJsonText, toJsonValue, wrapJsonp, wrapJsonpValue } from "./jsonp.ts";
import type { Metrics } from "./metrics.ts";
import type { Delivery } from "./option_defaults.ts";
import { ENDS, isLeased, isStreamRead, type Outcome, type Taken } from "./outcome.ts";
import { type AnswerFormat, PLAIN_FORMAT, POLL_METHODS } from "./poll_request.ts";
import { HEADER, JSONP_STOP_META } from "./protocol.ts";
import type { StreamRead } from "./store/types.ts";
import { streamAnswerBody } from "./stream_answer.ts";

/** Options of {@linkcode Responder}. */
export interface ResponderOptions {
  /** The body of a hold that ran out. */
  readonly stopCode: string;
  /** At-least-once mode: CORS answers expose the delivery headers too, besides `X-Stop`. */
  readonly atLeastOnce: boolean;
  /**
   * Stream delivery: CORS answers expose `X-Reset` and `X-Next-Since` too.
   * @default {"queue"}
   */
  readonly delivery?: Delivery;
  /** Counts every error answer by status. */
  readonly metrics: Metrics;
  /** Told about errors that are not an {@linkcode HttpError}: bugs. */
  readonly onError: (error: unknown) => void;
  /**
   * Parses a message that is not JSON, such as a JavaScript object literal
   * `{'stop':1}`; what it returns is delivered as JSON. A message it
   * cannot parse is delivered as before.
   */
  readonly parseLiteral?: (text: string) => unknown;
}

/** An answer whose headers are out and whose body comes later. */
export interface EarlyAnswer {
  /** The response to return now. */
  readonly response: Response;
  /** Where the body goes; see {@linkcode Responder.finish}. */
  readonly body: ReadableStreamDefaultController<Uint8Array>;
}

const JSON_TYPE = "application/json; charset=utf-8";
const SCRIPT_TYPE = "text/javascript; charset=utf-8";
const EVENT_STREAM_TYPE = "text/event-stream; charset=utf-8";
const ENCODER = new TextEncoder();

/**
 * Renders every answer of every route: messages, the stop code, errors,
 * HEAD and preflight answers, JSONP and CORS, late headers (one response
 * once the outcome is known) and early headers (a stream opened at once).
 * It is the one boundary where errors become responses: an
 * {@linkcode HttpError} knows its status, anything else is a 500.
 *
 * @example
 * ```ts
 * import { Responder } from "./responder.ts";
 * import { HttpError } from "./http_error.ts";
 * import { Metrics } from "./metrics.ts";
 * const responder = new Responder({
 *   stopCode: '{"stop":1}',
 *   atLeastOnce: false,
 *   metrics: new Metrics(),
 *   onError: console.error,
 * });
 * const format = { callback: "cb", cors: null };
 * console.log(await responder.stop(format).text()); // /**\/cb({"stop":1},{"stop":true});
 * const error = responder.error(new HttpError(400, 'Cannot poll: "uid" is missing'), {
 *   callback: null,
 *   cors: null,
 * });
 * console.log(error.status, await error.text()); // 400 {"error":"Cannot poll: \"uid\" is missing"}
 * ```
 */
export class Responder {
  readonly #options: ResponderOptions;
  /** The protocol headers a cross-origin `fetch` may read. */
  readonly #exposed: string;

  /** Creates the responder. */
  constructor(options: ResponderOptions) {
    this.#options = options;
    this.#exposed = options.atLeastOnce
      ? `${HEADER.stop}, ${HEADER.ackId}, ${HEADER.redelivered}`
      : options.delivery === "stream"
      ? `${HEADER.stop}, ${HEADER.reset}, ${HEADER.nextSince}`
      : HEADER.stop;
  }

  /** The answer carrying `taken`. */
  message(format: AnswerFormat, taken: Taken): Response {
    return this.#answer(200, format, this.#messageBody(format, taken), taken);
  }

  /**
   * The stop code, marked as the stop: an `X-Stop: true` header, and through
   * JSONP a second argument `{"stop":true}`. In stream delivery (the poll
   * has its cursor, `format.since`), no messages and that cursor as `next`.
   */
  stop(format: AnswerFormat): Response {
    const response = this.#answer(200, format, this.#stopBody(format), _stopRead(format));
    response.headers.set(HEADER.stop, "true");
    return response;
  }

  /**
   * Stream delivery: a message as the `data:` of its event, one line of
   * JSON text (`parseLiteral` applied).
   */
  eventData(message: string): string {
    return toJsonText(this.#asJson(message));
  }

  /** The answer to HEAD: the headers of a poll, no body. */
  head(format: AnswerFormat): Response {
    return this.#answer(200, format, null);
  }

  /** The answer to a CORS preflight. */
  preflight(cors: string | null): Response {
    const response = new Response(null, { status: 204 });
    const headers = response.headers;
    headers.set("cache-control", "no-store");
    headers.set("allow", POLL_METHODS);
    if (cors !== null) {
      headers.set("access-control-allow-origin", cors);
      headers.set("access-control-allow-methods", POLL_METHODS);
      headers.set("access-control-max-age", "600");
      headers.set("vary", "Origin");
    }
    return response;
  }

  /**
   * The answer to an outcome; undefined when there is none to give (the
   * client is gone).
   */
  outcome(format: AnswerFormat, outcome: Outcome): Response | undefined {
    switch (outcome.end) {
      case "message":
        return this.message(format, outcome.taken);
      case "error":
        return this.error(outcome.error, format);
    }
    const spec = ENDS[outcome.end];
    if (spec.answer === "stop") return this.stop(format);
    if (spec.answer === "error") return this.error(spec.error, format);
    return undefined;
  }

  /**
   * Any error, as its answer: JSON `{"error": …}` with the error's status.
   * Through JSONP the status is 200, since a browser runs no script served
   * with an error status: the callback gets `{"error", "status"}` and
   * `retryAfter` where the error has one.
   */
  error(error: unknown, format: AnswerFormat): Response {
    const httpError = this.#httpErrorOf(error);
    const status = format.callback === null ? httpError.status : 200;
    const response = this.#answer(status, format, this.#errorBody(format, httpError));
    if (httpError.headers !== undefined) {
      for (const [name, value] of Object.entries(httpError.headers)) {
        response.headers.set(name, value);
      }
    }
    return response;
  }

  /**
   * The answer opening a Server-Sent Events stream: `text/event-stream`,
   * unbuffered by nginx (`X-Accel-Buffering: no`), with CORS as polls.
   */
  eventStream(format: AnswerFormat, body: BodyInit): Response {
    const response = this.#answer(200, format, body);
    response.headers.set("content-type", EVENT_STREAM_TYPE);
    response.headers.set("x-accel-buffering", "no");
    return response;
  }

  /** A JSON answer of a route other than the poll, such as `/healthz`. */
  json(body: unknown, status = 200): Response {
    return this.#answer(status, PLAIN_FORMAT, JSON.stringify(body));
  }

  /**
   * Opens an answer whose headers go out now, as a 200: the outcome is
   * written into its body later, by {@linkcode Responder.finish}.
   * `onCancel` runs when the client goes away first.
   */
  open(format: AnswerFormat, onCancel: () => void): EarlyAnswer {
    let body!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => (body = controller),
      cancel: onCancel,
    });
    return { response: this.#answer(200, format, stream), body };
  }

  /**
   * Writes an outcome into an early answer and ends it. Returns false when
   * a message could not be written (the client has gone), so the caller
   * gives it back. An error, its status already sent as 200, goes in the
   * body as `{"error": …}`.
   */
  finish(answer: EarlyAnswer, format: AnswerFormat, outcome: Outcome): boolean {
    const text = this.#bodyOf(format, outcome);
    try {
      if (text !== undefined) answer.body.enqueue(ENCODER.encode(text));
      answer.body.close();
      return true;
    } catch {
      // The client is gone: the runtime cancelled the stream, so enqueue or
      // close throws; uncaught, that would end the process.
      return outcome.end !== "message";
    }
  }

  #bodyOf(format: AnswerFormat, outcome: Outcome): string | undefined {
    switch (outcome.end) {
      case "message":
        return this.#messageBody(format, outcome.taken);
      case "error":
        return this.#errorBody(format, this.#httpErrorOf(outcome.error));
    }
    const spec = ENDS[outcome.end];
    if (spec.answer === "stop") return this.#stopBody(format);
    if (spec.answer === "error") return this.#errorBody(format, this.#httpErrorOf(spec.error));
    return undefined;
  }

  /** The stop code; through JSONP with the second argument `{"stop":true}`. */
  #stopBody(format: AnswerFormat): string {
    const read = _stopRead(format);
    if (read !== undefined) return this.#streamBody(format, read, true);
    const { stopCode } = this.#options;
    return format.callback === null
      ? stopCode
      : wrapJsonp(format.callback, stopCode, JSONP_STOP_META);
  }

  /** The error as an HttpError, counted; anything else is reported as a bug. */
  #httpErrorOf(error: unknown): HttpError {
    let httpError: HttpError;
    if (error instanceof HttpError) httpError = error;
    else {
      this.#options.onError(error);
      httpError = new HttpError(500, "Cannot answer: internal error");
    }
    this.#options.metrics.countError(httpError.status);
    return httpError;
  }

  #errorBody(format: AnswerFormat, error: HttpError): string {
    if (format.callback === null) return JSON.stringify({ error: error.message });
    const retryAfter = error.headers?.["Retry-After"];
    return wrapJsonp(
      format.callback,
      JSON.stringify({
        error: error.message,
        status: error.status,
        ...(retryAfter === undefined ? {} : { retryAfter: Number(retryAfter) }),
      }),
    );
  }

  #messageBody(format: AnswerFormat, taken: Taken): string {
    if (typeof taken === "string") return this.#wrap(format, this.#asJson(taken));
    if (isStreamRead(taken)) return this.#streamBody(format, taken, false);
    if (!isLeased(taken)) return this.#batchBody(format, taken);
    const meta = { ack: taken.id, redelivered: taken.deliveries > 1 };
    // With `max=`, always an array: a leased batch, or a lease of one.
    if (taken.batch !== undefined) return this.#batchBody(format, taken.batch, meta);
    if (format.max !== undefined) return this.#batchBody(format, [taken.message], meta);
    const message = this.#asJson(taken.message);
    if (format.callback === null) return message;
    return wrapJsonp(format.callback, message, meta);
  }

  /** A JSON array of the messages, oldest first; each that is not JSON as a string. */
  #batchBody(format: AnswerFormat, messages: readonly string[], meta?: object): string {
    const array = `[${messages.map((message) => toJsonValue(this.#asJson(message))).join(",")}]`;
    return format.callback === null ? array : wrapJsonpValue(format.callback, array, meta);
  }

  #streamBody(format: AnswerFormat, read: StreamRead, stop: boolean): string {
    return streamAnswerBody(read, { callback: format.callback, stop, asJson: this.#asJsonBound });
  }

  readonly #asJsonBound = (message: string): string => this.#asJson(message);

  /** The message, or with `parseLiteral`, a message that is not JSON turned into JSON. */
  #asJson(message: string): string {
    const parse = this.#options.parseLiteral;
    if (parse === undefined) return message;
    try {
      JSON.parse(message);
      return message;
    } catch {
      // Not JSON: maybe a literal.
    }
    try {
      return JSON.stringify(parse(message)) ?? message;
    } catch {
      return message;
    }
  }

  #wrap(format: AnswerFormat, body: string): string {
    return format.callback === null ? body : wrapJsonp(format.callback, body);
  }

  /**
   * Builds an answer. Setting headers on a fresh Response costs a fraction
   * of passing them in its init, and this is on every answer's path.
   */
  #answer(status: number, format: AnswerFormat, body: BodyInit | null, taken?: Taken): Response {
    const response = status === 200 ? new Response(body) : new Response(body, { status });
    const headers = response.headers;
    headers.set("cache-control", "no-store");
    headers.set("content-type", format.callback === null ? JSON_TYPE : SCRIPT_TYPE);
    headers.set("x-content-type-options", "nosniff");
    if (format.cors !== null) {
      headers.set("access-control-allow-origin", format.cors);
      headers.set("vary", "Origin");
      headers.set("access-control-expose-headers", this.#exposed);
    }
    if (taken === undefined || typeof taken === "string" || Array.isArray(taken)) return response;
    if (isStreamRead(taken)) {
      headers.set(HEADER.nextSince, taken.next);
      if (taken.reset) headers.set(HEADER.reset, "true");
    } else if (isLeased(taken)) {
      headers.set(HEADER.ackId, taken.id);
      headers.set(HEADER.redelivered, String(taken.deliveries > 1));
    }
    return response;
  }
}

/** Stream delivery: the stop as a read that found nothing after the poll's cursor. */
function _stopRead(format: AnswerFormat): StreamRead | undefined {
  return format.since === undefined ? undefined : { entries: [], next: format.since, reset: false };
}
