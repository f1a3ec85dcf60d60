import type { Presence, PresenceInfo } from "../presence.ts";
import { clampTimerDelay } from "../timer_delay.ts";
import { sideKey } from "./redis_keys.ts";

/** What {@linkcode RedisPresence} needs of a Redis client. */
export interface PresenceCommands {
  /** `EVAL script`. */
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** Options of {@linkcode RedisPresence}. */
export interface RedisPresenceOptions {
  /** The client to run commands on. */
  readonly client: PresenceCommands;
  /** The list key prefix: the presence of a uid sits beside its list. */
  readonly keyPrefix: string;
  /**
   * How long this process counts as alive after its last heartbeat, in
   * milliseconds; it beats every third of that. A process that dies
   * without cleaning up stops counting this long after.
   * @default {30000}
   */
  readonly aliveMs?: number;
  /** Told about a command that failed; presence is best effort. */
  readonly onError: (error: unknown) => void;
  /**
   * How long an entry or exit waits for others to go out with it, in
   * milliseconds: a steady trickle of polls costs Redis one command per
   * this time, not one per poll. A lookup sees a uid this much later.
   * @default {50}
   */
  readonly flushMs?: number;
  /**
   * Send the entries and exits gathered in one command each. Only where
   * every key is on one node: not on Redis Cluster, where each goes alone.
   * @default {false}
   */
  readonly batch?: boolean;
}

/** For each key, HSET the process's field to its start, and keep the hash no longer than a day unused. */
const ENTER = `for i, key in ipairs(KEYS) do
  redis.call("HSET", key, ARGV[1], ARGV[i + 1])
  redis.call("PEXPIRE", key, 86400000)
end
return 1`;
/** For each key, HDEL the process's field. */
const LEAVE = `for _, key in ipairs(KEYS) do redis.call("HDEL", key, ARGV[1]) end
return 1`;
const READ = `return redis.call("HGETALL", KEYS[1])`;
const BEAT = `return redis.call("SET", KEYS[1], "1", "PX", ARGV[1])`;
const ALIVE = `return redis.call("EXISTS", KEYS[1])`;

/** Most keys in one entry or exit script, so that one script holds Redis up for little. */
const MAX_BATCH = 1_000;

/** The separator of this store's own keys: no uid or prefix may hold it. */
const SEPARATOR = "\x1f";

/**
 * Presence on Redis, shared by every process on it: one hash per uid, beside
 * its list, with a field per process that holds a poll of the uid (set when
 * the process's first poll of the uid is held, deleted when its last one
 * ends; the entries gathered over `flushMs` go out together, on one Redis
 * in one command, and so do the exits), and one heartbeat key per process. A lookup
 * counts the fields of processes whose heartbeat is alive, so a process
 * killed without cleaning up drops out within `aliveMs`, and its fields are
 * deleted then.
 *
 * @example
 * ```ts ignore
 * import { RedisStore } from "./redis.ts";
 * const store = new RedisStore({ url: "redis://127.0.0.1:6379" });
 * const presence = store.presence();
 * console.log(await presence.lookup("42")); // { present: false }
 * ```
 */
export class RedisPresence implements Presence {
  /** This process's id in the presence hashes. */
  readonly processId: string = crypto.randomUUID();
  readonly #client: PresenceCommands;
  readonly #keyPrefix: string;
  readonly #aliveMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #beat: ReturnType<typeof setInterval>;
  readonly #batch: boolean;
  readonly #flushMs: number;
  /** Per uid, its entry (the start) or its exit (null) not sent yet; the last one counts. */
  readonly #pending = new Map<string, number | null>();
  #flush: ReturnType<typeof setTimeout> | undefined;

  /** Starts the heartbeat; {@linkcode RedisPresence.close} stops it. */
  constructor(options: RedisPresenceOptions) {
    this.#client = options.client;
    this.#keyPrefix = options.keyPrefix;
    this.#aliveMs = options.aliveMs ?? 30_000;
    this.#onError = options.onError;
    this.#batch = options.batch ?? false;
    this.#flushMs = options.flushMs ?? 50;
    this.#heartbeat();
    this.#beat = setInterval(
      () => this.#heartbeat(),
      clampTimerDelay(Math.max(1, this.#aliveMs / 3)),
    );
  }

  enter(uid: string, since: number): void {
    this.#queue(uid, since);
  }

  leave(uid: string): void {
    this.#queue(uid, null);
  }

  async lookup(uid: string): Promise<PresenceInfo> {
    const key = this.#keyOf(uid);
    const fields = await this.#client.eval(READ, { keys: [key], arguments: [] }) as string[];
    let since: number | undefined;
    const checks: Promise<void>[] = [];
    for (let i = 0; i < fields.length; i += 2) {
      const [processId, started] = [fields[i], Number(fields[i + 1])];
      checks.push((async () => {
        const alive = await this.#client.eval(ALIVE, {
          keys: [this.#aliveKeyOf(processId)],
          arguments: [],
        });
        if (alive === 1) since = since === undefined ? started : Math.min(since, started);
        else this.#run(LEAVE, [key], [processId]);
      })());
    }
    await Promise.all(checks);
    return since === undefined ? { present: false } : { present: true, since };
  }

  /** Stops the heartbeat and drops this process's liveness. */
  close(): Promise<void> {
    clearInterval(this.#beat);
    clearTimeout(this.#flush);
    this.#send();
    return this.#client.eval(BEAT, { keys: [this.#aliveKeyOf(this.processId)], arguments: ["1"] })
      .then(() => {}, () => {});
  }

  /** Queues an entry or an exit; the queue goes out `flushMs` after its first. */
  #queue(uid: string, since: number | null): void {
    this.#pending.set(uid, since);
    this.#flush ??= setTimeout(() => this.#send(), this.#flushMs);
  }

  /** Sends the entries and exits queued, in one command each when batching. */
  #send(): void {
    this.#flush = undefined;
    const entries: [string, string][] = [];
    const exits: string[] = [];
    for (const [uid, since] of this.#pending) {
      if (since === null) exits.push(this.#keyOf(uid));
      else entries.push([this.#keyOf(uid), String(since)]);
    }
    this.#pending.clear();
    const size = this.#batch ? MAX_BATCH : 1;
    for (const group of _chunks(entries, size)) {
      const keys = group.map(([key]) => key);
      this.#run(ENTER, keys, [this.processId, ...group.map(([, since]) => since)]);
    }
    for (const keys of _chunks(exits, size)) this.#run(LEAVE, keys, [this.processId]);
  }

  #heartbeat(): void {
    this.#run(BEAT, [this.#aliveKeyOf(this.processId)], [String(Math.ceil(this.#aliveMs))]);
  }

  #run(script: string, keys: string[], args: string[]): void {
    this.#client.eval(script, { keys, arguments: args }).catch(this.#onError);
  }

  #keyOf(uid: string): string {
    return sideKey(this.#keyPrefix + uid, "presence");
  }

  #aliveKeyOf(processId: string): string {
    return `${this.#keyPrefix}${SEPARATOR}alive${SEPARATOR}${processId}`;
  }
}

/** `items` in runs of at most `size`, in order. */
function _chunks<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}
