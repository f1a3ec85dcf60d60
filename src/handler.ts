import { type Backoff, exponentialBackoff } from "./backoff.ts";
import { type Clock, systemClock } from "./clock.ts";
import { Hold, type HoldContext, type HoldEnd, type Taken } from "./hold.ts";
import { clip, HttpError } from "./http_error.ts";
import { isValidCallback, MAX_CALLBACK_LENGTH, wrapJsonp } from "./jsonp.ts";
import { Metrics } from "./metrics.ts";
import { HmacSigner, SignatureError, type VerifySignature } from "./signature.ts";
import type { MessageStore } from "./store/types.ts";
import { type TimerTask, TimerWheel } from "./timer_wheel.ts";
import { validateUid } from "./uid.ts";

/** Names of the query parameters of a poll. */
export interface ParamNames {
  /**
   * The user's id, whose queue is polled.
   * @default {"uid"}
   */
  uid: string;
  /**
   * The signature of the uid.
   * @default {"sign"}
   */
  sign: string;
  /**
   * The signature's expiry, in unix seconds.
   * @default {"exp"}
   */
  exp: string;
  /**
   * The JSONP callback name.
   * @default {"jsonCallback"}
   */
  callback: string;
  /**
   * In at-least-once mode, the id of the last message received, acknowledged.
   * @default {"ack"}
   */
  ack: string;
}

/** Options of {@linkcode createLongPollHandler}. */
export interface LongPollOptions {
  /** Where the messages are: a `MemoryStore`, a `RedisStore`, or your own. */
  store: MessageStore;
  /**
   * Query parameter names, for front ends that use others.
   * @default {{ uid: "uid", sign: "sign", exp: "exp", callback: "jsonCallback" }}
   */
  params?: Partial<ParamNames>;
  /**
   * HMAC-SHA256 secret for `sign`. Without it (and without `verify`),
   * signatures are not checked.
   */
  secret?: string;
  /** Replaces the HMAC check, e.g. for a legacy scheme. Return true to accept. */
  verify?: VerifySignature;
  /**
   * First wait of the hold, in seconds; each next wait doubles.
   * @default {15}
   */
  minWait?: number;
  /**
   * The hold ends with the stop code when the next wait would exceed this,
   * in seconds.
   * @default {900}
   */
  maxWait?: number;
  /**
   * Body sent when the hold runs out or the server drains.
   * @default {'{"stop":1}'}
   */
  stopCode?: string;
  /**
   * Origins allowed by CORS; `"*"` allows any. JSONP needs none.
   * @default {[]}
   */
  corsOrigins?: readonly string[];
  /**
   * Most polls held at once by this handler; more get 503.
   * @default {Infinity}
   */
  maxHeld?: number;
  /**
   * Most polls held at once for one uid; a newer poll supersedes the oldest,
   * which gets 409 instead of hanging on as a dead socket.
   * @default {1}
   */
  maxPollsPerUid?: number;
  /**
   * At-least-once delivery: a message stays in flight until the client's
   * next poll acknowledges it (`ack=<id>`), and is delivered again, marked
   * as redelivered, when the lease runs out. The id travels in the
   * `X-Ack-Id` header, and as a second callback argument through JSONP.
   * @default {false}
   */
  atLeastOnce?: boolean;
  /**
   * Seconds a client has to acknowledge a message in at-least-once mode.
   * @default {60}
   */
  lease?: number;
  /**
   * Longest query string accepted, in characters; longer gets 414.
   * @default {4096}
   */
  maxQueryLength?: number;
  /**
   * Longest uid accepted, in UTF-8 bytes; longer gets 400.
   * @default {256}
   */
  maxUidBytes?: number;
  /**
   * Seconds put in `Retry-After` on 503 answers.
   * @default {1}
   */
  retryAfter?: number;
  /**
   * Send the headers as soon as the poll is held, and the body when it ends.
   * Early headers keep proxies that cut silent requests happy; late headers
   * (the default) cost less memory per held poll.
   * @default {false}
   */
  earlyHeaders?: boolean;
  /**
   * Time source for the schedule; inject a fake one in tests.
   * @default {systemClock}
   */
  clock?: Clock;
  /**
   * Where counters go; share one with the server's `/metrics`.
   * @default {new Metrics()}
   */
  metrics?: Metrics;
  /**
   * Where failures the handler rides out are reported.
   * @default {console.error}
   */
  onError?: (error: unknown) => void;
}

/** Options of {@linkcode LongPollHandler.drain}. */
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
 * import { createLongPollHandler, MemoryStore } from "../mod.ts";
 * const handler = createLongPollHandler({ store: new MemoryStore() });
 * console.log(handler.held); // 0
 * await handler.drain();
 * ```
 */
export interface LongPollHandler {
  /** Answers one poll. */
  (request: Request): Promise<Response>;
  /** Polls held right now. */
  readonly held: number;
  /** The counters this handler updates. */
  readonly metrics: Metrics;
  /**
   * Answers every held poll with the stop code, pops nothing new, and
   * resolves once every poll has its answer. Later polls get the stop code
   * at once.
   */
  drain(options?: DrainOptions): Promise<void>;
}

const ALLOW = "GET, HEAD, OPTIONS";
const ENCODER = new TextEncoder();

/**
 * Creates the long-poll fetch handler of protocol v1: it pops the uid's
 * oldest message, or holds the request until one arrives or the seed's
 * backoff schedule runs out, then answers the stop code.
 *
 * @example
 * ```ts
 * import { createLongPollHandler, MemoryStore } from "../mod.ts";
 * const store = new MemoryStore();
 * const handler = createLongPollHandler({ store });
 * await store.publish("42", '{"hi":1}');
 * const response = await handler(new Request("http://x/?uid=42"));
 * console.log(await response.text()); // {"hi":1}
 * ```
 */
export function createLongPollHandler(options: LongPollOptions): LongPollHandler {
  const longPoll = new _LongPoll(options);
  const handler = (request: Request) => longPoll.handle(request);
  return Object.defineProperties(handler, {
    held: { get: () => longPoll.held },
    metrics: { value: longPoll.metrics },
    drain: { value: (drainOptions?: DrainOptions) => longPoll.drain(drainOptions) },
  }) as LongPollHandler;
}

class _Poll extends Hold {
  resolve!: (response: Response) => void;
  controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  admitted = false;
  constructor(
    context: HoldContext,
    uid: string,
    signal: AbortSignal,
    readonly callback: string | null,
    readonly cors: string | null,
    readonly ack: string | undefined,
  ) {
    super(context, uid, signal);
  }
}

/** Watches a uid during a poll's first pop, before its hold exists. */
class _FirstPop {
  woken = false;
  wake(): void {
    this.woken = true;
  }
}

/**
 * Wakes a uid's held polls when the earliest lease handed out here for it
 * runs out. One per uid at most, so memory follows the uids, not the
 * deliveries; a later lease of the same uid is picked up by that wake's
 * pop, or at the latest by the hold's next scheduled poll.
 */
class _LeaseExpiry implements TimerTask {
  _slot?: number;
  constructor(readonly uid: string, readonly owner: _LongPoll) {}
  onTimer(): void {
    this.owner.leaseExpired(this);
  }
}

class _LongPoll implements HoldContext {
  readonly store: MessageStore;
  readonly wheel: TimerWheel;
  readonly #clock: Clock;
  readonly backoff: Backoff;
  readonly maxWaitMs: number;
  readonly metrics: Metrics;
  readonly #params: ParamNames;
  readonly #signer: HmacSigner | undefined;
  readonly #verify: VerifySignature | undefined;
  readonly #stopCode: string;
  readonly #corsOrigins: ReadonlySet<string>;
  readonly #maxHeld: number;
  readonly #maxQueryLength: number;
  readonly #maxUidBytes: number;
  readonly #retryAfter: string;
  readonly #earlyHeaders: boolean;
  readonly #onError: (error: unknown) => void;
  readonly #held = new Set<_Poll>();
  readonly #heldByUid = new Map<string, _Poll[]>();
  readonly #leaseExpiries = new Map<string, _LeaseExpiry>();
  readonly #maxPollsPerUid: number;
  readonly #atLeastOnce: boolean;
  readonly #leaseMs: number;
  #unsettled = 0;
  #draining = false;
  #drained: (() => void) | undefined;

  constructor(options: LongPollOptions) {
    const minWait = _checked("minWait", options.minWait ?? 15, (value) => value > 0);
    const maxWait = _checked("maxWait", options.maxWait ?? 900, (value) => value >= 0);
    const lease = _checked("lease", options.lease ?? 60, (value) => value > 0);
    const maxPollsPerUid = _checked(
      "maxPollsPerUid",
      options.maxPollsPerUid ?? 1,
      (value) => Number.isInteger(value) && value >= 1,
    );
    const maxHeld = options.maxHeld ?? Infinity;
    if (!(maxHeld >= 1)) {
      throw new RangeError(`Cannot create handler: "maxHeld" must be at least 1, got ${maxHeld}`);
    }
    const clock = options.clock ?? systemClock;
    this.#clock = clock;
    this.store = options.store;
    this.wheel = new TimerWheel({ clock });
    this.backoff = exponentialBackoff({ base: minWait * 1000 });
    this.maxWaitMs = maxWait * 1000;
    this.metrics = options.metrics ?? new Metrics();
    this.#params = {
      uid: "uid",
      sign: "sign",
      exp: "exp",
      callback: "jsonCallback",
      ack: "ack",
      ...options.params,
    };
    this.#maxPollsPerUid = maxPollsPerUid;
    this.#atLeastOnce = options.atLeastOnce ?? false;
    this.#leaseMs = lease * 1000;
    this.#verify = options.verify;
    this.#signer = options.secret !== undefined && options.verify === undefined
      ? new HmacSigner({ secret: options.secret, now: () => clock.now() })
      : undefined;
    this.#stopCode = options.stopCode ?? '{"stop":1}';
    this.#corsOrigins = new Set(options.corsOrigins ?? []);
    this.#maxHeld = maxHeld;
    this.#maxQueryLength = options.maxQueryLength ?? 4096;
    this.#maxUidBytes = options.maxUidBytes ?? 256;
    this.#retryAfter = String(options.retryAfter ?? 1);
    this.#earlyHeaders = options.earlyHeaders ?? false;
    this.#onError = options.onError ?? ((error) => console.error(error));
  }

  get held(): number {
    return this.#held.size;
  }

  async handle(request: Request): Promise<Response> {
    const cors = this.#allowedOrigin(request);
    let callback: string | null = null;
    try {
      const method = request.method;
      if (method === "OPTIONS") return this.#preflight(cors);
      if (method !== "GET" && method !== "HEAD") {
        throw new HttpError(405, `Cannot poll with method "${clip(method)}": use GET`, {
          Allow: ALLOW,
        });
      }
      const url = URL.parse(request.url);
      if (url === null) {
        throw new HttpError(
          400,
          `Cannot poll: the request URL "${clip(request.url)}" is not valid`,
        );
      }
      if (url.search.length > this.#maxQueryLength + 1) {
        throw new HttpError(
          414,
          `Cannot poll: the query is longer than ${this.#maxQueryLength} characters`,
        );
      }
      const query = url.searchParams;
      callback = this.#callback(query.get(this.#params.callback));
      const uid = validateUid(query.get(this.#params.uid), {
        name: this.#params.uid,
        maxBytes: this.#maxUidBytes,
      });
      await this.#checkSignature(uid, query, url);
      if (method === "HEAD") return this.#answer(200, callback, cors, null);
      if (this.#draining) {
        this.metrics.drained++;
        const stop = callback === null ? this.#stopCode : wrapJsonp(callback, this.#stopCode);
        return this.#answer(200, callback, cors, stop);
      }
      const ack = this.#atLeastOnce ? this.#ackOf(query.get(this.#params.ack)) : undefined;
      if (request.signal.aborted) return new Response(null, { status: 499 });
      // A message already waiting is answered without setting up a hold. A
      // stand-in watches the uid meanwhile, so no wake is missed if not.
      const firstPop = new _FirstPop();
      this.store.watch(uid, firstPop);
      let waiting: Taken | null;
      try {
        waiting = await this.#take(uid, ack);
      } finally {
        this.store.unwatch(uid, firstPop);
      }
      if (waiting === null) {
        // Not awaited: the hold must not keep this frame (URL, query) alive.
        return this.#poll(request, uid, { callback, cors, ack }, firstPop);
      }
      if (request.signal.aborted) {
        this.metrics.abandoned++;
        await this.#giveBack(uid, waiting);
        return new Response(null, { status: 499 });
      }
      this.metrics.delivered++;
      return this.#answer(200, callback, cors, this.#deliveryText(uid, waiting, callback), waiting);
    } catch (error) {
      return this.#errorAnswer(error, callback, cors);
    }
  }

  drain(options: DrainOptions = {}): Promise<void> {
    this.#draining = true;
    const done = this.#unsettled === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => (this.#drained = resolve));
    const held = [...this.#held];
    for (const poll of held) poll.stopPolling();
    _spread(held, options.windowMs ?? 0, this.wheel.clock);
    return done;
  }

  // HoldContext

  take(hold: Hold): Promise<Taken | null> {
    return this.#take(hold.uid, (hold as _Poll).ack);
  }

  #take(uid: string, ack: string | undefined): Promise<Taken | null> {
    if (!this.#atLeastOnce) return this.store.pop(uid);
    return this.store.take(uid, {
      ack,
      leaseMs: this.#leaseMs,
      now: this.#clock.now(),
      id: crypto.randomUUID(),
    });
  }

  giveBack(hold: Hold, taken: Taken): Promise<void> {
    return this.#giveBack(hold.uid, taken);
  }

  async #giveBack(uid: string, taken: Taken): Promise<void> {
    if (typeof taken === "string") await this.store.pushBack(uid, taken);
    else await this.store.release(uid, taken.id);
  }

  watch(hold: Hold): void {
    this.store.watch(hold.uid, hold);
  }

  unwatch(hold: Hold): void {
    this.store.unwatch(hold.uid, hold);
  }

  leaseExpired(expiry: _LeaseExpiry): void {
    this.#leaseExpiries.delete(expiry.uid);
    for (const poll of this.#heldByUid.get(expiry.uid) ?? []) poll.wake();
  }

  settle(hold: Hold, end: HoldEnd, payload?: unknown): void {
    const poll = hold as _Poll;
    if (poll.admitted) this.#release(poll);
    let response: Response | undefined;
    switch (end) {
      case "message":
        this.metrics.delivered++;
        response = this.#deliver(poll, payload as Taken);
        break;
      case "superseded": {
        this.metrics.superseded++;
        const error = new HttpError(
          409,
          `Cannot hold: a newer poll of the same "${this.#params.uid}" took its place`,
        );
        // With early headers the 200 is out already: the error goes in the body,
        // which must end, or the client hangs on a dead stream.
        response = poll.controller === undefined
          ? this.#errorAnswer(error, poll.callback, poll.cors)
          : this.#finish(poll, JSON.stringify({ error: error.message }));
        break;
      }
      case "timeout":
        this.metrics.timeouts++;
        response = this.#finish(poll, this.#stopCode);
        break;
      case "drain":
        this.metrics.drained++;
        response = this.#finish(poll, this.#stopCode);
        break;
      case "gone":
        this.metrics.abandoned++;
        try {
          poll.controller?.close();
        } catch {
          // The client cancelled the body stream, which is closed already.
        }
        response = new Response(null, { status: 499 });
        break;
      case "error":
        response = this.#errorAnswer(payload, poll.callback, poll.cors);
        break;
    }
    if (response !== undefined) poll.resolve(response);
    if (--this.#unsettled === 0 && this.#drained !== undefined) this.#drained();
  }

  storeFailed(error: unknown): void {
    this.metrics.storeErrors++;
    this.#onError(error);
  }

  messageReturned(): void {
    this.metrics.pushedBack++;
  }

  admit(hold: Hold): "drain" | Error | undefined {
    const poll = hold as _Poll;
    if (this.#draining) return "drain";
    if (this.#held.size >= this.#maxHeld) {
      return new HttpError(503, "Cannot poll: the server holds too many polls", {
        "Retry-After": this.#retryAfter,
      });
    }
    poll.admitted = true;
    this.#held.add(poll);
    this.metrics.held = this.#held.size;
    const siblings = this.#heldByUid.get(poll.uid);
    if (siblings === undefined) this.#heldByUid.set(poll.uid, [poll]);
    else {
      siblings.push(poll);
      // The oldest go first; each leaves the list as it settles.
      for (const older of siblings.slice(0, siblings.length - this.#maxPollsPerUid)) {
        older.supersede();
      }
    }
    if (this.#earlyHeaders) {
      const stream = new ReadableStream<Uint8Array>({
        start: (controller) => (poll.controller = controller),
        cancel: () => poll.abandon(),
      });
      poll.resolve(this.#answer(200, poll.callback, poll.cors, stream));
    }
    return undefined;
  }

  #poll(
    request: Request,
    uid: string,
    context: { callback: string | null; cors: string | null; ack: string | undefined },
    firstPop: _FirstPop,
  ) {
    const poll = new _Poll(this, uid, request.signal, context.callback, context.cors, context.ack);
    this.#unsettled++;
    return new Promise<Response>((resolve) => {
      poll.resolve = resolve;
      poll.start(firstPop);
    });
  }

  #release(poll: _Poll): void {
    this.#held.delete(poll);
    this.metrics.held = this.#held.size;
    const siblings = this.#heldByUid.get(poll.uid);
    if (siblings === undefined) return;
    const index = siblings.indexOf(poll);
    if (index !== -1) siblings.splice(index, 1);
    if (siblings.length === 0) this.#heldByUid.delete(poll.uid);
  }

  #deliver(poll: _Poll, taken: Taken): Response | undefined {
    const text = this.#deliveryText(poll.uid, taken, poll.callback);
    if (poll.controller === undefined) {
      return this.#answer(200, poll.callback, poll.cors, text, taken);
    }
    if (!this.#finishStream(poll, text)) {
      // Not written: the message goes back, as for any client that left.
      this.metrics.delivered--;
      this.metrics.abandoned++;
      this.#giveBack(poll.uid, taken).then(
        () => this.messageReturned(),
        (error) => this.storeFailed(error),
      );
    }
    return undefined;
  }

  #finish(poll: _Poll, body: string): Response | undefined {
    const text = poll.callback === null ? body : wrapJsonp(poll.callback, body);
    if (poll.controller === undefined) return this.#answer(200, poll.callback, poll.cors, text);
    this.#finishStream(poll, text);
    return undefined;
  }

  /** Writes the last chunk of an early-headers answer; false if the client is gone. */
  #finishStream(poll: _Poll, text: string): boolean {
    try {
      poll.controller!.enqueue(ENCODER.encode(text));
      poll.controller!.close();
      return true;
    } catch {
      // The client is gone: Deno.serve cancels the stream ("resource closed")
      // from inside enqueue(), so close() throws; uncaught, that kills the process.
      return false;
    }
  }

  /** The body for `taken`; in at-least-once mode, also watches its lease. */
  #deliveryText(uid: string, taken: Taken, callback: string | null): string {
    if (typeof taken === "string") return callback === null ? taken : wrapJsonp(callback, taken);
    if (!this.#leaseExpiries.has(uid)) {
      const expiry = new _LeaseExpiry(uid, this);
      this.#leaseExpiries.set(uid, expiry);
      this.wheel.schedule(expiry, this.#leaseMs);
    }
    const redelivered = taken.deliveries > 1;
    if (redelivered) this.metrics.redelivered++;
    return callback === null
      ? taken.message
      : wrapJsonp(callback, taken.message, { ack: taken.id, redelivered });
  }

  #ackOf(ack: string | null): string | undefined {
    if (ack === null || ack === "") return undefined;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(ack)) {
      throw new HttpError(400, `Cannot poll: "${this.#params.ack}" is not a delivery id`);
    }
    return ack;
  }

  #callback(callback: string | null): string | null {
    if (callback === null) return null;
    if (!isValidCallback(callback)) {
      throw new HttpError(
        400,
        `Cannot poll: "${this.#params.callback}" must be a JS identifier path of at most ${MAX_CALLBACK_LENGTH} characters`,
      );
    }
    return callback;
  }

  async #checkSignature(uid: string, query: URLSearchParams, url: URL): Promise<void> {
    const sign = query.get(this.#params.sign);
    if (this.#verify !== undefined) {
      let valid = false;
      try {
        valid = sign !== null && await this.#verify(uid, sign, url);
      } catch (error) {
        this.#onError(error);
      }
      if (!valid) throw new HttpError(403, 'Cannot verify signature: "sign" was refused');
      return;
    }
    if (this.#signer === undefined) return;
    try {
      await this.#signer.verify(uid, sign, query.get(this.#params.exp));
    } catch (error) {
      if (error instanceof SignatureError) throw new HttpError(error.status, error.message);
      throw error;
    }
  }

  #allowedOrigin(request: Request): string | null {
    if (this.#corsOrigins.size === 0) return null;
    const origin = request.headers.get("origin");
    if (origin === null) return null;
    if (this.#corsOrigins.has(origin)) return origin;
    return this.#corsOrigins.has("*") ? "*" : null;
  }

  #preflight(cors: string | null): Response {
    const headers: Record<string, string> = { "Cache-Control": "no-store", Allow: ALLOW };
    if (cors !== null) {
      headers["Access-Control-Allow-Origin"] = cors;
      headers["Access-Control-Allow-Methods"] = ALLOW;
      headers["Access-Control-Max-Age"] = "600";
      headers["Vary"] = "Origin";
    }
    return new Response(null, { status: 204, headers });
  }

  /**
   * Sets the answer's headers. Setting them on a fresh Response costs a
   * fraction of passing them in its init, which is on every answer's path.
   */
  #setHeaders(
    headers: Headers,
    callback: string | null,
    cors: string | null,
    leased?: Taken,
  ): void {
    headers.set("cache-control", "no-store");
    headers.set(
      "content-type",
      callback === null ? "application/json; charset=utf-8" : "text/javascript; charset=utf-8",
    );
    headers.set("x-content-type-options", "nosniff");
    if (cors !== null) {
      headers.set("access-control-allow-origin", cors);
      headers.set("vary", "Origin");
      if (this.#atLeastOnce) {
        headers.set("access-control-expose-headers", "X-Ack-Id, X-Redelivered");
      }
    }
    if (leased !== undefined && typeof leased !== "string") {
      headers.set("x-ack-id", leased.id);
      headers.set("x-redelivered", String(leased.deliveries > 1));
    }
  }

  #answer(
    status: number,
    callback: string | null,
    cors: string | null,
    body: BodyInit | null,
    leased?: Taken,
  ): Response {
    const response = status === 200 ? new Response(body) : new Response(body, { status });
    this.#setHeaders(response.headers, callback, cors, leased);
    return response;
  }

  #errorAnswer(error: unknown, callback: string | null, cors: string | null): Response {
    let httpError: HttpError;
    if (error instanceof HttpError) httpError = error;
    else {
      this.storeFailed(error);
      httpError = new HttpError(503, "Cannot poll: the message store is unavailable", {
        "Retry-After": this.#retryAfter,
      });
    }
    this.metrics.countError(httpError.status);
    const body = JSON.stringify({ error: httpError.message });
    const response = this.#answer(
      httpError.status,
      callback,
      cors,
      callback === null ? body : wrapJsonp(callback, body),
    );
    if (httpError.headers !== undefined) {
      for (const [name, value] of Object.entries(httpError.headers)) {
        response.headers.set(name, value);
      }
    }
    return response;
  }
}

/** Returns `value` when `valid` holds and it is finite; throws a RangeError naming `name` otherwise. */
function _checked(name: string, value: number, valid: (value: number) => boolean): number {
  if (!Number.isFinite(value) || !valid(value)) {
    throw new RangeError(`Cannot create handler: "${name}" is out of range, got ${value}`);
  }
  return value;
}

function _spread(polls: _Poll[], windowMs: number, clock: Clock): void {
  if (windowMs <= 0 || polls.length <= 1) {
    for (const poll of polls) poll.drain();
    return;
  }
  const start = clock.now();
  let next = 0;
  const step = () => {
    const due = Math.ceil((polls.length * (clock.now() - start + 10)) / windowMs);
    for (; next < Math.min(due, polls.length); next++) polls[next].drain();
    if (next < polls.length) clock.setTimeout(step, 10);
  };
  step();
}
