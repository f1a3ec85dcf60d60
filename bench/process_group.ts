/**
 * Keeps track of every process the bench starts, so that each one is stopped
 * at the end, after an error, or on Ctrl-C.
 *
 * @module
 */
import { childPids } from "./proc_stats.ts";

/** A process started by the bench. */
export interface Tracked {
  /** What it is, for messages. */
  readonly name: string;
  /** The process. */
  readonly child: Deno.ChildProcess;
  /** Signal asking it to stop before SIGKILL. */
  readonly stopSignal: Deno.Signal;
  /** Kill its children too when it has to be killed (nginx workers). */
  readonly killChildren: boolean;
}

/** Options of {@linkcode ProcessGroup.spawn}. */
export interface SpawnOptions {
  /** What it is, for messages. */
  name: string;
  /** Program to run. */
  command: string;
  /** Its arguments. */
  args: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory. */
  cwd?: string;
  /** Where stdout goes. @default {"null"} */
  stdout?: "piped" | "null" | "inherit";
  /** Where stderr goes. @default {"null"} */
  stderr?: "piped" | "null" | "inherit";
  /** Whether stdin is piped. @default {false} */
  stdin?: boolean;
  /** Signal asking it to stop before SIGKILL. @default {"SIGTERM"} */
  stopSignal?: Deno.Signal;
  /** Kill its children too if it has to be killed. @default {false} */
  killChildren?: boolean;
  /** Append stdout and stderr to this file (overrides `stdout` and `stderr`). */
  logFile?: string;
}

/**
 * The set of processes started by the bench, and of resources it started
 * some other way (a redis-server). `stopAll()` (or `await using`) stops them
 * all, in reverse order of start.
 *
 * @example
 * ```ts
 * import { ProcessGroup } from "./process_group.ts";
 * await using group = new ProcessGroup();
 * const sleeper = group.spawn({ name: "sleep", command: "sleep", args: ["30"] });
 * await group.stop(sleeper, 1_000);
 * ```
 */
export class ProcessGroup implements AsyncDisposable {
  readonly #tracked = new Set<Tracked>();
  readonly #resources: AsyncDisposable[] = [];

  /** Starts a process and tracks it. */
  spawn(options: SpawnOptions): Tracked {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(options.command, {
        args: options.args,
        env: options.env,
        cwd: options.cwd,
        stdin: options.stdin ? "piped" : "null",
        stdout: options.logFile !== undefined ? "piped" : options.stdout ?? "null",
        stderr: options.logFile !== undefined ? "piped" : options.stderr ?? "null",
      }).spawn();
    } catch (error) {
      throw new Error(`Cannot start ${options.name}: ${(error as Error).message}`);
    }
    if (options.logFile !== undefined) {
      const file = Deno.openSync(options.logFile, { append: true, create: true });
      Promise.all([_copy(child.stdout, file), _copy(child.stderr, file)]).finally(() =>
        file.close()
      );
    }
    const tracked: Tracked = {
      name: options.name,
      child,
      stopSignal: options.stopSignal ?? "SIGTERM",
      killChildren: options.killChildren ?? false,
    };
    this.#tracked.add(tracked);
    child.status.finally(() => this.#tracked.delete(tracked));
    return tracked;
  }

  /**
   * Tracks a resource that started its own processes, so that
   * {@linkcode ProcessGroup.stopAll} disposes it too; returns it. Its
   * disposal must be safe to call twice.
   */
  use<T extends AsyncDisposable>(resource: T): T {
    this.#resources.push(resource);
    return resource;
  }

  /** Number of tracked processes still running. */
  get size(): number {
    return this.#tracked.size;
  }

  /**
   * Stops one process: its stop signal, then SIGKILL (with its children if
   * asked) once `graceMs` has passed.
   */
  async stop(tracked: Tracked, graceMs = 3_000): Promise<void> {
    if (!this.#tracked.has(tracked)) return;
    const children = tracked.killChildren ? childPids(tracked.child.pid) : [];
    _signal(tracked.child.pid, tracked.stopSignal);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      tracked.child.status.then(() => false),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(true), graceMs)),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      _signal(tracked.child.pid, "SIGKILL");
      // A killed nginx master leaves its workers behind: kill them too.
      for (const pid of children) _signal(pid, "SIGKILL");
      await tracked.child.status;
    }
    this.#tracked.delete(tracked);
  }

  /** Stops every tracked process, most recent first, then disposes the resources. */
  async stopAll(graceMs = 3_000): Promise<void> {
    const all = [...this.#tracked].reverse();
    await Promise.all(all.map((tracked) => this.stop(tracked, graceMs)));
    const resources = this.#resources.splice(0).reverse();
    for (const resource of resources) await resource[Symbol.asyncDispose]();
  }

  /** Same as {@linkcode ProcessGroup.stopAll}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stopAll();
  }
}

function _signal(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // already gone
  }
}

async function _copy(from: ReadableStream<Uint8Array>, to: Deno.FsFile): Promise<void> {
  try {
    for await (const chunk of from) {
      let written = 0;
      while (written < chunk.length) written += to.writeSync(chunk.subarray(written));
    }
  } catch {
    // the process is gone
  }
}
