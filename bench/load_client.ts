/**
 * The coordinator side of the load client: starts worker processes
 * (`load_worker.ts`), sends them commands and spreads polls over them and
 * over several 127.0.0.x source addresses.
 *
 * @module
 */
import type { ProcessGroup, Tracked } from "./process_group.ts";
import type {
  CloseReply,
  FireReply,
  FireRunReply,
  OpenReply,
  PublishSpec,
  StatsReply,
  WorkerCommand,
} from "./worker_protocol.ts";

/** Most sockets one worker holds: under the 20,000 open files of a process, with room. */
export const POLLS_PER_WORKER = 18_000;
/** Polls per source address: far under its ~28k ephemeral ports, since bind() slows as they fill. */
export const POLLS_PER_ADDRESS = 2_000;

/** Options of {@linkcode LoadClient.start}. */
export interface LoadClientOptions {
  /** The group that owns the worker processes. */
  group: ProcessGroup;
  /** Number of worker processes. */
  workers: number;
}

/** Where the polls go. */
export interface PollTarget {
  /** Server port on 127.0.0.1. */
  port: number;
  /** Path and query up to the uid, e.g. `/?uid=`. */
  path: string;
  /** Server-Sent Events streams rather than polls. @default {false} */
  stream?: boolean;
}

/** Result of {@linkcode LoadClient.open}. */
export interface OpenResult {
  /** Polls connected and sent. */
  opened: number;
  /** Connects that failed. */
  errors: number;
  /** Time until every worker had made its connects, in ms. */
  ms: number;
}

/** Counters summed over the workers. */
export interface ClientStats {
  /** Polls open and waiting. */
  held: number;
  /** Of those, the ones whose response head has arrived. */
  headers: number;
  /** Connect failures, resets and closes while held. */
  errors: number;
  /** Responses that came unasked, by status. */
  unexpected: Record<string, number>;
}

let _nextAddress = 0;

/**
 * Hands out fresh 127.1.x.y source addresses (never the servers' 127.0.0.1), so that one
 * run's TIME_WAIT ports never block the next run's binds.
 *
 * @example
 * ```ts
 * import { takeSourceAddresses } from "./load_client.ts";
 * console.log(takeSourceAddresses(2)); // [ "127.1.0.2", "127.1.0.3" ]
 * ```
 */
export function takeSourceAddresses(count: number): string[] {
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = _nextAddress++ % 62_500;
    addresses.push(`127.1.${Math.floor(n / 250)}.${(n % 250) + 2}`);
  }
  return addresses;
}

interface _Worker {
  tracked: Tracked;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  /** Polls this worker holds, by index. */
  polls: number;
}

/**
 * Load-client worker processes, driven over JSON lines.
 *
 * @example
 * ```ts ignore
 * import { LoadClient } from "./load_client.ts";
 * import { ProcessGroup } from "./process_group.ts";
 * await using group = new ProcessGroup();
 * const client = await LoadClient.start({ group, workers: 2 });
 * await client.open({ port: 8888, path: "/?uid=" }, 1000, "u");
 * await client.close();
 * ```
 */
export class LoadClient {
  readonly #group: ProcessGroup;
  readonly #workers: _Worker[];
  readonly #pending = new Map<number, (reply: Record<string, unknown>) => void>();
  #rid = 0;
  #batch = 0;

  private constructor(group: ProcessGroup, workers: _Worker[]) {
    this.#group = group;
    this.#workers = workers;
  }

  /** Starts the worker processes. */
  static start(options: LoadClientOptions): LoadClient {
    const script = new URL("./load_worker.ts", import.meta.url).pathname;
    const workers: _Worker[] = [];
    const client = new LoadClient(options.group, workers);
    for (let i = 0; i < options.workers; i++) {
      const tracked = options.group.spawn({
        name: `load worker ${i}`,
        command: Deno.execPath(),
        args: ["run", "--allow-all", script],
        stdin: true,
        stdout: "piped",
        stderr: "inherit",
      });
      workers.push({ tracked, writer: tracked.child.stdin.getWriter(), polls: 0 });
      client.#readReplies(tracked);
    }
    return client;
  }

  /** Number of worker processes. */
  get workers(): number {
    return this.#workers.length;
  }

  /** Polls held per worker, as opened. */
  get pollsPerWorker(): number[] {
    return this.#workers.map((worker) => worker.polls);
  }

  /**
   * Opens `count` more polls on `target`, spread evenly over the workers and
   * over fresh source addresses, with uids `<uidPrefix>w<worker>b<batch>i<n>`.
   */
  async open(target: PollTarget, count: number, uidPrefix: string): Promise<OpenResult> {
    const batch = this.#batch++;
    const addresses = takeSourceAddresses(Math.max(1, Math.ceil(count / POLLS_PER_ADDRESS)));
    const shares = _split(count, this.#workers.length);
    const replies = await Promise.all(this.#workers.map((worker, i) => {
      if (worker.polls + shares[i] > POLLS_PER_WORKER) {
        throw new Error(
          `Cannot open polls: worker ${i} would hold ${
            worker.polls + shares[i]
          }, over ${POLLS_PER_WORKER}`,
        );
      }
      worker.polls += shares[i];
      return this.#send<OpenReply>(i, {
        op: "open",
        host: "127.0.0.1",
        port: target.port,
        path: target.path,
        stream: target.stream,
        uidPrefix: `${uidPrefix}w${i}b${batch}i`,
        count: shares[i],
        localAddresses: addresses,
        maxPending: 128,
        timeoutMs: 120_000,
      });
    }));
    return {
      opened: replies.reduce((sum, reply) => sum + reply.opened, 0),
      errors: replies.reduce((sum, reply) => sum + reply.errors, 0),
      ms: Math.max(...replies.map((reply) => reply.ms)),
    };
  }

  /**
   * Publishes `messages` one after another, each to a held poll picked at
   * random, waiting for each delivery before the next; the worker picked at
   * random (by its share of the polls) runs them all and times each.
   */
  async fire(publish: PublishSpec, messages: string[]): Promise<FireReply[]> {
    const total = this.#workers.reduce((sum, worker) => sum + worker.polls, 0);
    let pick = Math.floor(Math.random() * total);
    let worker = 0;
    while (pick >= this.#workers[worker].polls) pick -= this.#workers[worker++].polls;
    const held = this.#workers[worker].polls;
    const reply = await this.#send<FireRunReply>(worker, {
      op: "fire",
      indexes: messages.map(() => Math.floor(Math.random() * held)),
      messages,
      publish,
      timeoutMs: 10_000,
    });
    return reply.replies;
  }

  /** Counters summed over the workers. */
  async stats(): Promise<ClientStats> {
    const replies = await Promise.all(
      this.#workers.map((_, i) => this.#send<StatsReply>(i, { op: "stats" })),
    );
    const total: ClientStats = { held: 0, headers: 0, errors: 0, unexpected: {} };
    for (const reply of replies) {
      total.held += reply.held;
      total.headers += reply.headers;
      total.errors += reply.errors;
      for (const [status, n] of Object.entries(reply.unexpected)) {
        total.unexpected[status] = (total.unexpected[status] ?? 0) + n;
      }
    }
    return total;
  }

  /** Closes every connection and stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.#workers.map(async (worker, i) => {
      await Promise.race([
        this.#send<CloseReply>(i, { op: "close" }).catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, 5_000)),
      ]);
      await this.#group.stop(worker.tracked, 2_000);
    }));
  }

  async #send<T>(worker: number, command: Record<string, unknown>): Promise<T> {
    const rid = this.#rid++;
    const reply = new Promise<Record<string, unknown>>((resolve) =>
      this.#pending.set(rid, resolve)
    );
    const line = JSON.stringify({ ...command, rid } as WorkerCommand) + "\n";
    await this.#workers[worker].writer.write(new TextEncoder().encode(line));
    const body = await Promise.race([
      reply,
      this.#workers[worker].tracked.child.status.then(() => ({ error: "worker: it exited" })),
    ]);
    if (typeof body.error === "string" && body.error.startsWith("worker: ")) {
      throw new Error(`Cannot run load worker ${worker} command "${command.op}": ${body.error}`);
    }
    return body as T;
  }

  async #readReplies(tracked: Tracked): Promise<void> {
    const decoder = new TextDecoder();
    let text = "";
    try {
      for await (const chunk of tracked.child.stdout) {
        text += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = text.indexOf("\n")) >= 0) {
          const line = text.slice(0, newline);
          text = text.slice(newline + 1);
          if (!line.startsWith("{")) continue;
          const body = JSON.parse(line) as Record<string, unknown>;
          const resolve = this.#pending.get(body.rid as number);
          this.#pending.delete(body.rid as number);
          resolve?.(body);
        }
      }
    } catch {
      // the worker is gone
    }
  }
}

function _split(count: number, parts: number): number[] {
  const shares: number[] = [];
  for (let i = 0; i < parts; i++) {
    shares.push(Math.floor(count / parts) + (i < count % parts ? 1 : 0));
  }
  return shares;
}
