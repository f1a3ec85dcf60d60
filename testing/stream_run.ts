/**
 * The parts of the stream delivery end-to-end runs (in Chromium through
 * nginx, and on a Redis Cluster in Deno): producers that LPUSH each uid's
 * numbered messages at mixed rates and can pause while Redis restarts, a
 * rolling restart of the server processes, and what every device of a uid
 * must have received.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Prng } from "./prng.ts";
import { sleep, waitUntil } from "./wait_until.ts";

/** Options of {@linkcode startProducers}. */
export interface ProducerOptions {
  /** The uids, each with its own producer. */
  readonly uids: readonly string[];
  /** Messages per uid. */
  readonly count: number;
  /** Pushes `message` onto the list `key` (`Q/MSG<uid>`); throws when it did not. */
  readonly push: (key: string, message: string) => Promise<void>;
}

/** Running producers. */
export interface Producers {
  /** Resolves once every message was pushed. */
  readonly done: Promise<void>;
  /** Holds the next pushes back, and resolves once none is under way (so Redis can stop). */
  pause(): Promise<void>;
  /** Lets the pushes go on. */
  resume(): void;
}

/**
 * The `n`th message of `uid` (from 1), as its producer pushes it.
 *
 * @example
 * ```ts
 * import { producedMessage } from "./stream_run.ts";
 * console.log(producedMessage("u1", 3)); // {"uid":"u1","n":3}
 * ```
 */
export function producedMessage(uid: string, n: number): string {
  return JSON.stringify({ uid, n });
}

/**
 * Starts one producer per uid: each pushes its `count` messages in order,
 * at mixed rates (bursts back to back, quick ones 20–60 ms apart, slow ones
 * 0.8–1.6 s apart: about 25 s for 50), from a fixed seed.
 */
export function startProducers(options: ProducerOptions): Producers {
  let gate: PromiseWithResolvers<void> | undefined;
  let underWay = 0;
  const pushOne = async (key: string, message: string) => {
    for (;;) {
      await gate?.promise;
      if (gate !== undefined) continue;
      underWay++;
      try {
        return await options.push(key, message);
      } finally {
        underWay--;
      }
    }
  };
  const produce = async (uid: string, seed: number) => {
    const prng = new Prng(seed);
    for (let n = 1; n <= options.count; n++) {
      await pushOne(`Q/MSG${uid}`, producedMessage(uid, n));
      await sleep(prng.weighted([
        [0.3, () => 0],
        [0.3, () => prng.range(20, 60)],
        [0.4, () => prng.range(800, 1600)],
      ]));
    }
  };
  const done = Promise.all(options.uids.map((uid, i) => produce(uid, 1000 + i))).then(() => {});
  // Handled here so a failed push fails the test where it awaits `done`, not as a stray rejection.
  done.catch(() => {});
  return {
    done,
    async pause() {
      gate ??= Promise.withResolvers();
      await waitUntil(() => underWay === 0, { what: "the pushes under way", intervalMs: 5 });
    },
    resume() {
      const paused = gate;
      gate = undefined;
      paused?.resolve();
    },
  };
}

/**
 * Restarts `count` server processes one after the other, `gapMs` apart:
 * `restart(index)` stops one (SIGTERM: it drains) and starts it again.
 */
export async function rollingRestart(
  count: number,
  restart: (index: number) => Promise<void>,
  gapMs: number,
): Promise<void> {
  for (let index = 0; index < count; index++) {
    await restart(index);
    await sleep(gapMs);
  }
}

/**
 * What each device of `uid` must have received: every message, once, in
 * order.
 *
 * @example
 * ```ts
 * import { expectedMessages } from "./stream_run.ts";
 * console.log(expectedMessages("u1", 2)); // [ '{"uid":"u1","n":1}', '{"uid":"u1","n":2}' ]
 * ```
 */
export function expectedMessages(uid: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => producedMessage(uid, i + 1));
}

/** A device of an end-to-end run: what it got, as `[message, id]` pairs in arrival order. */
export interface ReceivingDevice {
  /** For failure messages. */
  readonly name: string;
  /** The uid it reads. */
  readonly uid: string;
  /** Each message it handed to the app, with its id. */
  readonly got: readonly (readonly [string, string | undefined])[];
}

/**
 * Waits until every device has `count` messages, waits a second more for a
 * duplicate to show up if one were coming, then asserts that each got
 * exactly {@linkcode expectedMessages}, each id once.
 *
 * @example
 * ```ts
 * import { assertEveryDeviceGotAll, producedMessage } from "./stream_run.ts";
 * const got = [[producedMessage("u1", 1), "1-0"] as const];
 * await assertEveryDeviceGotAll([{ name: "phone", uid: "u1", got }], 1);
 * console.log("every device got every message"); // every device got every message
 * ```
 */
export async function assertEveryDeviceGotAll(
  devices: readonly ReceivingDevice[],
  count: number,
): Promise<void> {
  for (const device of devices) {
    await waitUntil(() => device.got.length >= count, {
      what: () => `${device.name} to get ${count}; it got ${device.got.length}`,
      timeoutMs: 30_000,
      intervalMs: 50,
    });
  }
  await sleep(1_000);
  for (const device of devices) {
    assert.deepEqual(
      device.got.map(([message]) => message),
      expectedMessages(device.uid, count),
      device.name,
    );
    const ids = device.got.map(([, id]) => id);
    assert.deepEqual(ids, [...new Set(ids)], `${device.name}: each id once`);
  }
}
