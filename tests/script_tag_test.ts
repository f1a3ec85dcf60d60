/**
 * The drop-in client in real Chromium, through the shipped nginx.conf, on
 * real Redis: a page that has nothing but a `<script src>` tag for the
 * server's `/client.global.js` and a few lines of inline script receives
 * what a producer `LPUSH`es; the same page imports `/client.js` as a
 * module from the poll's origin (CORS).
 *
 * Where Chromium, nginx or redis-server is missing, the test is skipped
 * with one line saying so (`REQUIRE_BROWSER=1` / `REQUIRE_REDIS=1` fail
 * instead).
 */
import assert from "node:assert/strict";
import { checkChromium, chromiumTest, launchChromium, servePage } from "../testing/chromium.ts";
import { signer, startStack } from "../testing/nginx.ts";
import { haveRedis } from "../testing/redis_gate.ts";
import { canRun } from "../testing/can_run.ts";
import { waitUntil } from "../testing/wait_until.ts";
import { CLIENT_FILES } from "../src/server/client_files.ts";

const haveNginx = await canRun("nginx", ["-v"]);
const haveBrowser = checkChromium(1);
if (!haveNginx) {
  if (Deno.env.get("REQUIRE_BROWSER") === "1") {
    throw new Error("Cannot run the script-tag test: REQUIRE_BROWSER=1 but nginx is not found");
  }
  console.log("Skipping 1 script-tag test: nginx not found");
}

chromiumTest(
  "script tag: a page with only <script src=client.global.js> receives messages through nginx",
  !(haveBrowser && haveNginx && haveRedis),
  async () => {
    let api = "";
    const uid = "tag-42";
    const sign = await signer.sign(uid);
    // The page, as a jQuery-era site writes it: one tag, a few lines.
    await using page = servePage(() =>
      `<!doctype html>
<meta charset="utf-8">
<script src="${api}/client.global.js?v=${CLIENT_FILES.version}"></script>
<script>
  window.received = [];
  LongPoll.createLongPollClient({
    url: "${api}/",
    uid: "${uid}",
    sign: "${sign}",
    onMessage: function (message) { received.push(JSON.parse(message)); },
  }).start();
</script>`
    );
    await using stack = await startStack({
      processes: 2,
      env: { CORS_ORIGINS: page.origin, MIN_WAIT: "1", MAX_WAIT: "2" },
    });
    api = stack.public;
    const browser = await launchChromium();
    try {
      const tab = await browser.newPage();
      const pageErrors: string[] = [];
      tab.on("pageerror", (error) => pageErrors.push(String(error)));
      const scripts: { url: string; status: number }[] = [];
      tab.on("response", (response) => {
        if (response.url().includes("/client")) {
          scripts.push({ url: response.url(), status: response.status() });
        }
      });
      await tab.goto(`${page.origin}/`);
      await stack.waitUntilHeld(1);
      await stack.redis.cli("LPUSH", `Q/MSG${uid}`, '{"n":1}');
      await stack.redis.cli("LPUSH", `Q/MSG${uid}`, '{"n":2}');
      let received: unknown[] = [];
      await waitUntil(async () => (received = await tab.evaluate("received")).length >= 2, {
        what: () => `two messages in the page; it has ${JSON.stringify(received)}`,
        timeoutMs: 10_000,
        intervalMs: 25,
      });
      assert.deepEqual(received, [{ n: 1 }, { n: 2 }]);
      assert.deepEqual(scripts, [
        { url: `${api}/client.global.js?v=${CLIENT_FILES.version}`, status: 200 },
      ]);

      // The module, imported across origins: the server's CORS lets it load.
      const exported = await tab.evaluate(
        `import(${JSON.stringify(`${api}/client.js`)}).then((m) => Object.keys(m).sort())`,
      );
      assert.deepEqual(exported, ["createLongPollClient", "exponentialBackoff"]);
      assert.deepEqual(pageErrors, []);
    } finally {
      await browser.close();
    }
  },
);
