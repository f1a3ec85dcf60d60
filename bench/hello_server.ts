/**
 * Starts Deno's hello-world server (`hello_world.ts`) as a target.
 *
 * @module
 */
import { freePort } from "../tests/_support/free_port.ts";
import { pollUntil } from "../tests/_support/wait_until.ts";
import type { ProcessGroup } from "./process_group.ts";
import { type BenchTarget, tail } from "./target.ts";

/**
 * Starts the hello-world server and waits until it listens.
 *
 * @example
 * ```ts ignore
 * import { startHelloServer } from "./hello_server.ts";
 * import { ProcessGroup } from "./process_group.ts";
 * await using group = new ProcessGroup();
 * const hello = await startHelloServer({ group, dir: "/tmp" });
 * console.log(hello.port);
 * ```
 */
export async function startHelloServer(
  options: { group: ProcessGroup; dir: string },
): Promise<BenchTarget> {
  const port = freePort();
  const log = `${options.dir}/hello-${port}.log`;
  const tracked = options.group.spawn({
    name: "hello world",
    command: Deno.execPath(),
    args: ["run", "--allow-net", new URL("./hello_world.ts", import.meta.url).pathname, `${port}`],
    env: { NO_COLOR: "1" },
    logFile: log,
  });
  const stop = () => options.group.stop(tracked);
  if (
    !await pollUntil(() => tail(log, 5).includes("listening on"), {
      timeoutMs: 20_000,
      intervalMs: 25,
    })
  ) {
    await stop();
    throw new Error(`Cannot start hello world: not listening within 20 s; log:\n${tail(log, 20)}`);
  }
  return {
    name: "Deno hello world",
    port,
    pollPath: "/?uid=",
    publish: { kind: "http", port, path: "/?uid=" },
    hitBody: "Hello, world",
    pids: () => [tracked.child.pid],
    heldCount: () => Promise.resolve(undefined),
    stop,
  };
}
