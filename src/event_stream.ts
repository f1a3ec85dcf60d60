import type { HeldPoll } from "./held_polls.ts";
import type { Metrics } from "./metrics.ts";
import { SSE_FRAME, sseMessage, sseReset } from "./sse_format.ts";
import type { MessageStore, StreamRead, Waiter } from "./store/types.ts";
import { knownAnswerOrOutage } from "./store_failure.ts";
import type { TimerTask, TimerWheel } from "./timer_wheel.ts";

/** What every event stream of a handler shares. */
export interface EventStreamDeps {
  /** Where the histories are read, and who wakes a stream when its uid may have a message. */
  readonly store: Pick<MessageStore, "readStream" | "watch" | "unwatch">;
  /** The shared timer of every stream's heartbeat. */
  readonly wheel: TimerWheel;
  /** Silence after which a heartbeat is sent, in milliseconds. */
  readonly heartbeatMs: number;
  /** Most entries of one read. */
  readonly maxBatch: number;
  /** A message as the one line of its `data:`. */
  readonly eventData: (message: string) => string;
  /** Counts the events sent (`eventsSent`). */
  readonly metrics: Pick<Metrics, "eventsSent">;
  /** Told how reads went: failures the stream rides out, and successes. */
  readonly storeHealth: {
    /** A read failed. */
    failed(error: unknown): void;
    /** A read succeeded. */
    succeeded(): void;
  };
  /** Called once when the stream ends, whatever ended it. */
  readonly onEnd: (stream: EventStream) => void;
}

/** Where a stream starts: its uid, and what its first read found. */
export interface EventStreamStart {
  /** The uid whose history is streamed. */
  readonly uid: string;
  /** The read the handler made before it answered: its entries go first, and it ends at `next`. */
  readonly firstRead: StreamRead;
  /** A wake came while the first read was out: read again at once. */
  readonly woken: boolean;
}

const _ENCODER = new TextEncoder();

/**
 * One Server-Sent Events stream of a uid's history, from its cursor on:
 * the source of its response body. It writes `retry:` and what the first
 * read found, then reads after its cursor whenever the store wakes it and
 * the client reads, beats a comment heartbeat on the shared
 * {@linkcode TimerWheel} after `heartbeatMs` of silence (reading once too,
 * in case a wake was lost), and ends with the drain event on a drain. It
 * reads only as fast as the client takes what it wrote (a pull source:
 * a slow client holds at most one batch here), and the client leaving
 * (the runtime cancels the body) frees it.
 *
 * @example
 * ```ts
 * import { EventStream } from "./event_stream.ts";
 * import { MemoryStore } from "./store/memory.ts";
 * import { TimerWheel } from "./timer_wheel.ts";
 * const store = new MemoryStore({ history: { max: 100, ttlSeconds: 60 } });
 * await store.publish("42", '{"hi":1}');
 * const firstRead = await store.readStream!("42", { after: "0-0", count: 32 });
 * const stream = new EventStream({
 *   store,
 *   wheel: new TimerWheel(),
 *   heartbeatMs: 25_000,
 *   maxBatch: 32,
 *   eventData: (message) => message,
 *   metrics: { eventsSent: 0 },
 *   storeHealth: { failed: console.error, succeeded: () => {} },
 *   onEnd: () => {},
 * }, { uid: "42", firstRead, woken: false });
 * const reader = new ReadableStream(stream).getReader();
 * const { value } = await reader.read();
 * console.log(new TextDecoder().decode(value).split("\n")[3]); // data: {"hi":1}
 * stream.drain();
 * ```
 */
export class EventStream
  implements HeldPoll, Waiter, TimerTask, UnderlyingDefaultSource<Uint8Array> {
  /** The uid whose history is streamed. */
  readonly uid: string;
  /** @internal */
  _slot?: number;
  readonly #deps: EventStreamDeps;
  /** What the handler's read found, until the stream starts. */
  #first: EventStreamStart | undefined;
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  #cursor: string;
  #lastWrite = 0;
  #reading = false;
  /** A read is due once the client takes what was written. */
  #behind = false;
  #wokenWhileReading = false;
  #ended = false;

  /** Creates the stream; it starts when its `ReadableStream` does. */
  constructor(deps: EventStreamDeps, start: EventStreamStart) {
    this.#deps = deps;
    this.#first = start;
    this.uid = start.uid;
    this.#cursor = start.firstRead.next;
  }

  /** The stream's body opens: `retry:`, the first read's events, then watch the uid. */
  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#controller = controller;
    this.#deps.store.watch(this.uid, this);
    const { firstRead, woken } = this.#first!;
    this.#first = undefined;
    this.#write(SSE_FRAME.retry + this.#framesOf(firstRead));
    this.#scheduleHeartbeat();
    if (woken || firstRead.entries.length >= this.#deps.maxBatch) this.wake();
  }

  /** What the stream follows, for the registry: itself, so that it costs no object more. */
  get subject(): { readonly uid: string } {
    return this;
  }

  /** The client reads: a read held back for it runs now. */
  pull(): void {
    if (!this.#behind || this.#reading || this.#ended) return;
    this.#behind = false;
    this.#read();
  }

  /**
   * The client has gone: the runtime cancelled the body. (The stream
   * listens to no request signal: a listener would cost a held stream
   * more than the rest of it.)
   */
  cancel(): void {
    this.#end();
  }

  /** The store says a message may be there: read now, or once the client has read. */
  wake(): void {
    if (this.#ended) return;
    if (this.#reading) this.#wokenWhileReading = true;
    else if (this.#controller!.desiredSize! > 0) this.#read();
    else this.#behind = true;
  }

  /** Heartbeat time: a comment after enough silence, and a read in case a wake was lost. */
  onTimer(): void {
    if (this.#ended) return;
    const now = this.#deps.wheel.clock.now();
    if (now - this.#lastWrite >= this.#deps.heartbeatMs && this.#controller!.desiredSize! > 0) {
      this.#write(SSE_FRAME.heartbeat);
    }
    this.#scheduleHeartbeat();
    this.wake();
  }

  /** Never happens in stream delivery, where streams do not supersede each other; ends as a drain. */
  supersede(): void {
    this.drain();
  }

  /** Sends no more heartbeats: a drain comes soon. */
  stopPolling(): void {
    this.#deps.wheel.cancel(this);
  }

  /** Ends the stream with the drain event: the client reconnects with its last id. */
  drain(): void {
    if (this.#ended) return;
    this.#write(SSE_FRAME.drain);
    this.#end();
  }

  #scheduleHeartbeat(): void {
    const { wheel, heartbeatMs } = this.#deps;
    wheel.schedule(this, Math.max(this.#lastWrite + heartbeatMs - wheel.clock.now(), 1));
  }

  #read(): void {
    this.#reading = true;
    this.#readOnce().catch((error) => this.#deps.storeHealth.failed(error));
  }

  async #readOnce(): Promise<void> {
    const { store, maxBatch, storeHealth } = this.#deps;
    let read: StreamRead;
    try {
      read = await store.readStream!(this.uid, { after: this.#cursor, count: maxBatch });
    } catch (error) {
      this.#reading = false;
      if (this.#ended) return;
      // An error that knows its answer ends the stream: the client's
      // reconnect gets it. Any other is an outage, read again at the next beat.
      if (knownAnswerOrOutage(error, storeHealth) !== undefined) this.drain();
      return;
    }
    this.#reading = false;
    storeHealth.succeeded();
    if (this.#ended) return;
    this.#write(this.#framesOf(read));
    const more = read.entries.length >= maxBatch || this.#wokenWhileReading;
    this.#wokenWhileReading = false;
    if (more) this.wake();
  }

  /** The events of a read; the cursor moves past them. */
  #framesOf(read: StreamRead): string {
    this.#cursor = read.next;
    if (read.reset) return sseReset(read.next);
    const { eventData, metrics } = this.#deps;
    let frames = "";
    for (const entry of read.entries) frames += sseMessage(entry.id, eventData(entry.message));
    metrics.eventsSent += read.entries.length;
    return frames;
  }

  #write(text: string): void {
    if (text === "") return;
    try {
      this.#controller!.enqueue(_ENCODER.encode(text));
      this.#lastWrite = this.#deps.wheel.clock.now();
    } catch {
      // The runtime cancelled the body: the client is gone.
      this.#end();
    }
  }

  /** Ends the stream, closing its body (if the client still reads it), once. */
  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    try {
      this.#controller?.close();
    } catch {
      // Cancelled already: the client is gone.
    }
    const { wheel, store, onEnd } = this.#deps;
    wheel.cancel(this);
    store.unwatch(this.uid, this);
    onEnd(this);
  }
}
