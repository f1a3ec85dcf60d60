/**
 * A uid stays present for `presenceLinger` after its last poll ends: a
 * long-polling client holds no poll between an answer and its next poll.
 */
import assert from "node:assert/strict";
import { createLongPollHandler, MemoryPresence, MemoryStore } from "../mod.ts";
import type { Presence } from "../src/presence.ts";
import { LingeringPresence } from "../src/presence_linger.ts";
import { TimerWheel } from "../src/timer_wheel.ts";
import { FakeClock, until } from "../testing/fake_clock.ts";

/** A MemoryPresence that records every call it gets. */
function recordingPresence(): { presence: Presence; calls: string[] } {
  const inner = new MemoryPresence();
  const calls: string[] = [];
  const presence: Presence = {
    enter(uid, since) {
      calls.push(`enter ${uid} ${since}`);
      inner.enter(uid, since);
    },
    leave(uid) {
      calls.push(`leave ${uid}`);
      inner.leave(uid);
    },
    lookup: (uid) => inner.lookup(uid),
  };
  return { presence, calls };
}

Deno.test("presence linger: an exit waits out the linger; a poll back within it cancels it", async () => {
  const clock = new FakeClock();
  const { presence: inner, calls } = recordingPresence();
  const presence = new LingeringPresence(inner, {
    lingerMs: 1_000,
    wheel: new TimerWheel({ clock }),
  });
  presence.enter("a", 1);
  presence.leave("a");
  await clock.advance(900);
  presence.enter("a", 2);
  presence.leave("a");
  presence.enter("b", 3);
  presence.leave("b");
  await clock.advance(900);
  assert.deepEqual(calls, ["enter a 1", "enter b 3"], "nothing left yet");
  assert.deepEqual(await presence.lookup("a"), { present: true, since: 1 });
  await clock.advance(200);
  assert.deepEqual(calls, ["enter a 1", "enter b 3", "leave a", "leave b"]);
  assert.deepEqual(await presence.lookup("a"), { present: false });
  presence.enter("a", 4);
  assert.deepEqual(await presence.lookup("a"), { present: true, since: 4 });
});

Deno.test("presence linger: flush sends every exit held back, and nothing fires after", async () => {
  const clock = new FakeClock();
  const { presence: inner, calls } = recordingPresence();
  const wheel = new TimerWheel({ clock });
  const presence = new LingeringPresence(inner, { lingerMs: 1_000, wheel });
  presence.enter("a", 1);
  presence.leave("a");
  presence.flush();
  assert.deepEqual(calls, ["enter a 1", "leave a"]);
  assert.equal(wheel.size, 0);
  await clock.advance(2_000);
  assert.deepEqual(calls, ["enter a 1", "leave a"]);
});

Deno.test("presence linger: the handler keeps a uid present between polls, and a drain ends it", async () => {
  const clock = new FakeClock();
  const store = new MemoryStore();
  const presence = new MemoryPresence();
  const handler = createLongPollHandler({ store, clock, presence, minWait: 60, maxWait: 60 });
  const poll = handler(new Request("http://x/?uid=42"));
  await until(() => handler.held === 1, "the poll to be held");
  await store.publish("42", "m");
  assert.equal(await (await poll).text(), "m");
  assert.deepEqual(await presence.lookup("42"), { present: true, since: clock.start });
  await handler.drain();
  assert.deepEqual(await presence.lookup("42"), { present: false }, "right after the drain");
});

Deno.test("presence linger: with presenceLinger 0, a uid leaves with its last poll", async () => {
  const clock = new FakeClock();
  const store = new MemoryStore();
  const presence = new MemoryPresence();
  const handler = createLongPollHandler({ store, clock, presence, presenceLinger: 0 });
  const poll = handler(new Request("http://x/?uid=42"));
  await until(() => handler.held === 1, "the poll to be held");
  await store.publish("42", "m");
  assert.equal(await (await poll).text(), "m");
  assert.deepEqual(await presence.lookup("42"), { present: false });
  await handler.drain();
});
