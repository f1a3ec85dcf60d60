import type {
  LeasedMessage,
  MessageStore,
  StreamRead,
  StreamReadOptions,
  TakeOptions,
  Waiter,
} from "./types.ts";
import { EntryLog, readWithoutLog } from "./entry_log.ts";
import { checkHistory, cursorOf, type HistoryOptions } from "./history_options.ts";
import { Fifo } from "./fifo.ts";
import { WaiterRegistry } from "./waiters.ts";
import { maxInFlightOf, RELEASED } from "./leases.ts";
import { type QueueLimitOptions, QueueLimits, type QueueLimitValues } from "./queue_limits.ts";
import {
  byteLengthOf,
  type MessageLimitOptions,
  MessageLimits,
  SET_ASIDE_KEPT,
  setAsideOf,
} from "./message_limits.ts";

/**
 * Options of {@linkcode MemoryStore}.
 *
 * @example
 * ```ts
 * import { MemoryStore, type MemoryStoreOptions } from "@longpoll/redis-longpoll";
 * const options: MemoryStoreOptions = { queueMax: 100, maxMessageBytes: 65_536 };
 * const store = new MemoryStore(options);
 * await store.close();
 * ```
 */
export interface MemoryStoreOptions extends QueueLimitOptions, MessageLimitOptions {
  /**
   * Current time in milliseconds, for `queueTtlSeconds`, the history's
   * ids and its `ttlSeconds`.
   * @default {Date.now}
   */
  now?: () => number;
  /**
   * Stream delivery: keep each uid's messages in a history bounded by
   * `max` messages and `ttlSeconds` after the last one, read with
   * `readStream` by every reader of the uid. `publish` then appends to the
   * history instead of the queue. No history when not given.
   */
  history?: HistoryOptions;
}

/**
 * The embedded default store: per-uid FIFO queues in this process's memory.
 * A publish wakes that uid's waiting polls at once. Nothing survives a
 * restart, and processes don't share it; use `RedisStore` for that.
 * With `queueTtlSeconds`, expired queues are dropped as later calls come.
 * With `history`, each uid's messages go to its history instead, with ids
 * `<ms>-<seq>` from `now`, and every reader reads them all.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "./memory.ts";
 * const store = new MemoryStore();
 * await store.publish("42", "first");
 * await store.publish("42", "second");
 * console.log(await store.pop("42")); // first
 * await store.close();
 * ```
 */
export class MemoryStore implements MessageStore {
  readonly kind: string = "memory";
  readonly #queues = new Map<string, Fifo>();
  readonly #waiters = new WaiterRegistry();
  readonly #inFlight = new Map<string, Map<string, _Lease>>();
  readonly #limits: QueueLimits;
  readonly #messages: MessageLimits;
  readonly #aside = new Map<string, string[]>();
  readonly #now: () => number;
  // When each uid's queue and leases expire, oldest first: an update moves
  // the uid to the end, so a sweep stops at the first one still alive.
  readonly #queueExpiries = new Map<string, number>();
  readonly #leaseExpiries = new Map<string, number>();
  readonly #history: HistoryOptions | undefined;
  readonly #logs = new Map<string, EntryLog>();
  readonly #logExpiries = new Map<string, number>();
  #closed = false;
  /**
   * With `history` only: reads `uid`'s history after `options.after` (see
   * {@linkcode MessageStore.readStream}); rejects with a TypeError on a
   * cursor that is not a stream id.
   */
  readonly readStream?: (uid: string, options: StreamReadOptions) => Promise<StreamRead>;

  /** Creates an empty store. */
  constructor(options: MemoryStoreOptions = {}) {
    this.#limits = new QueueLimits(options, "MemoryStore");
    this.#messages = new MessageLimits(options, "MemoryStore");
    this.#now = options.now ?? Date.now;
    this.#history = options.history === undefined
      ? undefined
      : checkHistory(options.history, "MemoryStore");
    if (this.#history !== undefined) {
      this.readStream = (uid, options) => this.#readStream(uid, options);
    }
  }

  /** The queue limits of the options: this process is the only one on the store. */
  get queueLimits(): QueueLimitValues {
    return this.#limits.inForce;
  }

  /** Always true until {@linkcode MemoryStore.close}. */
  get ready(): boolean {
    return !this.#closed;
  }

  /** Resolves true until {@linkcode MemoryStore.close}. */
  checkReady(): Promise<boolean> {
    return Promise.resolve(!this.#closed);
  }

  /** Number of messages queued for `uid`. */
  size(uid: string): number {
    return this.#queues.get(uid)?.length ?? 0;
  }

  pop(uid: string): Promise<string | null> {
    return this.popMany(uid, 1).then((taken) => taken[0] ?? null);
  }

  popMany(uid: string, count: number): Promise<string[]> {
    if (this.#closed) return _closed("pop");
    this.#expire();
    return Promise.resolve(this.#takeQueued(uid, count));
  }

  /**
   * The messages set aside for `uid` because they were too large, newest
   * first: the last {@linkcode SET_ASIDE_KEPT} of them.
   */
  asideOf(uid: string): string[] {
    return [...this.#aside.get(uid) ?? []];
  }

  pushBack(uid: string, message: string): Promise<void> {
    if (this.#closed) return _closed("push back");
    this.#expire();
    const queue = this.#queues.get(uid);
    if (queue === undefined) this.#queues.set(uid, _fifoOf(message));
    else queue.unshift(message);
    this.#waiters.wake(uid);
    return Promise.resolve();
  }

  publish(uid: string, message: string): Promise<void> {
    if (this.#closed) return _closed("publish");
    this.#expire();
    if (this.#history !== undefined) return this.#append(uid, message, this.#history);
    const queue = this.#queues.get(uid);
    if (queue === undefined) this.#queues.set(uid, _fifoOf(message));
    else {
      queue.push(message);
      const dropped = this.#limits.max === 0 ? 0 : queue.length - this.#limits.max;
      for (let i = 0; i < dropped; i++) queue.shift();
      this.#limits.trimmed(uid, dropped);
    }
    _renew(this.#queueExpiries, uid, this.#limits.ttlSeconds, this.#now);
    this.#waiters.wake(uid);
    return Promise.resolve();
  }

  take(uid: string, options: TakeOptions): Promise<LeasedMessage | null> {
    if (this.#closed) return _closed("take");
    this.#expire();
    let maxInFlight: number;
    try {
      maxInFlight = maxInFlightOf(options);
    } catch (error) {
      return Promise.reject(error);
    }
    let leases = this.#inFlight.get(uid);
    if (options.ack !== undefined) leases?.delete(options.ack);
    let due: [string, _Lease] | undefined;
    for (const entry of leases ?? []) {
      if (due === undefined || entry[1].deadline < due[1].deadline) due = entry;
    }
    let lease: _Lease;
    if (due !== undefined && due[1].deadline <= options.now) {
      leases!.delete(due[0]);
      lease = { ...due[1], deliveries: due[1].deliveries + 1, deadline: 0 };
    } else {
      // The bound counts messages, so a batch is cut to the room left.
      let room = maxInFlight;
      for (const other of leases?.values() ?? []) room -= other.batch?.length ?? 1;
      const count = options.count ?? 1;
      const taken = room > 0 ? this.#takeQueued(uid, Math.min(count, room)) : [];
      if (taken.length === 0) {
        if (leases?.size === 0) this.#inFlight.delete(uid);
        return Promise.resolve(null);
      }
      lease = count > 1
        ? { message: JSON.stringify(taken), batch: taken, deliveries: 1, deadline: 0 }
        : { message: taken[0], deliveries: 1, deadline: 0 };
    }
    // Deadlines of one uid only grow, so leases come due in the order taken.
    let last = -Infinity;
    for (const other of leases?.values() ?? []) last = Math.max(last, other.deadline);
    lease.deadline = Math.max(options.now + options.leaseMs, last + 1);
    if (leases === undefined) this.#inFlight.set(uid, leases = new Map());
    leases.set(options.id, lease);
    _renew(this.#leaseExpiries, uid, this.#limits.sideTtlSeconds(options.leaseMs), this.#now);
    const leased = { id: options.id, message: lease.message, deliveries: lease.deliveries };
    return Promise.resolve(lease.batch === undefined ? leased : { ...leased, batch: lease.batch });
  }

  release(uid: string, id: string): Promise<void> {
    if (this.#closed) return _closed("release");
    const lease = this.#inFlight.get(uid)?.get(id);
    if (lease !== undefined) {
      if (lease.deadline >= 0) lease.deadline -= RELEASED;
      this.#waiters.wake(uid);
    }
    return Promise.resolve();
  }

  /** Number of messages of `uid` handed out and not yet acknowledged. */
  inFlight(uid: string): number {
    let messages = 0;
    for (const lease of this.#inFlight.get(uid)?.values() ?? []) {
      messages += lease.batch?.length ?? 1;
    }
    return messages;
  }

  watch(uid: string, waiter: Waiter): void {
    this.#waiters.add(uid, waiter);
  }

  unwatch(uid: string, waiter: Waiter): void {
    this.#waiters.delete(uid, waiter);
  }

  /**
   * Takes up to `count` of the oldest messages of `uid`, at most
   * `maxMessageBytes` in all (the first one always goes), and sets aside
   * each one larger than that.
   */
  #takeQueued(uid: string, count: number): string[] {
    const queue = this.#queues.get(uid);
    const taken: string[] = [];
    let bytes = 0;
    while (queue !== undefined && queue.length > 0 && taken.length < count) {
      const size = byteLengthOf(queue.peek()!);
      if (size > this.#messages.maxBytes) {
        this.#setAside(uid, queue.shift()!);
      } else if (taken.length > 0 && bytes + size > this.#messages.maxBytes) {
        break;
      } else {
        taken.push(queue.shift()!);
        bytes += size;
      }
    }
    if (queue?.length === 0) this.#queues.delete(uid);
    return taken;
  }

  /** Reads `uid`'s history after `options.after`, by the reset rule. */
  #readStream(uid: string, options: StreamReadOptions): Promise<StreamRead> {
    if (this.#closed) return _closed("read");
    this.#expire();
    try {
      const read = {
        after: cursorOf(options),
        count: options.count,
        maxBytes: this.#messages.maxBytes,
      };
      const log = this.#logs.get(uid);
      return Promise.resolve(log === undefined ? readWithoutLog(read) : log.read(read));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Appends `message` to `uid`'s history, trimmed to `history.max`, and
   * wakes its readers; a message too large is set aside instead.
   */
  #append(uid: string, message: string, history: HistoryOptions): Promise<void> {
    const bytes = byteLengthOf(message);
    if (bytes > this.#messages.maxBytes) {
      this.#setAside(uid, message);
      return Promise.resolve();
    }
    let log = this.#logs.get(uid);
    if (log === undefined) this.#logs.set(uid, log = new EntryLog());
    log.append(message, this.#now(), bytes);
    log.trimTo(history.max);
    _renew(this.#logExpiries, uid, history.ttlSeconds, this.#now);
    this.#waiters.wake(uid);
    return Promise.resolve();
  }

  #setAside(uid: string, message: string): void {
    const aside = this.#aside.get(uid) ?? [];
    aside.unshift(message);
    aside.length = Math.min(aside.length, SET_ASIDE_KEPT);
    this.#aside.set(uid, aside);
    setAsideOf(uid, "too large", message).then((aside) => this.#messages.setAside(aside));
  }

  /**
   * Drops the queues and leases whose time ran out (`queueTtlSeconds`),
   * and the histories (`history.ttlSeconds`).
   */
  #expire(): void {
    if (this.#limits.ttlSeconds === 0 && this.#history === undefined) return;
    const now = this.#now();
    for (
      const [expiries, drop] of [
        [this.#queueExpiries, this.#queues],
        [this.#leaseExpiries, this.#inFlight],
        [this.#logExpiries, this.#logs],
      ] as const
    ) {
      for (const [uid, at] of expiries) {
        if (at > now) break;
        expiries.delete(uid);
        drop.delete(uid);
      }
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
  /** Closes the store at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Moves `uid` to the end of `expiries`, due `seconds` from now (nothing when 0). */
function _renew(
  expiries: Map<string, number>,
  uid: string,
  seconds: number,
  now: () => number,
): void {
  if (seconds === 0) return;
  expiries.delete(uid);
  expiries.set(uid, now() + seconds * 1000);
}

function _fifoOf(message: string): Fifo {
  const queue = new Fifo();
  queue.push(message);
  return queue;
}

interface _Lease {
  readonly message: string;
  readonly batch?: readonly string[];
  readonly deliveries: number;
  deadline: number;
}

function _closed(action: string): Promise<never> {
  return Promise.reject(new Error(`Cannot ${action}: the memory store is closed`));
}
