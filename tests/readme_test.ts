/** The README is the front door: its settings table must match the code. */
import assert from "node:assert/strict";
import { SETTINGS } from "../src/server/settings.ts";

const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));

Deno.test("readme: the settings table lists every setting with its flag and default", () => {
  const rows = readme.split("\n").filter((line) => /^\|\s*`[A-Z_]+`\s*\|\s*`--/.test(line));
  const documented = rows.map((row) => row.split("|").slice(1, 4).map((cell) => cell.trim()));
  const actual = SETTINGS.map((setting) => [
    `\`${setting.variable}\``,
    `\`--${setting.variable.toLowerCase().replaceAll("_", "-")}\``,
    setting.defaultText === "unset" ? "unset" : `\`${setting.defaultText}\``,
  ]);
  assert.deepEqual(documented, actual);
});

Deno.test("readme: the two set-up commands are there", () => {
  assert.match(readme, /npx -y deno@2\.9\.6 task serve/);
  assert.match(readme, /bash \.ci\/run/);
  const ci = Deno.readTextFileSync(new URL("../.ci/run", import.meta.url));
  const testCommand = "REQUIRE_REDIS=1 REQUIRE_BROWSER=1 deno task test";
  assert.ok(readme.includes(testCommand) && ci.includes(testCommand));
});
