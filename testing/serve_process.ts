/**
 * Runs real server processes for tests where the network and signals
 * matter: `deploy/cli.ts serve` (what `deno task serve` runs), or any command
 * that prints a line when it listens.
 */
import { CLI_ENTRY } from "./cli_run.ts";
import { freePort } from "./free_port.ts";
import { pollUntil } from "./wait_until.ts";

/**
 * The arguments of `deno` that run `deno task cli serve` with every
 * permission, as the tests start servers.
 *
 * @example
 * ```ts
 * import { SERVE_ARGS } from "./serve_process.ts";
 * console.log(SERVE_ARGS.at(-1)); // serve
 * ```
 */
export const SERVE_ARGS: readonly string[] = [
  "run",
  "--allow-all",
  "--unstable-no-legacy-abort",
  "--unstable-net",
  CLI_ENTRY,
  "serve",
];

/** A running child process that printed its ready line. */
export interface ChildProcess extends AsyncDisposable {
  readonly process: Deno.ChildProcess;
  /** The ready line's match. */
  readonly ready: RegExpExecArray;
  /** Everything the process printed so far, stdout and stderr together. */
  output(): string;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
}

/** Options of {@linkcode startProcess}. */
export interface StartProcessOptions {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** The line that says it is ready, such as `/listening on/`. */
  ready: RegExp;
  /** The working directory. */
  cwd?: string;
}

/**
 * Spawns a command, collects what it prints, and resolves once `ready`
 * matches; fails with its output if it exits or takes over 20 s first.
 * Disposing it kills it.
 */
export async function startProcess(options: StartProcessOptions): Promise<ChildProcess> {
  const process = new Deno.Command(options.command, {
    args: options.args,
    env: options.env,
    cwd: options.cwd,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const collected = Promise.all([collect(process.stdout), collect(process.stderr)]);
  let exited = false;
  const status = process.status.then((status) => {
    exited = true;
    return status;
  });
  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    if (!exited) {
      try {
        process.kill(signal);
      } catch {
        // already gone
      }
    }
    const { code } = await status;
    await collected;
    return code;
  };
  let ready: RegExpExecArray | null = null;
  await pollUntil(() => (ready = options.ready.exec(text)) !== null || exited, {
    timeoutMs: 20_000,
    intervalMs: 20,
  });
  if (ready === null) {
    await stop("SIGKILL");
    throw new Error(
      `Cannot start ${options.command} ${options.args.join(" ")}: it printed\n${text}`,
    );
  }
  return {
    process,
    ready,
    output: () => text,
    stop,
    async [Symbol.asyncDispose]() {
      if (!exited) await stop("SIGKILL");
      else await collected;
    },
  };
}

/** A running `deploy/cli.ts serve`. */
export interface ServeProcess extends ChildProcess {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
}

/** Starts the server with `env` on a free port and waits for its listening line. */
export async function startServe(env: Record<string, string> = {}): Promise<ServeProcess> {
  const port = Number(env.PORT ?? freePort());
  const child = await startProcess({
    command: Deno.execPath(),
    args: [...SERVE_ARGS],
    env: { PORT: String(port), HOST: "127.0.0.1", ...env },
    ready: /listening on/,
  });
  return { ...child, port, origin: `http://127.0.0.1:${port}` };
}
