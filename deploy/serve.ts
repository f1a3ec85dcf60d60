/**
 * The `serve` command of `deploy/cli.ts` (`deno task serve`): the serve
 * application under Deno (`Deno.serve`), listening again whenever
 * accepting fails (see `serve_deno_listener.ts`).
 *
 * @module
 */
import { runServe } from "../src/server/serve.ts";
import { serveGuarded } from "./serve_deno_listener.ts";
import { fileLimit } from "./serve_file_limit.ts";

/**
 * Serves with the settings of `args` (flags) and the environment until a
 * signal drains it, then exits; `--help` prints the settings.
 *
 * @example
 * ```ts ignore
 * import { serveOnDeno } from "./serve.ts";
 * await serveOnDeno(["--port", "8890"]);
 * ```
 */
export async function serveOnDeno(args: readonly string[]): Promise<void> {
  const limit = fileLimit();
  await runServe({
    runtime: `deno ${Deno.version.deno}`,
    args,
    env: Deno.env.toObject(),
    pid: Deno.pid,
    fileLimit: limit,
    appliesHeaderTimeout: false,
    listen: (fetch, options) =>
      new Promise((resolve) => resolve(serveGuarded(fetch, { ...options, fileLimit: limit }))),
    onSignal: (signal, listener) => Deno.addSignalListener(signal, listener),
    exit: (code) => Deno.exit(code),
  });
}
