/**
 * Stream delivery's settings and options: `DELIVERY`, `HISTORY_MAX` and
 * `HISTORY_TTL` read, checked and refused as the other settings are, the
 * handler option `delivery` checked at creation, and `deno task serve`
 * building its store with a history in stream mode.
 */
import assert from "node:assert/strict";
import { createLongPollHandler, MemoryStore } from "../mod.ts";
import { resolveOptions } from "../src/options.ts";
import { loadConfig } from "../src/server/config.ts";
import { runCli } from "../testing/cli_run.ts";
import { freePort } from "../testing/free_port.ts";
import { startServe } from "../testing/serve_process.ts";

const HISTORY = { max: 10, ttlSeconds: 60 };

Deno.test("delivery settings: queue by default, with a history of 1000 messages kept a day", () => {
  const config = loadConfig([], {});
  assert.deepEqual([config.delivery, config.historyMax, config.historyTtl], ["queue", 1000, 86400]);
  const set = loadConfig(["--history-max", "5"], {
    DELIVERY: "stream",
    HISTORY_MAX: "7",
    HISTORY_TTL: "31536000",
  });
  assert.deepEqual([set.delivery, set.historyMax, set.historyTtl], ["stream", 5, 31_536_000]);
});

Deno.test("delivery settings: out of range, unknown, or combined with what stream cannot honour, refused", () => {
  const cases: [Record<string, string>, string][] = [
    [{ DELIVERY: "both" }, 'Cannot read "DELIVERY": expected one of "queue", "stream", got "both"'],
    [
      { HISTORY_MAX: "0" },
      'Cannot read "HISTORY_MAX": expected a whole number from 1 to 1000000, got "0"',
    ],
    [
      { HISTORY_MAX: "1000001" },
      'Cannot read "HISTORY_MAX": expected a whole number from 1 to 1000000, got "1000001"',
    ],
    [
      { HISTORY_TTL: "0" },
      'Cannot read "HISTORY_TTL": expected a whole number from 1 to 31536000, got "0"',
    ],
    [
      { HISTORY_TTL: "1.5" },
      'Cannot read "HISTORY_TTL": expected a whole number from 1 to 31536000, got "1.5"',
    ],
    [
      { DELIVERY: "stream", AT_LEAST_ONCE: "true" },
      'Cannot read "DELIVERY": "stream" cannot be combined with "AT_LEAST_ONCE", as the cursor is the acknowledgement',
    ],
    [
      { DELIVERY: "stream", EARLY_HEADERS: "on" },
      'Cannot read "DELIVERY": "stream" cannot be combined with "EARLY_HEADERS", as an early answer could not carry the cursor',
    ],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => loadConfig([], env), { name: "ConfigError", message });
  }
  const queue = loadConfig([], { AT_LEAST_ONCE: "true", DELIVERY: "queue" });
  assert.equal(queue.atLeastOnce, true, "queue delivery keeps at-least-once");
});

Deno.test("delivery option: queue by default; stream needs a store with a history", () => {
  assert.equal(resolveOptions({ store: new MemoryStore() }).delivery, "queue");
  const store = new MemoryStore({ history: HISTORY });
  assert.equal(resolveOptions({ store, delivery: "stream" }).delivery, "stream");
  assert.throws(() => createLongPollHandler({ store: new MemoryStore(), delivery: "stream" }), {
    name: "TypeError",
    message: 'Cannot deliver "stream": the store keeps no history (create it with "history")',
  });
  const refused: [Parameters<typeof createLongPollHandler>[0], string][] = [
    [
      { store, delivery: "stream", atLeastOnce: true },
      'Cannot create handler: "delivery" "stream" cannot be combined with "atLeastOnce", as the cursor is the acknowledgement',
    ],
    [
      { store, delivery: "stream", earlyHeaders: true },
      'Cannot create handler: "delivery" "stream" cannot be combined with "earlyHeaders", as early headers cannot carry the cursor',
    ],
    [
      { store, delivery: "fanout" as "stream" },
      'Cannot create handler: "delivery" must be "queue" or "stream", got "fanout"',
    ],
  ];
  for (const [options, message] of refused) {
    assert.throws(() => createLongPollHandler(options), { name: "RangeError", message });
  }
});

Deno.test("delivery settings: serve refuses them at start with one line and exit code 2", async () => {
  const envs: Record<string, string>[] = [
    { DELIVERY: "stream", AT_LEAST_ONCE: "true" },
    { DELIVERY: "stream", EARLY_HEADERS: "true" },
    { HISTORY_MAX: "0" },
    { HISTORY_TTL: "31536001" },
  ];
  for (const env of envs) {
    const run = await runCli(["serve"], { env: { ...env, PORT: String(freePort()) } });
    assert.equal(run.code, 2, run.stdout);
    assert.match(run.stderr, /^Cannot read "(DELIVERY|HISTORY_MAX|HISTORY_TTL)": [^\n]+\n$/);
    assert.doesNotMatch(run.stdout + run.stderr, /listening/);
  }
});

Deno.test("delivery settings: serve in stream mode opens its store with the history asked for", async () => {
  await using server = await startServe({
    DELIVERY: "stream",
    HISTORY_MAX: "50",
    HISTORY_TTL: "600",
  });
  assert.match(server.output(), /, delivery: stream \(HISTORY_MAX 50, HISTORY_TTL 600 s\),/);
  await using queue = await startServe();
  assert.match(queue.output(), /, delivery: queue,/);
});
