/**
 * The app processes of the simulation: `deploy/cli.ts serve` (what `deno
 * task serve` runs) inside the app hosts' namespaces, listening on each
 * host's address, two per host by default, and a rolling restart of them.
 *
 * @module
 */
import { type ChildProcess, SERVE_ARGS, startProcess } from "../testing/serve_process.ts";
import { waitUntil } from "../testing/wait_until.ts";
import { type Host, inHost, run } from "./netns.ts";

/** The port of a host's first app process; the next ones take the ports after it. */
export const APP_PORT = 8885;

/** One app process, which can be restarted on its host and port. */
export interface AppProcess {
  readonly host: Host;
  readonly port: number;
  /** `<ip>:<port>`, as nginx's upstream names it. */
  readonly address: string;
  /** The running process (a new one after {@linkcode AppProcesses.restart}). */
  readonly current: ChildProcess;
}

/** The app processes; disposing kills them. */
export interface AppProcesses extends AsyncDisposable {
  readonly all: readonly AppProcess[];
  /** Stops process `index` with SIGTERM (its drain) and starts it again; resolves once it is ready. */
  restart(index: number): Promise<void>;
}

/** Options of {@linkcode startAppProcesses}. */
export interface AppOptions {
  /** The app hosts. */
  hosts: readonly Host[];
  /** Processes per host. @default {2} */
  perHost?: number;
  /** Their environment: REDIS_URL, SIGN_SECRET, AT_LEAST_ONCE…; PORT and HOST are set per process. */
  env: Record<string, string>;
  /**
   * The server's program and arguments, run from the repository's root, such as
   * bench/runtime.ts's `prepareRuntime` gives for `deno task serve:bun`.
   * @default {what `deno task serve` runs}
   */
  command?: readonly string[];
}

/**
 * Starts the app processes and resolves once each answers `/readyz` with 200.
 *
 * @example
 * ```ts ignore
 * await using apps = await startAppProcesses({ hosts, env: { REDIS_URL: "redis://10.77.0.15:7000" } });
 * await apps.restart(0);
 * ```
 */
export async function startAppProcesses(options: AppOptions): Promise<AppProcesses> {
  const slots = options.hosts.flatMap((host) =>
    Array.from({ length: options.perHost ?? 2 }, (_, i) => ({ host, port: APP_PORT + i }))
  );
  const command = options.command ??
    [Deno.execPath(), ...SERVE_ARGS];
  const start = (slot: { host: Host; port: number }) =>
    _startApp(slot.host, command, { ...options.env, PORT: String(slot.port), HOST: slot.host.ip });
  const running: ChildProcess[] = [];
  const dispose = async () => {
    await Promise.all(running.map((process) => process[Symbol.asyncDispose]()));
  };
  try {
    for (const slot of slots) running.push(await start(slot));
  } catch (error) {
    await dispose();
    throw error;
  }
  return {
    all: slots.map((slot, index) => ({
      ...slot,
      address: `${slot.host.ip}:${slot.port}`,
      get current() {
        return running[index];
      },
    })),
    async restart(index) {
      await running[index].stop("SIGTERM");
      running[index] = await start(slots[index]);
    },
    [Symbol.asyncDispose]: dispose,
  };
}

async function _startApp(
  host: Host,
  command: readonly string[],
  env: Record<string, string>,
): Promise<ChildProcess> {
  const process = await startProcess({
    command: "ip",
    args: inHost(host, command),
    cwd: new URL("..", import.meta.url).pathname,
    env: { NO_COLOR: "1", ...env },
    ready: /listening on/,
  });
  const readyz = `http://${env.HOST}:${env.PORT}/readyz`;
  await waitUntil(
    async () =>
      (await run(inHost(host, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", readyz]))
        .catch(() => "")) === "200",
    { what: () => `${readyz}; it printed\n${process.output()}`, timeoutMs: 20_000 },
  );
  return process;
}
