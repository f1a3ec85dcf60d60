/**
 * `deno task serve`: the serve application under Deno (`Deno.serve`).
 *
 * @module
 */
import { runServe } from "../src/server/serve.ts";
import { fileLimit } from "./serve_file_limit.ts";

await runServe({
  runtime: `deno ${Deno.version.deno}`,
  args: Deno.args,
  env: Deno.env.toObject(),
  pid: Deno.pid,
  fileLimit: fileLimit(),
  listen: (fetch, { host, port, reusePort }) =>
    new Promise((resolve) => {
      const server = Deno.serve({
        hostname: host,
        port,
        reusePort,
        onListen: (address) => resolve({ ...address, close: () => server.shutdown() }),
      }, fetch);
    }),
  onSignal: (signal, listener) => Deno.addSignalListener(signal, listener),
  exit: (code) => Deno.exit(code),
});
