/**
 * Stream delivery on Redis: each uid's history is a Redis stream beside its
 * list, and one script ({@linkcode MOVE_AND_READ}) moves what producers
 * pushed to the list into it and reads it, in one round trip.
 *
 * @module
 */
import { cursorOf, type HistoryOptions } from "./history_options.ts";
import { formatStreamId } from "../stream_id.ts";
import { PushLimitsQueue } from "./push_limits_queue.ts";
import type { RedisCommandRunner } from "./redis_command_runner.ts";
import type { RedisCommands } from "./redis_connection.ts";
import { evalCached } from "./redis_eval_sha.ts";
import { listKeyOf, sideKey } from "./redis_keys.ts";
import { MOVE_AND_READ } from "./redis_scripts.ts";
import type { RedisSetAside, ScriptAsides } from "./redis_set_aside.ts";
import { SET_ASIDE_KEPT } from "./message_limits.ts";
import type { StreamRead, StreamReadOptions } from "./types.ts";
import type { WaiterRegistry } from "./waiters.ts";

/** Options of {@linkcode RedisHistory}. */
export interface RedisHistoryOptions {
  /** The list key prefix. */
  readonly keyPrefix: string;
  /** How many messages a history keeps, and how long. */
  readonly history: HistoryOptions;
  /** The command connection. */
  readonly client: Pick<RedisCommands, "eval" | "evalSha">;
  /** Runs each command under the store's deadline. */
  readonly runner: RedisCommandRunner;
  /** Largest message moved, and most bytes of one read. */
  readonly maxBytes: number;
  /** Who reports the messages set aside. */
  readonly asides: Pick<RedisSetAside, "reportMovedAside">;
  /** This process's readers: one of a uid moves as it reads. */
  readonly waiters: Pick<WaiterRegistry, "has">;
}

type _Reply = [number, string, string[], string[], ScriptAsides, ScriptAsides];

/**
 * Reads and moves the histories of a prefix's uids.
 *
 * Which process moves: every read moves first, so a message is never
 * stranded by a lost notification. A process that hears a push (a keyspace
 * notification) for a uid it has a reader of wakes the reader, whose read
 * moves; for any other uid, it moves at once ({@linkcode RedisHistory.pushed}),
 * so that `max` and `ttlSeconds` bound the messages of users nobody reads
 * as they bound the others, instead of a list growing until they come back.
 * That costs one script call per process per push (all but the first
 * finding the list empty, an `LLEN`), and pushes to a uid while its move
 * runs are moved together; the script is atomic, so concurrent moves
 * never move a message twice or out of order.
 *
 * @example
 * ```ts ignore
 * import { RedisHistory } from "./redis_history.ts";
 * const history = { max: 100, ttlSeconds: 3600 };
 * const histories = new RedisHistory({ keyPrefix: "Q/MSG", history, client, runner, maxBytes: 65_536, asides, waiters });
 * const read = await histories.read("42", { after: "0-0", count: 32 });
 * ```
 */
export class RedisHistory {
  readonly #options: RedisHistoryOptions;
  readonly #moves: PushLimitsQueue;

  /** Moves nothing yet. */
  constructor(options: RedisHistoryOptions) {
    this.#options = options;
    this.#moves = new PushLimitsQueue({ apply: (uid) => this.#run(uid, "!", 1).then(() => {}) });
  }

  /** Moves what waits for `uid`, then reads its history after `options.after`. */
  async read(uid: string, options: StreamReadOptions): Promise<StreamRead> {
    const after = cursorOf(options);
    return await this.#run(
      uid,
      after === undefined ? "" : after === "start" ? "0" : formatStreamId(after),
      options.count,
    );
  }

  /**
   * Says that a producer pushed to `uid`'s list: it is moved soon, unless
   * a reader of the uid here was woken to read (and so move) it.
   */
  pushed(uid: string): void {
    if (!this.#options.waiters.has(uid)) this.#moves.pushed(uid);
  }

  /** Resolves once the moves due are done. */
  close(): Promise<void> {
    return this.#moves.idle();
  }

  async #run(uid: string, cursor: string, count: number): Promise<StreamRead> {
    const { keyPrefix, history, client, runner, maxBytes, asides } = this.#options;
    const key = listKeyOf(keyPrefix, uid, "read a stream");
    const [historyKey, floorKey] = [sideKey(key, "history"), sideKey(key, "history-floor")];
    const script = {
      keys: [key, historyKey, floorKey, sideKey(key, "aside")],
      arguments: [
        String(history.max),
        String(history.ttlSeconds),
        cursor,
        String(count),
        String(maxBytes),
        String(SET_ASIDE_KEPT),
      ],
    };
    const report = ([, , , , tooLarge, notUtf8]: _Reply) => {
      asides.reportMovedAside(uid, tooLarge, "too large");
      asides.reportMovedAside(uid, notUtf8, "not UTF-8");
    };
    const reply = await runner.run(
      cursor === "!" ? "move to the history" : "read a stream",
      () => evalCached(client, MOVE_AND_READ, script) as Promise<_Reply>,
      {
        expect: [[key, "list"], [historyKey, "stream"], [floorKey, "string"]],
        onLate: report,
      },
    );
    report(reply);
    const [reset, next, ids, messages] = reply;
    const entries = ids.map((id, index) => ({ id, message: messages[index] }));
    return { entries, next, reset: reset === 1 };
  }
}
