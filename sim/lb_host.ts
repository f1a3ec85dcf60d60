/**
 * The load balancer of the simulation: nginx on the shipped
 * `deploy/nginx.conf`, changed only where it must be: the upstream block
 * lists the app processes' addresses and the logs go to the run's folder.
 * Its main file sizes `worker_connections` for the simulated users.
 *
 * @module
 */
import { nginxArgs, SHIPPED_SITE, withUpstreams, writeNginxConfig } from "../testing/nginx.ts";
import { type ChildProcess, startProcess } from "../testing/serve_process.ts";
import { waitUntil } from "../testing/wait_until.ts";
import { type Host, inHost, run } from "./netns.ts";

/** nginx on the load-balancer host; it can be stopped and started again. */
export interface LoadBalancer extends AsyncDisposable {
  /** `http://<ip>/`: where the clients poll. */
  readonly url: string;
  /** Stops nginx (SIGTERM: a fast shutdown that closes every connection) and starts it again. */
  restart(): Promise<void>;
}

/**
 * The shipped site file for upstreams `addresses`, its logs in `dir`.
 *
 * @example
 * ```ts
 * import { simSite } from "./lb_host.ts";
 * const site = simSite(["10.77.0.12:8885"], "/tmp/x");
 * console.log(site.includes("access_log /tmp/x/longpoll.access.log")); // true
 * ```
 */
export function simSite(addresses: readonly string[], dir: string): string {
  return withUpstreams(SHIPPED_SITE, addresses).replaceAll("/var/log/nginx/", `${dir}/`);
}

/**
 * Starts nginx in `host`'s namespace in front of `upstreams`; resolves once it answers.
 *
 * @example
 * ```ts ignore
 * await using lb = await startLoadBalancer(network.host("lb"), ["10.77.0.12:8885"]);
 * await lb.restart();
 * ```
 */
export async function startLoadBalancer(
  host: Host,
  upstreams: readonly string[],
): Promise<LoadBalancer> {
  const dir = await Deno.makeTempDir({ prefix: "lpsim-nginx-" });
  await writeNginxConfig(dir, simSite(upstreams, dir), 16000);
  const url = `http://${host.ip}/`;
  const start = async () => {
    const nginx = await startProcess({
      command: "ip",
      args: inHost(host, ["nginx", ...nginxArgs(dir, "warn")]),
      env: {},
      ready: /^/,
    });
    await waitUntil(
      async () =>
        (await run(
          inHost(host, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", `${url}healthz`]),
        )
          .catch(() => "")) === "200",
      { what: () => `nginx on ${url}; it printed\n${nginx.output()}`, timeoutMs: 10_000 },
    );
    return nginx;
  };
  let nginx: ChildProcess = await start();
  return {
    url,
    async restart() {
      await nginx.stop("SIGTERM");
      nginx = await start();
    },
    async [Symbol.asyncDispose]() {
      await nginx.stop("SIGTERM");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
