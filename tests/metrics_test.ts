/** /metrics renders every counter the code keeps: none is counted and never shown. */
import assert from "node:assert/strict";
import { METRIC_SPECS, Metrics } from "../src/metrics.ts";

Deno.test("metrics: every numeric property of Metrics has a spec and is rendered with its value", () => {
  const metrics = new Metrics();
  const numeric = Object.entries(metrics).filter(([, value]) => typeof value === "number");
  assert.ok(numeric.length >= 10, `found ${numeric.length} counters`);
  const specified = new Set(METRIC_SPECS.map((spec) => spec.key as string));
  for (const [key] of numeric) {
    assert.ok(specified.has(key), `"${key}" has no entry in METRIC_SPECS`);
  }
  // A distinct value each, so a spec pointing at the wrong property shows.
  numeric.forEach(([key], i) => ((metrics as unknown as Record<string, number>)[key] = 1000 + i));
  const text = metrics.render();
  for (const spec of METRIC_SPECS) {
    const value = (metrics as unknown as Record<string, number>)[spec.key];
    assert.match(text, new RegExp(`^${spec.name} ${value}$`, "m"), `${spec.key} as ${spec.name}`);
    assert.match(text, new RegExp(`^# TYPE ${spec.name} ${spec.type}$`, "m"));
  }
  assert.equal(new Set(METRIC_SPECS.map((spec) => spec.name)).size, METRIC_SPECS.length);
});

Deno.test("metrics: error answers are rendered by status code", () => {
  const metrics = new Metrics();
  metrics.countError(503);
  metrics.countError(400);
  metrics.countError(503);
  assert.match(
    metrics.render(),
    /^longpoll_errors_total\{code="400"\} 1\nlongpoll_errors_total\{code="503"\} 2$/m,
  );
});
