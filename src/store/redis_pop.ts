/**
 * How the Redis store pops (at-most-once mode). One message, the poll's
 * usual case, is a plain `RPOP`, a tenth of a script's cost to Redis; one
 * too large or not UTF-8 is then set aside by the process. A batch is one
 * script call that takes the oldest messages that fit and sets aside those
 * too large inside Redis, so a batch never carries more than its byte cap;
 * the process sets aside those that are not UTF-8.
 *
 * @module
 */
import { MessageEncodingError } from "./errors.ts";
import type { PushBackRetry } from "./push_back_retry.ts";
import type { RedisCommandRunner } from "./redis_command_runner.ts";
import type { RedisByteCommands } from "./redis_connection.ts";
import { listKeyOf, sideKey } from "./redis_keys.ts";
import { POP } from "./redis_scripts.ts";
import type { RedisSetAside, ScriptAsides } from "./redis_set_aside.ts";
import { SET_ASIDE_KEPT, textOf } from "./message_limits.ts";

/** Options of {@linkcode RedisPop}. */
export interface RedisPopOptions {
  /** The list key prefix. */
  readonly keyPrefix: string;
  /** The command connection, with replies as bytes. */
  readonly bytes: Pick<RedisByteCommands, "eval" | "rPop">;
  /** Runs each command under the store's deadline. */
  readonly runner: RedisCommandRunner;
  /** Largest message handed out, and most bytes popped at once. */
  readonly maxBytes: number;
  /** Where the messages that can't be delivered go. */
  readonly asides: Pick<RedisSetAside, "setAside" | "reportMovedAside">;
  /** Puts a message back at the head of the uid's list, once. */
  readonly pushBack: (uid: string, message: Uint8Array) => Promise<void>;
  /** Puts a message back until Redis takes it. */
  readonly pushBacks: Pick<PushBackRetry, "start">;
}

/**
 * Pops the messages of a uid that can be delivered.
 *
 * @example
 * ```ts
 * import { RedisCommandRunner } from "./redis_command_runner.ts";
 * import { RedisDiagnosis } from "./redis_diagnosis.ts";
 * import { RedisPop } from "./redis_pop.ts";
 * const popper = new RedisPop({
 *   keyPrefix: "Q/MSG",
 *   bytes: {
 *     eval: () => Promise.resolve([[new TextEncoder().encode("hi")], []]),
 *     rPop: () => Promise.resolve(new TextEncoder().encode("hello")),
 *   },
 *   runner: new RedisCommandRunner({
 *     timeoutMs: 1500,
 *     diagnosis: new RedisDiagnosis(() => {}),
 *     typeOf: () => Promise.resolve("none"),
 *   }),
 *   maxBytes: 4_194_304,
 *   asides: { setAside: () => Promise.resolve(), reportMovedAside: () => {} },
 *   pushBack: () => Promise.resolve(),
 *   pushBacks: { start: () => Promise.resolve() },
 * });
 * console.log(await popper.pop("42", 10)); // [ "hi" ]
 * console.log(await popper.pop("42", 1)); // [ "hello" ]
 * ```
 */
export class RedisPop {
  readonly #options: RedisPopOptions;

  /** Pops nothing yet. */
  constructor(options: RedisPopOptions) {
    this.#options = options;
  }

  /** Pops up to `count` messages that can be delivered, setting aside those that can't. */
  async pop(uid: string, count: number): Promise<string[]> {
    if (count === 1) {
      const text = await this.popOne(uid);
      return text === null ? [] : [text];
    }
    const { keyPrefix, bytes, runner, asides, pushBack, pushBacks } = this.#options;
    const key = keyPrefix + uid;
    const aside = sideKey(listKeyOf(keyPrefix, uid, "pop"), "aside");
    const script = {
      keys: [key, aside],
      arguments: [String(count), String(this.#options.maxBytes), String(SET_ASIDE_KEPT)],
    };
    for (;;) {
      const [messages, tooLarge] = await runner.run(
        "pop",
        () => bytes.eval(POP, script) as Promise<[Uint8Array[], ScriptAsides]>,
        {
          expect: [[key, "list"]],
          onLate: ([late, tooLarge]) => {
            asides.reportMovedAside(uid, tooLarge);
            for (const message of [...late].reverse()) pushBacks.start(uid, message);
          },
        },
      );
      asides.reportMovedAside(uid, tooLarge);
      const decoded = messages.map(textOf);
      const texts = decoded.filter((text) => text !== undefined);
      const poison = messages.filter((_, i) => decoded[i] === undefined);
      if (poison.length > 0) {
        try {
          await asides.setAside(uid, { id: "", entry: "", poison });
        } catch {
          // Refused whole, and put back as it was, newest first so the oldest is first in line.
          for (const message of [...messages].reverse()) {
            await pushBack(uid, message).catch(() => pushBacks.start(uid, message));
          }
          throw new MessageEncodingError(uid);
        }
      }
      if (texts.length > 0 || (messages.length === 0 && tooLarge.length === 0)) return texts;
    }
  }

  /**
   * Pops the oldest message that can be delivered, or null, setting aside
   * each one that can't. A hit's path: one command and no further await.
   */
  popOne(uid: string): Promise<string | null> {
    const { keyPrefix, bytes, runner, maxBytes } = this.#options;
    const key = keyPrefix + uid;
    return runner.run("pop", () => bytes.rPop(key), {
      expect: [[key, "list"]],
      onLate: (late) => {
        if (late !== null) this.#options.pushBacks.start(uid, late);
      },
    }).then((message) => {
      if (message === null) return null;
      const text = message.byteLength > maxBytes ? undefined : textOf(message);
      return text ?? this.#setAsideThenPop(uid, message);
    });
  }

  /** Sets aside a message that can't be delivered, then pops the next. */
  async #setAsideThenPop(uid: string, message: Uint8Array): Promise<string | null> {
    const { asides, pushBack, pushBacks, maxBytes } = this.#options;
    const tooLarge = message.byteLength > maxBytes;
    try {
      await asides.setAside(uid, {
        id: "",
        entry: "",
        poison: [message],
        reason: tooLarge ? "too large" : "not UTF-8",
      });
    } catch (error) {
      // Refused, and put back as it was, first in line.
      await pushBack(uid, message).catch(() => pushBacks.start(uid, message));
      throw tooLarge ? error : new MessageEncodingError(uid);
    }
    return await this.popOne(uid);
  }
}
