import assert from "node:assert/strict";
import { exponentialBackoff } from "../src/backoff.ts";

Deno.test("backoff: the original schedule doubles from 15 s", () => {
  const backoff = exponentialBackoff({ base: 15_000 });
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6].map(backoff),
    [15_000, 30_000, 60_000, 120_000, 240_000, 480_000, 960_000],
  );
});

Deno.test("backoff: the multiplier sets the growth", () => {
  const backoff = exponentialBackoff({ base: 100, multiplier: 3 });
  assert.deepEqual([0, 1, 2, 3].map(backoff), [100, 300, 900, 2_700]);
  const flat = exponentialBackoff({ base: 250, multiplier: 1 });
  assert.deepEqual([0, 5, 50].map(flat), [250, 250, 250]);
});

Deno.test("backoff: max caps every delay", () => {
  const backoff = exponentialBackoff({ base: 50, max: 2_000 });
  assert.deepEqual([0, 1, 5, 6, 40].map(backoff), [50, 100, 1_600, 2_000, 2_000]);
});

Deno.test("backoff: jitter takes off up to its share, from the injected random", () => {
  const at = (random: number, jitter: number) =>
    exponentialBackoff({ base: 1_000, jitter, random: () => random })(1);
  assert.equal(at(0, 0.5), 2_000);
  assert.equal(at(0.5, 0.5), 1_500);
  assert.equal(at(0.999, 0.5), 2_000 * (1 - 0.5 * 0.999));
  assert.equal(at(0.5, 1), 1_000);
  assert.equal(at(0.25, 1), 1_500);
});

Deno.test("backoff: no jitter never calls random", () => {
  let calls = 0;
  const backoff = exponentialBackoff({ base: 10, random: () => (calls++, 0.5) });
  assert.equal(backoff(2), 40);
  assert.equal(calls, 0);
});

Deno.test("backoff: jitter stays within [delay * (1 - jitter), delay] with Math.random", () => {
  const backoff = exponentialBackoff({ base: 50, max: 2_000, jitter: 0.5 });
  for (let i = 0; i < 1_000; i++) {
    const delay = backoff(3);
    assert.ok(delay > 200 && delay <= 400, `delay ${delay} out of (200, 400]`);
  }
});

Deno.test("backoff: a negative base or a jitter outside [0, 1] is refused", () => {
  assert.throws(() => exponentialBackoff({ base: -1 }), {
    name: "RangeError",
    message: 'Cannot create backoff: "base" must be >= 0, got -1',
  });
  assert.throws(() => exponentialBackoff({ base: NaN }), RangeError);
  assert.throws(() => exponentialBackoff({ base: 1, jitter: 1.5 }), {
    name: "RangeError",
    message: 'Cannot create backoff: "jitter" must be within [0, 1], got 1.5',
  });
  assert.throws(() => exponentialBackoff({ base: 1, jitter: -0.1 }), RangeError);
});

Deno.test("backoff: a delay that grows without bound stops at the longest a timer honours", () => {
  const backoff = exponentialBackoff({ base: 1_000 });
  assert.equal(backoff(21), 2_097_152_000, "below the limit, as computed");
  assert.equal(backoff(22), 2 ** 31 - 1);
  assert.equal(backoff(2_000), 2 ** 31 - 1, "not Infinity, which a timer fires at once");
});
