import assert from "node:assert/strict";
import { type TimerTask, TimerWheel } from "../src/timer_wheel.ts";
import { systemClock } from "../src/clock.ts";
import { MAX_TIMER_DELAY_MS } from "../src/timer_delay.ts";
import { FakeClock } from "../testing/fake_clock.ts";
import { sleep } from "../testing/wait_until.ts";

function setUp(resolution?: number) {
  const clock = new FakeClock();
  const wheel = new TimerWheel({ clock, resolution });
  const fired: { name: string; at: number }[] = [];
  const task = (name: string): TimerTask => ({
    onTimer: () => fired.push({ name, at: clock.elapsed }),
  });
  return { clock, wheel, fired, task };
}

Deno.test("timer wheel: a task fires once, at its delay", async () => {
  const { clock, wheel, fired, task } = setUp();
  wheel.schedule(task("a"), 15_000);
  assert.equal(wheel.size, 1);
  await clock.advance(14_999);
  assert.deepEqual(fired, []);
  await clock.advance(1);
  assert.deepEqual(fired, [{ name: "a", at: 15_000 }]);
  assert.equal(wheel.size, 0);
  await clock.advance(100_000);
  assert.equal(fired.length, 1);
});

Deno.test("timer wheel: tasks fire in order of due time, whatever the order scheduled", async () => {
  const { clock, wheel, fired, task } = setUp();
  wheel.schedule(task("c"), 300);
  wheel.schedule(task("a"), 100);
  wheel.schedule(task("d"), 400);
  wheel.schedule(task("b"), 200);
  await clock.advance(1_000);
  assert.deepEqual(fired, [
    { name: "a", at: 100 },
    { name: "b", at: 200 },
    { name: "c", at: 300 },
    { name: "d", at: 400 },
  ]);
});

Deno.test("timer wheel: many tasks share one native timer", () => {
  const { clock, wheel, task } = setUp();
  for (let i = 0; i < 1_000; i++) wheel.schedule(task(`t${i}`), 1_000 + i * 7);
  assert.equal(wheel.size, 1_000);
  assert.equal(clock.pending, 1);
  assert.equal(clock.nextDue, clock.start + 1_000);
  wheel.clear();
});

Deno.test("timer wheel: an earlier task re-arms the native timer", async () => {
  const { clock, wheel, fired, task } = setUp();
  wheel.schedule(task("late"), 5_000);
  assert.equal(clock.nextDue, clock.start + 5_000);
  wheel.schedule(task("early"), 50);
  assert.equal(clock.pending, 1);
  assert.equal(clock.nextDue, clock.start + 50);
  await clock.advance(5_000);
  assert.deepEqual(fired.map((f) => f.name), ["early", "late"]);
});

Deno.test("timer wheel: delays round up to the slot, never fire early", async () => {
  const { clock, wheel, fired, task } = setUp(10);
  wheel.schedule(task("a"), 15);
  wheel.schedule(task("b"), 20);
  await clock.advance(19);
  assert.deepEqual(fired, []);
  await clock.advance(1);
  assert.deepEqual(fired, [{ name: "a", at: 20 }, { name: "b", at: 20 }]);
});

Deno.test("timer wheel: a cancelled task does not fire, others in its slot do", async () => {
  const { clock, wheel, fired, task } = setUp();
  const a = task("a");
  wheel.schedule(a, 100);
  wheel.schedule(task("b"), 100);
  wheel.cancel(a);
  assert.equal(wheel.size, 1);
  await clock.advance(200);
  assert.deepEqual(fired.map((f) => f.name), ["b"]);
  wheel.cancel(a); // cancelling again is harmless
});

Deno.test("timer wheel: cancelling the last task releases the native timer", () => {
  const { clock, wheel, task } = setUp();
  const a = task("a");
  const b = task("b");
  wheel.schedule(a, 15_000);
  wheel.schedule(b, 30_000);
  wheel.cancel(b);
  assert.equal(clock.pending, 1);
  wheel.cancel(a);
  assert.equal(wheel.size, 0);
  assert.equal(clock.pending, 0);
});

Deno.test("timer wheel: rescheduling a task moves it instead of adding it twice", async () => {
  const { clock, wheel, fired, task } = setUp();
  const a = task("a");
  wheel.schedule(a, 100);
  wheel.schedule(a, 500);
  assert.equal(wheel.size, 1);
  await clock.advance(1_000);
  assert.deepEqual(fired, [{ name: "a", at: 500 }]);
});

Deno.test("timer wheel: a task that reschedules itself with 0 ms fires in the next slot, not in a loop", async () => {
  const { clock, wheel } = setUp(10);
  const times: number[] = [];
  const task: TimerTask = {
    onTimer() {
      times.push(clock.elapsed);
      if (times.length < 3) wheel.schedule(task, 0);
    },
  };
  wheel.schedule(task, 0);
  await clock.advance(100);
  assert.deepEqual(times, [10, 20, 30]);
});

Deno.test("timer wheel: a task scheduled from onTimer inside the window fires in order", async () => {
  const { clock, wheel, fired, task } = setUp();
  const follow = task("follow");
  wheel.schedule({ onTimer: () => wheel.schedule(follow, 100) }, 100);
  wheel.schedule(task("other"), 150);
  await clock.advance(1_000);
  assert.deepEqual(fired, [{ name: "other", at: 150 }, { name: "follow", at: 200 }]);
});

Deno.test("timer wheel: clear drops every task and the native timer", async () => {
  const { clock, wheel, fired, task } = setUp();
  wheel.schedule(task("a"), 100);
  wheel.schedule(task("b"), 200);
  wheel.clear();
  assert.equal(wheel.size, 0);
  assert.equal(clock.pending, 0);
  await clock.advance(1_000);
  assert.equal(fired.length, 0);
  wheel.schedule(task("c"), 100);
  await clock.advance(100);
  assert.deepEqual(fired.map((f) => f.name), ["c"]);
});

Deno.test("timer wheel: a negative delay fires in the next slot", async () => {
  const { clock, wheel, fired, task } = setUp(10);
  wheel.schedule(task("a"), -50);
  await clock.advance(10);
  assert.deepEqual(fired, [{ name: "a", at: 10 }]);
});

/** The real clock, counting the native timers it arms. */
function countingSystemClock() {
  const counted = {
    armed: 0,
    now: () => systemClock.now(),
    setTimeout: (callback: () => void, ms: number) => {
      counted.armed++;
      return systemClock.setTimeout(callback, ms);
    },
    clearTimeout: (id: unknown) => systemClock.clearTimeout(id),
  };
  return counted;
}

Deno.test("timer wheel: a task 30 days away arms one native timer and does not spin", async () => {
  // The runtime fires a timer of more than 2^31 - 1 ms after 1 ms: armed
  // for 30 days, an idle wheel would wake up and re-arm every millisecond.
  const clock = countingSystemClock();
  const wheel = new TimerWheel({ clock });
  let fired = 0;
  wheel.schedule({ onTimer: () => fired++ }, 30 * 86_400_000);
  await sleep(200);
  wheel.clear();
  assert.equal(fired, 0, "a task 30 days away fired");
  assert.equal(clock.armed, 1, `the idle wheel woke up ${clock.armed - 1} times in 200 ms`);
});

Deno.test("timer wheel: a task beyond the longest native timer fires on time, in two steps", async () => {
  const { clock, wheel, fired, task } = setUp();
  const thirtyDays = 30 * 86_400_000;
  wheel.schedule(task("far"), thirtyDays);
  assert.equal(clock.nextDue! - clock.now(), MAX_TIMER_DELAY_MS, "armed at most 2^31 - 1 ms ahead");
  await clock.advance(MAX_TIMER_DELAY_MS);
  assert.deepEqual(fired, [], "the early wake-up fired nothing");
  assert.equal(clock.pending, 1, "and armed again");
  await clock.advance(thirtyDays - MAX_TIMER_DELAY_MS - 1);
  assert.deepEqual(fired, []);
  await clock.advance(1);
  assert.deepEqual(fired, [{ name: "far", at: thirtyDays }]);
});
