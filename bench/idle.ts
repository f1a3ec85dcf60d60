/**
 * Idle RSS twice: at start-up (1 s after the server listens, as the held
 * scenario reads it) and settled (once the server has sat idle long enough
 * for V8's memory reducer to hand the start-up garbage back, at least 40 s).
 * The servers start with the run and sit idle beside the other scenarios,
 * so the wait costs the run no time.
 *
 * @module
 */
import type { RedisServer } from "../testing/redis_server.ts";
import { sleep } from "../testing/wait_until.ts";
import { totalRssKiB } from "./measure.ts";
import type { ProcessGroup } from "./process_group.ts";
import { startBenchRedis } from "./rig.ts";
import type { BenchTarget } from "./target.ts";

/** Seconds idle before the settled figure is read: V8's memory reducer acts within about 35 s. */
export const SETTLE_SECONDS = 40;

/** Idle RSS of one server. */
export interface IdleResult {
  /** Name of the target. */
  name: string;
  /** RSS 1 s after it listens, in KiB. */
  startupKiB: number;
  /** RSS after sitting idle, in KiB. */
  settledKiB: number;
  /** Seconds it sat idle before the settled figure. */
  settledAfterS: number;
}

/** Servers started idle, read at start-up; {@linkcode IdleWatch.settle} reads them again. */
export class IdleWatch {
  readonly #targets: { target: BenchTarget; startupKiB: number; at: number }[] = [];
  readonly #redis: RedisServer;

  private constructor(redis: RedisServer) {
    this.#redis = redis;
  }

  /**
   * Starts every server on one fresh Redis, one after another, and reads
   * each one's RSS 1 s after it listens.
   *
   * @example
   * ```ts ignore
   * import { IdleWatch } from "./idle.ts";
   * const watch = await IdleWatch.start({ group, dir }, [startOurs, startNchan]);
   * // … other scenarios …
   * console.log(await watch.settle());
   * ```
   */
  static async start(
    options: { group: ProcessGroup; dir: string },
    starts: readonly ((redis: RedisServer) => Promise<BenchTarget>)[],
  ): Promise<IdleWatch> {
    const watch = new IdleWatch(await startBenchRedis(options));
    for (const start of starts) {
      const target = await start(watch.#redis);
      await sleep(1_000);
      watch.#targets.push({ target, startupKiB: totalRssKiB(target.pids()), at: Date.now() });
    }
    return watch;
  }

  /** Waits until each server has sat idle {@linkcode SETTLE_SECONDS}, reads it, stops them all. */
  async settle(): Promise<IdleResult[]> {
    const results: IdleResult[] = [];
    for (const { target, startupKiB, at } of this.#targets) {
      await sleep(Math.max(0, at + SETTLE_SECONDS * 1000 - Date.now()));
      results.push({
        name: target.name,
        startupKiB,
        settledKiB: totalRssKiB(target.pids()),
        settledAfterS: (Date.now() - at) / 1000 + 1,
      });
      await target.stop();
    }
    await this.#redis[Symbol.asyncDispose]();
    return results;
  }
}
