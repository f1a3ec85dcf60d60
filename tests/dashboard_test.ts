/**
 * deploy/grafana_dashboard.json is built on the metrics /metrics exports:
 * a query naming a metric that is not exported fails here.
 */
import assert from "node:assert/strict";
import { createLongPollHandler, MemoryStore } from "../mod.ts";
import { waitUntil } from "../testing/wait_until.ts";

const dashboard = JSON.parse(
  await Deno.readTextFile(new URL("../deploy/grafana_dashboard.json", import.meta.url)),
);

/** The series names in Prometheus text: the part before `{` or the value. */
function exportedNames(text: string): Set<string> {
  return new Set(
    text.split("\n").filter((line) => line !== "" && !line.startsWith("#")).map((line) =>
      /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]
    ),
  );
}

Deno.test("dashboard: every query names only metrics that /metrics exports", async () => {
  const store = new MemoryStore();
  const handler = createLongPollHandler({ store, minWait: 5, maxWait: 5 });
  // Move every histogram: a hold woken by a message, and an error answer.
  const held = handler(new Request("http://x/?uid=1"));
  await waitUntil(() => handler.held > 0, { what: "the poll to be held", intervalMs: 1 });
  await store.publish("1", "m");
  await held;
  await handler(new Request("http://x/?uid="));
  const exported = exportedNames(handler.metrics.render());
  const queries: string[] = dashboard.panels.flatMap((panel: { targets: { expr: string }[] }) =>
    panel.targets.map((target) => target.expr)
  );
  assert.ok(queries.length >= 10, `${queries.length} queries`);
  const named = new Set(queries.flatMap((query) => query.match(/\blongpoll_[a-z_]+/g) ?? []));
  for (const name of named) assert.ok(exported.has(name), `"${name}" is not exported`);
  // And every exported family is on the dashboard.
  const families = new Set([...exported].map((name) => name.replace(/_(bucket|sum|count)$/, "")));
  const shown = new Set([...named].map((name) => name.replace(/_(bucket|sum|count)$/, "")));
  for (const family of families) {
    assert.ok(shown.has(family), `"${family}" is not on the dashboard`);
  }
});

Deno.test("dashboard: the histograms count a wake, a hold by its end, and a store round trip", async () => {
  const store = new MemoryStore();
  const handler = createLongPollHandler({ store, minWait: 5, maxWait: 5 });
  const held = handler(new Request("http://x/?uid=1"));
  await waitUntil(() => handler.held > 0, { what: "the poll to be held", intervalMs: 1 });
  await new Promise((resolve) => setTimeout(resolve, 20));
  await store.publish("1", "m");
  await held;
  const text = handler.metrics.render();
  assert.match(text, /^longpoll_wake_latency_seconds_count 1$/m);
  assert.match(text, /^longpoll_hold_duration_seconds_count\{end="message"\} 1$/m);
  assert.match(text, /^longpoll_hold_duration_seconds_bucket\{end="message",le="0.01"\} 0$/m);
  assert.match(text, /^longpoll_hold_duration_seconds_bucket\{end="message",le="0.1"\} 1$/m);
  assert.match(text, /^longpoll_store_round_trip_seconds_count 1$/m);
  assert.match(text, /^# TYPE longpoll_wake_latency_seconds histogram$/m);
});
