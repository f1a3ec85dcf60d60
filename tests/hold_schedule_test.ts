/**
 * The original service's hold schedule, run on a fake clock: every poll time is asserted
 * exactly, and a whole 945 s hold takes milliseconds.
 */
import assert from "node:assert/strict";
import type { LongPollHandler } from "../mod.ts";
import { type FakeClock, until } from "../testing/fake_clock.ts";
import { spyHandler as setUp } from "../testing/spy_handler.ts";

const SECOND = 1000;

/** Starts a poll and records when (fake ms since start) its response came. */
function poll(handler: LongPollHandler, clock: FakeClock, uid: string) {
  return pollWith(handler, clock, `uid=${uid}`);
}

/** Starts a poll with `query` and records when its response came. */
function pollWith(handler: LongPollHandler, clock: FakeClock, query: string) {
  const result: { response?: Response; at?: number } = {};
  const done = handler(new Request(`http://x/?${query}`)).then((response) => {
    result.response = response;
    result.at = clock.elapsed;
    return response;
  });
  return { result, done };
}

Deno.test("hold: 15/900 polls at 0, 15, 45, 105, 225, 465, 945 s, then the stop code at 945 s", async () => {
  const { clock, store, handler } = setUp();
  const { result, done } = poll(handler, clock, "42");
  await until(() => handler.held === 1, "the poll being held");
  await clock.runUntil(() => result.response !== undefined, { what: "the stop code" });
  const response = await done;

  assert.deepEqual(
    store.popTimes("42"),
    [0, 15, 45, 105, 225, 465, 945].map((s) => s * SECOND),
  );
  assert.equal(result.at, 945 * SECOND);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), '{"stop":1}');
  assert.equal(response.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(handler.held, 0);
  assert.equal(handler.metrics.timeouts, 1);
  assert.equal(handler.metrics.delivered, 0);
  assert.equal(clock.pending, 0, "no timer is left behind");
  assert.equal(store.watching, 0, "no waiter is left behind");
});

Deno.test("hold: nothing is answered a moment before 945 s", async () => {
  const { clock, store, handler } = setUp();
  const { result, done } = poll(handler, clock, "42");
  await until(() => handler.held === 1, "the poll being held");
  await clock.advance(945 * SECOND - 1);
  assert.equal(result.response, undefined);
  assert.equal(store.popTimes("42").length, 6);
  assert.equal(handler.held, 1);
  await clock.advance(1);
  assert.equal(await (await done).text(), '{"stop":1}');
  assert.equal(store.popTimes("42").length, 7);
});

Deno.test("hold: a message published mid-wait is delivered at once, not at the next poll", async () => {
  const { clock, store, handler } = setUp();
  const { result, done } = poll(handler, clock, "42");
  await until(() => handler.held === 1, "the poll being held");
  await clock.advance(20 * SECOND);
  assert.deepEqual(store.popTimes("42"), [0, 15 * SECOND]);
  assert.equal(result.response, undefined);

  await store.publish("42", '{"hi":1}');
  await until(() => result.response !== undefined, "the delivery");
  const response = await done;

  assert.equal(result.at, 20 * SECOND, "delivered at the publish, without moving the clock");
  assert.deepEqual(store.popTimes("42"), [0, 15 * SECOND, 20 * SECOND]);
  assert.equal(await response.text(), '{"hi":1}');
  assert.equal(store.size("42"), 0);
  assert.equal(handler.metrics.delivered, 1);
  assert.equal(handler.held, 0);
  assert.equal(clock.pending, 0, "the poll at 45 s is cancelled");
  assert.equal(store.watching, 0);
});

Deno.test("hold: a message for another uid does not wake the poll", async () => {
  const { clock, store, handler } = setUp();
  const { result } = poll(handler, clock, "42");
  await until(() => handler.held === 1, "the poll being held");
  await store.publish("7", "not yours");
  await clock.advance(1 * SECOND);
  assert.deepEqual(store.popTimes("42"), [0]);
  assert.equal(result.response, undefined);
  assert.equal(store.size("7"), 1);
  await handler.drain();
});

Deno.test("hold: MIN_WAIT 0.2 / MAX_WAIT 0.5 polls at 0, 0.2, 0.6 s and stops at 0.6 s", async () => {
  const { clock, store, handler } = setUp({ minWait: 0.2, maxWait: 0.5 });
  const { result, done } = poll(handler, clock, "42");
  await until(() => handler.held === 1, "the poll being held");
  await clock.runUntil(() => result.response !== undefined, { what: "the stop code" });
  assert.deepEqual(store.popTimes("42"), [0, 200, 600]);
  assert.equal(result.at, 600);
  assert.equal(await (await done).text(), '{"stop":1}');
  assert.equal(clock.pending, 0);
});

Deno.test("hold: a message waiting at the start is answered by the first pop, without a timer", async () => {
  const { clock, store, handler } = setUp();
  await store.publish("42", "first");
  const response = await handler(new Request("http://x/?uid=42"));
  assert.equal(await response.text(), "first");
  assert.deepEqual(store.popTimes("42"), [0]);
  assert.equal(clock.pending, 0);
  assert.equal(handler.metrics.held, 0);
});

Deno.test("hold: a message arriving between scheduled polls of a late stage comes at once", async () => {
  const { clock, store, handler } = setUp();
  const { result, done } = poll(handler, clock, "42");
  await until(() => handler.held === 1, "the poll being held");
  await clock.advance(500 * SECOND);
  assert.deepEqual(store.popTimes("42"), [0, 15, 45, 105, 225, 465].map((s) => s * SECOND));
  await store.publish("42", "late");
  await until(() => result.response !== undefined, "the delivery");
  assert.equal(result.at, 500 * SECOND);
  assert.equal(await (await done).text(), "late");
});

Deno.test("hold: a custom stop code and MAX_WAIT 0 answer after the first empty pop", async () => {
  const { store, handler } = setUp({ maxWait: 0, stopCode: "STOP" });
  const response = await handler(new Request("http://x/?uid=42"));
  assert.equal(await response.text(), "STOP");
  assert.deepEqual(store.popTimes("42"), [0]);
  assert.equal(handler.metrics.timeouts, 1);
});

Deno.test("hold: wait=20 answers the stop code at 20 s, after the pops at 0 and 15 s", async () => {
  const { clock, store, handler } = setUp();
  const { result, done } = pollWith(handler, clock, "uid=42&wait=20");
  await until(() => handler.held === 1, "the poll being held");
  await clock.advance(20 * SECOND - 1);
  assert.equal(result.response, undefined, "not a moment before the client's wait");
  await clock.advance(1);
  const response = await done;
  assert.equal(result.at, 20 * SECOND);
  assert.equal(await response.text(), '{"stop":1}');
  assert.deepEqual(store.popTimes("42"), [0, 15 * SECOND]);
  assert.equal(handler.metrics.timeouts, 1);
  assert.equal(clock.pending, 0, "no timer is left behind");
});

Deno.test("hold: a wait longer than the schedule changes nothing; a message still comes at once", async () => {
  const { clock, store, handler } = setUp({ minWait: 1, maxWait: 2 });
  const long = pollWith(handler, clock, "uid=a&wait=3600");
  await until(() => handler.held === 1, "the poll being held");
  await clock.runUntil(() => long.result.response !== undefined, { what: "the stop code" });
  assert.equal(long.result.at, 3 * SECOND, "the schedule's own end: polls at 0, 1, 3 s");
  const short = pollWith(handler, clock, "uid=b&wait=0.5&jsonCallback=cb");
  await until(() => handler.held === 1, "the second poll being held");
  await store.publish("b", '{"hi":1}');
  assert.equal(await (await short.done).text(), '/**/cb({"hi":1});');
});

Deno.test("hold: a bad wait is refused with 400 and consumes nothing", async () => {
  const { store, handler } = setUp();
  await store.publish("42", "kept");
  for (const wait of ["", "0", "-1", "abc", "1e3", "0x10", "9999999", "1.2345", " 5"]) {
    const response = await handler(
      new Request(`http://x/?uid=42&wait=${encodeURIComponent(wait)}`),
    );
    assert.equal(response.status, 400, JSON.stringify(wait));
    assert.match(
      (await response.json()).error,
      /^Cannot poll: "wait" must be a number of seconds above 0, got ".*"$/,
    );
  }
  assert.equal(store.size("42"), 1);
});
