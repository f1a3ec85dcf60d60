/**
 * What the Bun and Node entries share of a `ServeHost`: Node's `process`
 * for the arguments, environment, pid, signals and exit, and the file limit.
 *
 * @module
 */
import process from "node:process";
import type { ServeHost } from "../src/server/serve.ts";
import { fileLimit } from "./serve_file_limit.ts";

/** Everything of a `ServeHost` but how it listens, from Node's `process`. */
export function processHost(runtime: string): Omit<ServeHost, "listen" | "appliesHeaderTimeout"> {
  return {
    runtime,
    args: process.argv.slice(2),
    env: process.env,
    pid: process.pid,
    fileLimit: fileLimit(),
    onSignal: (signal, listener) => process.on(signal, listener),
    exit: (code) => process.exit(code),
  };
}
