/**
 * The messages the Redis store sets aside instead of delivering (too
 * large, or not UTF-8): kept beside the uid's list, noted in the prefix's
 * bounded index, and reported.
 *
 * @module
 */
import type { RedisCommandRunner } from "./redis_command_runner.ts";
import { bufferOf, type RedisByteCommands, type RedisCommands } from "./redis_connection.ts";
import { listKeyOf, sideKey } from "./redis_keys.ts";
import { SET_ASIDE } from "./redis_scripts.ts";
import {
  type MessageLimits,
  SET_ASIDE_KEPT,
  type SetAside,
  setAsideOf,
  type SetAsideReason,
  textOf,
} from "./message_limits.ts";

/** The length and short hash (as bytes or text) of each message a script moved aside, flat. */
export type ScriptAsides = (number | Uint8Array | string)[];

/** Options of {@linkcode RedisSetAside}. */
export interface RedisSetAsideOptions {
  /** The list key prefix. */
  readonly keyPrefix: string;
  /** The command connection: scripts, and the index. */
  readonly client: Pick<RedisCommands, "eval" | "lPush" | "lTrim">;
  /** The same connection, with replies as bytes. */
  readonly bytes: Pick<RedisByteCommands, "lRange">;
  /** Runs each command under the store's deadline. */
  readonly runner: RedisCommandRunner;
  /** Who is told of each message set aside. */
  readonly messageLimits: MessageLimits;
}

/** Messages that a lease or a pop held and can't deliver, to set aside. */
export interface Poison {
  /** The lease that held them, or "" for a pop. */
  readonly id: string;
  /** The lease's entry without them, or "" to end it. */
  readonly entry: string;
  /** The messages, as bytes. */
  readonly poison: Uint8Array[];
  /**
   * Why they can't be delivered.
   * @default {"not UTF-8"}
   */
  readonly reason?: SetAsideReason;
}

/**
 * Sets aside what the store can't deliver, and reports it.
 *
 * @example
 * ```ts
 * import { MessageLimits } from "./message_limits.ts";
 * import { RedisCommandRunner } from "./redis_command_runner.ts";
 * import { RedisDiagnosis } from "./redis_diagnosis.ts";
 * import { RedisSetAside } from "./redis_set_aside.ts";
 * const index: string[] = [];
 * const asides = new RedisSetAside({
 *   keyPrefix: "Q/MSG",
 *   client: {
 *     eval: () => Promise.resolve(1),
 *     lPush: (_key, record) => Promise.resolve(index.unshift(record)),
 *     lTrim: () => Promise.resolve("OK"),
 *   },
 *   bytes: { lRange: () => Promise.resolve([]) },
 *   runner: new RedisCommandRunner({
 *     timeoutMs: 1500,
 *     diagnosis: new RedisDiagnosis(() => {}),
 *     typeOf: () => Promise.resolve("none"),
 *   }),
 *   messageLimits: new MessageLimits({
 *     onSetAside: (aside) => console.log(aside.reason, aside.bytes), // not UTF-8 1
 *   }, "RedisStore"),
 * });
 * await asides.setAside("42", { id: "", entry: "", poison: [new Uint8Array([0xff])] });
 * console.log(JSON.parse(index[0]).hash); // 85e53271e140
 * ```
 */
export class RedisSetAside {
  readonly #options: RedisSetAsideOptions;

  /** Sets nothing aside yet. */
  constructor(options: RedisSetAsideOptions) {
    this.#options = options;
  }

  /**
   * The messages set aside for `uid` (too large, or not UTF-8), newest
   * first, as bytes: the last {@linkcode SET_ASIDE_KEPT} of them.
   */
  async of(uid: string): Promise<Uint8Array[]> {
    const { keyPrefix, bytes, runner } = this.#options;
    const aside = sideKey(listKeyOf(keyPrefix, uid, "read the messages set aside"), "aside");
    return await runner.run("read the messages set aside", () => bytes.lRange(aside, 0, -1));
  }

  /**
   * Moves `poison` (not UTF-8, or too large) to the uid's list of messages set aside, and
   * rewrites or ends the lease `id` that held them; then reports them.
   */
  async setAside(uid: string, { id, entry, poison, reason = "not UTF-8" }: Poison): Promise<void> {
    const { keyPrefix, client, runner } = this.#options;
    const key = keyPrefix + uid;
    await runner.run("set aside", () =>
      client.eval(SET_ASIDE, {
        keys: [sideKey(key, "inflight"), sideKey(key, "leases"), sideKey(key, "aside")],
        arguments: [id, entry, String(SET_ASIDE_KEPT), ...poison.map(bufferOf)],
      }));
    for (const message of poison) this.#record(await setAsideOf(uid, reason, message));
  }

  /** Reports the messages that a script moved aside, for `reason`. */
  reportMovedAside(
    uid: string,
    asides: ScriptAsides,
    reason: SetAsideReason = "too large",
  ): void {
    for (let i = 0; i < asides.length; i += 2) {
      const hash = asides[i + 1];
      const text = typeof hash === "string" ? hash : textOf(hash as Uint8Array)!;
      this.#record({ uid, reason, bytes: Number(asides[i]), hash: text });
    }
  }

  /**
   * Reports `aside`, and notes it in the prefix's bounded index of messages
   * set aside: a separate command, since the index is in another hash slot
   * than the uid's list on a cluster.
   */
  #record(aside: SetAside): void {
    const { keyPrefix, client, runner, messageLimits } = this.#options;
    messageLimits.setAside(aside);
    const index = sideKey(keyPrefix, "aside-index");
    const record = JSON.stringify({ ...aside, at: new Date().toISOString() });
    runner.run("note a message set aside", async () => {
      await client.lPush(index, record);
      await client.lTrim(index, 0, SET_ASIDE_KEPT - 1);
    }).catch(() => {}); // the message itself is kept beside the uid's list
  }
}
