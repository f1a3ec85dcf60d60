/** The connection cap and MAX_HELD that `deno task serve` derives from the file limit. */
import assert from "node:assert/strict";
import { DEFAULTS } from "../src/option_defaults.ts";
import { connectionLimits } from "../src/server/serve.ts";
import { loadConfig } from "../src/server/config.ts";

const unset = { maxConnections: undefined, maxHeld: undefined };

Deno.test("connection limits: unset, the cap is the file limit minus 128, MAX_HELD 64 less", () => {
  assert.deepEqual(connectionLimits(unset, 1024), { maxConnections: 896, maxHeld: 832 });
  assert.deepEqual(connectionLimits(unset, 256), { maxConnections: 128, maxHeld: 64 });
  assert.deepEqual(connectionLimits(unset, 65536), { maxConnections: 65408, maxHeld: 65344 });
});

Deno.test("connection limits: MAX_HELD stays at the handler's default under a large file limit", () => {
  assert.deepEqual(connectionLimits(unset, 1048576), {
    maxConnections: 1048448,
    maxHeld: DEFAULTS.maxHeld,
  });
});

Deno.test("connection limits: a tiny file limit keeps half for connections, half of that held", () => {
  assert.deepEqual(connectionLimits(unset, 100), { maxConnections: 50, maxHeld: 25 });
  assert.deepEqual(connectionLimits(unset, 1), { maxConnections: 1, maxHeld: 1 });
});

Deno.test("connection limits: an unknown file limit means no cap and the default MAX_HELD", () => {
  assert.deepEqual(connectionLimits(unset, undefined), {
    maxConnections: undefined,
    maxHeld: DEFAULTS.maxHeld,
  });
});

Deno.test("connection limits: what the settings give is kept, the rest derived from it", () => {
  const given = (env: Record<string, string>) => connectionLimits(loadConfig([], env), 1024);
  assert.deepEqual(given({ MAX_CONNECTIONS: "500" }), { maxConnections: 500, maxHeld: 436 });
  assert.deepEqual(given({ MAX_HELD: "2000" }), { maxConnections: 896, maxHeld: 2000 });
  assert.deepEqual(given({ MAX_CONNECTIONS: "5000", MAX_HELD: "7" }), {
    maxConnections: 5000,
    maxHeld: 7,
  });
});
