/**
 * Real headless Chromium for the browser tests: Debian's `/usr/bin/chromium`
 * driven by npm `playwright-core`, and pages that load the browser client as
 * `deno task build:client` builds it.
 *
 * Where `/usr/bin/chromium` is missing, {@linkcode haveChromium} is false
 * and the tests say so and skip; `REQUIRE_BROWSER=1` turns that skip into
 * a failure.
 */
import { type Browser, chromium } from "playwright-core";
import { CLIENT_FILES } from "../src/server/client_files.ts";

export const CHROMIUM = "/usr/bin/chromium";

/** True when {@linkcode CHROMIUM} is there. */
export const haveChromium: boolean = await Deno.stat(CHROMIUM).then(
  (info) => info.isFile,
  () => false,
);

/** True when Chromium is there; logs the skip (or throws, with `REQUIRE_BROWSER=1`) when not. */
export function checkChromium(tests: number): boolean {
  if (haveChromium) return true;
  if (Deno.env.get("REQUIRE_BROWSER") === "1") {
    throw new Error(`Cannot run browser tests: REQUIRE_BROWSER=1 but ${CHROMIUM} is not found`);
  }
  console.log(
    `Skipping ${tests} browser tests: ${CHROMIUM} not found ` +
      `(install Debian's chromium, or set REQUIRE_BROWSER=1 to fail instead)`,
  );
  return false;
}

/** Launches headless Chromium, quiet and offline. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A page server: `html` at every path, and the bundled client at `/client.js`. */
export interface PageServer extends AsyncDisposable {
  /** Its origin, such as `http://127.0.0.1:41234`. */
  readonly origin: string;
}

/**
 * Serves `html` and the bundled client on a free loopback port; a function
 * gives the page at each request, for a page that names what starts after
 * its server.
 */
export function servePage(html: string | (() => string)): PageServer {
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) =>
      new URL(request.url).pathname === "/client.js"
        ? new Response(CLIENT_FILES.files["/client.js"].text, {
          headers: { "Content-Type": "text/javascript; charset=utf-8" },
        })
        : new Response(typeof html === "string" ? html : html(), {
          headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" },
        }),
  );
  return {
    origin: `http://127.0.0.1:${http.addr.port}`,
    [Symbol.asyncDispose]: () => http.shutdown(),
  };
}

/** A test in Chromium, skipped where there is none (see {@linkcode checkChromium}). */
export function chromiumTest(name: string, ignore: boolean, fn: () => Promise<void>): void {
  Deno.test({
    name,
    ignore,
    // playwright-core drives Chromium over a pipe from node:child_process,
    // whose handles outlive the test by a tick.
    sanitizeOps: false,
    sanitizeResources: false,
    fn,
  });
}
