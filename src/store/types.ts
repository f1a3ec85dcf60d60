import type { QueueLimitValues } from "./queue_limits.ts";

/**
 * A held poll, as a store sees it: something to wake when its uid may have
 * a message. Waking is a hint; the poll then pops to find out.
 *
 * @example
 * ```ts
 * import type { Waiter } from "./types.ts";
 * const waiter: Waiter = { wake: () => console.log("maybe a message") };
 * ```
 */
export interface Waiter {
  /** Called when a message may be waiting for the watched uid. */
  wake(): void;
}

/**
 * A message handed out under a lease, in at-least-once mode. It stays in
 * the store's in-flight record until acknowledged by id; once its lease
 * runs out, the next take hands it out again, ahead of the queue.
 *
 * @example
 * ```ts
 * import type { LeasedMessage } from "./types.ts";
 * const leased: LeasedMessage = { id: "5f0c…", message: '{"hi":1}', deliveries: 2 };
 * console.log(leased.deliveries > 1 ? "redelivered" : "first delivery"); // redelivered
 * ```
 */
export interface LeasedMessage {
  /** The id the client acknowledges with its next poll (`ack=<id>`). */
  readonly id: string;
  /** The message, exactly as stored. */
  readonly message: string;
  /** How many times it has been handed out, this time included. */
  readonly deliveries: number;
  /**
   * A batch (`TakeOptions.count` above 1): its messages, oldest first,
   * leased and redelivered as a whole under the one id. `message` then
   * holds them as a JSON array of strings.
   */
  readonly batch?: readonly string[];
}

/**
 * Options of {@linkcode MessageStore.take}.
 *
 * @example
 * ```ts
 * import { MemoryStore, type TakeOptions } from "@longpoll/redis-longpoll";
 * const store = new MemoryStore();
 * await store.publish("42", '{"hi":1}');
 * const options: TakeOptions = { leaseMs: 30_000, now: Date.now(), id: "a1" };
 * console.log((await store.take("42", options))?.message); // {"hi":1}
 * await store.close();
 * ```
 */
export interface TakeOptions {
  /** The id of the message this client received last, now acknowledged. */
  readonly ack?: string;
  /** How long the client has to acknowledge, in milliseconds. */
  readonly leaseMs: number;
  /** The current time in milliseconds since the epoch. */
  readonly now: number;
  /** The id to give the message taken now. */
  readonly id: string;
  /**
   * Most messages of the uid handed out and unacknowledged at once. A take
   * while that many are in flight redelivers the one whose lease ran out
   * first, or finds nothing: it takes no more from the queue. A client that
   * never acknowledges so holds back only its own queue.
   * @default {16}
   */
  readonly maxInFlight?: number;
  /**
   * Take up to this many queued messages at once, as one batch under the
   * one id; a lease due again comes back as it was taken. Each message of
   * a batch counts against `maxInFlight`, so a batch is cut to the room left.
   * @default {1}
   */
  readonly count?: number;
}

/**
 * One message of a uid's history, in stream delivery: its id, and the
 * message exactly as stored. Ids are `<ms>-<seq>` (a Redis stream id), and
 * grow with every message of the uid.
 *
 * @example
 * ```ts
 * import type { StreamEntry } from "./types.ts";
 * const entry: StreamEntry = { id: "1733300000000-0", message: '{"hi":1}' };
 * console.log(entry.id); // 1733300000000-0
 * ```
 */
export interface StreamEntry {
  /** The entry's id, `<ms>-<seq>`; the cursor that reads on after it. */
  readonly id: string;
  /** The message, exactly as stored. */
  readonly message: string;
}

/**
 * What {@linkcode MessageStore.readStream} found after a cursor.
 *
 * @example
 * ```ts
 * import type { StreamRead } from "./types.ts";
 * const read: StreamRead = { entries: [], next: "1733300000000-0", reset: false };
 * console.log(read.entries.length === 0 ? `nothing after ${read.next}` : "messages"); // nothing after 1733300000000-0
 * ```
 */
export interface StreamRead {
  /** The entries after the cursor, oldest first, at most `count` of them. */
  readonly entries: readonly StreamEntry[];
  /**
   * The cursor to read from next: the last entry's id; with no entries, the
   * cursor given, or for a read from now (or a reset) the newest id kept
   * (`0-0` when the history is empty).
   */
  readonly next: string;
  /**
   * True when the cursor is older than what the history keeps, so messages
   * after it may be gone: `entries` is then empty and `next` the newest id.
   * The reader reloads its state and reads on from `next`.
   */
  readonly reset: boolean;
}

/**
 * Options of {@linkcode MessageStore.readStream}.
 *
 * @example
 * ```ts
 * import type { StreamReadOptions } from "./types.ts";
 * const fromTheStart: StreamReadOptions = { after: "0", count: 32 };
 * console.log(fromTheStart.after); // 0
 * ```
 */
export interface StreamReadOptions {
  /**
   * The cursor: read the entries after this id. `0` reads the whole
   * history kept, never a reset; `0-0` is the cursor before any message
   * (what a read from now of an empty history answers), a reset once
   * messages were trimmed; undefined reads from now (no entries, `next` the
   * newest id).
   */
  readonly after: string | undefined;
  /** Most entries to read. */
  readonly count: number;
}

/**
 * Everything the long-poll handler needs from where messages live. Each uid
 * has a FIFO queue: {@linkcode MessageStore.publish} appends, and
 * {@linkcode MessageStore.pop} takes the oldest.
 *
 * Implementations: `MemoryStore` (the embedded default) and `RedisStore`
 * (from `./redis`). One contract test suite runs against both.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "@longpoll/redis-longpoll";
 * import type { MessageStore } from "./types.ts";
 * const store: MessageStore = new MemoryStore();
 * await store.publish("42", '{"hi":1}');
 * console.log(await store.pop("42")); // {"hi":1}
 * await store.close();
 * ```
 */
export interface MessageStore {
  /** Takes the oldest message of `uid`, or null when there is none. */
  pop(uid: string): Promise<string | null>;
  /**
   * Takes up to `count` of the oldest messages of `uid` at once, oldest
   * first, in one atomic step; an empty array when there is none.
   */
  popMany(uid: string, count: number): Promise<string[]>;
  /** Puts a popped but undelivered message back, so it is the next one out. */
  pushBack(uid: string, message: string): Promise<void>;
  /**
   * At-least-once: acknowledges `options.ack`, then leases the message due
   * next: the in-flight one whose lease ran out first (messages come back
   * in the order they were first taken), else the oldest queued, unless
   * `options.maxInFlight` are in flight. Resolves null when there is none.
   * Acknowledging and taking are atomic, and cost O(log n) in Redis
   * whatever the queue's length.
   */
  take(uid: string, options: TakeOptions): Promise<LeasedMessage | null>;
  /**
   * At-least-once: ends the lease of `id` now, so the next take hands the
   * message out again (marked as redelivered), and wakes the uid's waiters.
   */
  release(uid: string, id: string): Promise<void>;
  /**
   * Stream delivery (a store made with a history): moves what waits in
   * `uid`'s queue into its history, in order and exactly once whichever
   * process moves it, then reads the entries after `options.after`. Reading
   * consumes nothing: every reader of the uid gets every entry. Absent on a
   * store without stream support.
   */
  readStream?(uid: string, options: StreamReadOptions): Promise<StreamRead>;
  /** Appends a message to `uid`'s queue and wakes its waiters. */
  publish(uid: string, message: string): Promise<void>;
  /**
   * Registers `waiter` to be woken whenever `uid` may have a message.
   * Registration is synchronous: a message published after this call
   * returns always wakes the waiter.
   */
  watch(uid: string, waiter: Waiter): void;
  /** Undoes {@linkcode MessageStore.watch}. */
  unwatch(uid: string, waiter: Waiter): void;
  /** True while the store can serve pops, as far as it knows without asking. */
  readonly ready: boolean;
  /**
   * Asks the store whether it answers now, within its command deadline:
   * resolves true or false, never rejects. For a readiness probe.
   */
  checkReady(): Promise<boolean>;
  /**
   * The queue limits applied now (0 is off): on a store that processes
   * share, those in force for all of them. For a readiness probe and the
   * start-up line.
   */
  readonly queueLimits?: QueueLimitValues;
  /** Short name for logs and metrics, such as `memory` or `redis`. */
  readonly kind: string;
  /** Releases connections and timers. The store is unusable afterwards. */
  close(): Promise<void>;
}
