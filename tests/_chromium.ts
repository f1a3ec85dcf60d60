/**
 * Real headless Chromium for the browser tests: Debian's `/usr/bin/chromium`,
 * driven by npm `playwright-core`.
 */
import { type Browser, chromium } from "playwright-core";

/** Where the tests expect Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** True when {@linkcode CHROMIUM} is there. */
export const haveChromium: boolean = await Deno.stat(CHROMIUM).then(
  (info) => info.isFile,
  () => false,
);

/** Launches headless Chromium, without sandbox, GPU, QUIC or background traffic. */
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
