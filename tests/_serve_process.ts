/**
 * Runs `deploy/serve.ts` (what `deno task serve` runs) as a real process on
 * a free port, for tests where the network and signals matter.
 */
import { freePort } from "./_redis_server.ts";

const SERVE_ENTRY = new URL("../deploy/serve.ts", import.meta.url).pathname;

/** A running server process. */
export interface ServeProcess extends AsyncDisposable {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  readonly process: Deno.ChildProcess;
  /** Everything the process printed so far, stdout and stderr together. */
  output(): string;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
}

/** Starts the server with `env` on a free port and waits for its listening line. */
export async function startServe(env: Record<string, string> = {}): Promise<ServeProcess> {
  const port = Number(env.PORT ?? freePort());
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-no-legacy-abort", "--unstable-net", SERVE_ENTRY],
    env: { PORT: String(port), HOST: "127.0.0.1", ...env },
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
  const deadline = Date.now() + 20_000;
  while (!text.includes("listening on")) {
    if (exited || Date.now() > deadline) {
      await collected;
      throw new Error(`Cannot start the server: it printed\n${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
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
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    process,
    output: () => text,
    stop,
    async [Symbol.asyncDispose]() {
      if (!exited) await stop("SIGKILL");
      else await collected;
    },
  };
}
