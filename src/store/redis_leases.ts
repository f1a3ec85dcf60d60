/**
 * Leases on Redis (at-least-once mode): a take hands out the oldest
 * message, or batch, and keeps it in flight until acknowledged or due
 * again; a release makes it due at once. Each is one script call.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { LeasedMessage, TakeOptions } from "./types.ts";
import { MessageEncodingError } from "./errors.ts";
import { maxInFlightOf, RELEASED } from "./leases.ts";
import type { QueueLimits } from "./queue_limits.ts";
import type { RedisCommandRunner } from "./redis_command_runner.ts";
import { bufferOf, type RedisByteCommands, type RedisCommands } from "./redis_connection.ts";
import { listKeyOf, sideKey } from "./redis_keys.ts";
import { RELEASE, TAKE } from "./redis_scripts.ts";
import type { RedisSetAside, ScriptAsides } from "./redis_set_aside.ts";
import { SET_ASIDE_KEPT, textOf } from "./message_limits.ts";

/** Options of {@linkcode RedisLeases}. */
export interface RedisLeasesOptions {
  /** The list key prefix. */
  readonly keyPrefix: string;
  /** The channel a release announces the uid on. */
  readonly wakeChannel: string;
  /** The command connection. */
  readonly client: Pick<RedisCommands, "eval">;
  /** The same connection, with replies as bytes. */
  readonly bytes: Pick<RedisByteCommands, "eval">;
  /** Runs each command under the store's deadline. */
  readonly runner: RedisCommandRunner;
  /** The queue limits in force, for how long the side keys live. */
  readonly limits: Pick<QueueLimits, "sideTtlSeconds">;
  /** Largest message handed out, and most bytes in one batch. */
  readonly maxBytes: number;
  /** Where the messages that can't be delivered go. */
  readonly asides: Pick<RedisSetAside, "setAside" | "reportMovedAside">;
}

/** What {@linkcode TAKE} answers: a lease and the asides, or the asides alone. */
type _TakeReply = [Uint8Array, number, Uint8Array, Uint8Array, ScriptAsides] | [ScriptAsides];

/**
 * Takes and releases the leases of a uid's messages.
 *
 * @example
 * ```ts
 * import { QueueLimits } from "./queue_limits.ts";
 * import { RedisCommandRunner } from "./redis_command_runner.ts";
 * import { RedisDiagnosis } from "./redis_diagnosis.ts";
 * import { RedisLeases } from "./redis_leases.ts";
 * const bytes = (text: string) => new TextEncoder().encode(text);
 * const leases = new RedisLeases({
 *   keyPrefix: "Q/MSG",
 *   wakeChannel: "Q/MSG:wake",
 *   client: { eval: () => Promise.resolve(1) },
 *   bytes: { eval: () => Promise.resolve([bytes("d1"), 1, bytes("hi"), bytes("m"), []]) },
 *   runner: new RedisCommandRunner({
 *     timeoutMs: 1500,
 *     diagnosis: new RedisDiagnosis(() => {}),
 *     typeOf: () => Promise.resolve("none"),
 *   }),
 *   limits: new QueueLimits({}, "RedisStore"),
 *   maxBytes: 4_194_304,
 *   asides: { setAside: () => Promise.resolve(), reportMovedAside: () => {} },
 * });
 * const leased = await leases.take("42", { id: "d1", now: Date.now(), leaseMs: 30_000 });
 * console.log(leased); // { id: "d1", deliveries: 1, message: "hi" }
 * await leases.release("42", "d1");
 * ```
 */
export class RedisLeases {
  readonly #options: RedisLeasesOptions;

  /** Takes nothing yet. */
  constructor(options: RedisLeasesOptions) {
    this.#options = options;
  }

  /**
   * Acknowledges `options.ack`, then leases the oldest message (or batch)
   * of `uid` that can be delivered, or the first lease come due again;
   * null when there is none.
   */
  async take(uid: string, options: TakeOptions): Promise<LeasedMessage | null> {
    const { keyPrefix, bytes, runner, limits, asides } = this.#options;
    const key = listKeyOf(keyPrefix, uid, "take");
    const script = {
      keys: [key, sideKey(key, "inflight"), sideKey(key, "leases"), sideKey(key, "aside")],
      arguments: [
        options.ack ?? "",
        String(options.now),
        String(options.leaseMs),
        options.id,
        String(maxInFlightOf(options)),
        String(limits.sideTtlSeconds(options.leaseMs)),
        String(options.count ?? 1),
        String(this.#options.maxBytes),
        String(SET_ASIDE_KEPT),
      ],
    };
    // Each turn sets aside what it can't hand out; the queue goes on.
    for (;;) {
      // A lease granted after the caller gave up is ended at once, so the
      // next take hands the message out again without waiting for the lease.
      const reply = await runner.run(
        "take",
        () => bytes.eval(TAKE, script) as Promise<_TakeReply>,
        {
          expect: [[key, "list"], [script.keys[1], "hash"], [script.keys[2], "zset"]],
          onLate: (late) => {
            asides.reportMovedAside(uid, late[late.length - 1] as ScriptAsides);
            if (late.length > 1) this.release(uid, options.id).catch(() => {});
          },
        },
      );
      asides.reportMovedAside(uid, reply[reply.length - 1] as ScriptAsides);
      if (reply.length === 1) {
        if ((reply[0] as ScriptAsides).length === 0) return null;
        script.arguments[0] = "";
        continue;
      }
      const [, deliveries, body, kind] = reply;
      const leased = { id: options.id, deliveries: Number(deliveries) };
      const batch = textOf(kind)!.startsWith("b");
      const message = textOf(body);
      if (message !== undefined) {
        return batch ? { ...leased, message, batch: JSON.parse(message) } : { ...leased, message };
      }
      const items = batch ? _batchBytes(body) : [body];
      const texts = items.map(textOf).filter((text) => text !== undefined);
      const poison = items.filter((item) => textOf(item) === undefined);
      const entry = texts.length === 0
        ? ""
        : `${deliveries}b${texts.length}|${JSON.stringify(texts)}`;
      try {
        await asides.setAside(uid, { id: options.id, entry, poison });
      } catch {
        // Refused, and kept in flight as it was, due at once.
        await this.release(uid, options.id);
        throw new MessageEncodingError(uid);
      }
      if (texts.length > 0) return { ...leased, message: JSON.stringify(texts), batch: texts };
      script.arguments[0] = "";
    }
  }

  /** Makes the lease `id` of `uid` due at once, and wakes the uid's waiters. */
  async release(uid: string, id: string): Promise<void> {
    const { keyPrefix, wakeChannel, client, runner } = this.#options;
    const leases = sideKey(listKeyOf(keyPrefix, uid, "release"), "leases");
    await runner.run("release", () =>
      client.eval(RELEASE, {
        keys: [leases],
        arguments: [id, wakeChannel, uid, String(RELEASED)],
      }), { expect: [[leases, "zset"]] });
  }
}

/**
 * The messages of a batch's JSON array (as the take script encodes it) as
 * bytes, when they are not all UTF-8: JSON's syntax is ASCII, and read
 * byte for byte (latin1) every string keeps its bytes.
 */
function _batchBytes(body: Uint8Array): Uint8Array[] {
  const items = JSON.parse(bufferOf(body).toString("latin1")) as string[];
  return items.map((item) => new Uint8Array(Buffer.from(item, "latin1")));
}
