/**
 * Batches (`max=<n>`): up to n waiting messages in one answer, as a JSON
 * array, oldest first, taken in one atomic pop; on the in-memory store and
 * on a real Redis.
 */
import assert from "node:assert/strict";
import { createLongPollHandler, type MessageStore } from "../mod.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { memoryFixture, redisFixture, type StoreFixture } from "../testing/store_fixtures.ts";
import { waitUntil } from "../testing/wait_until.ts";

async function batches(store: MessageStore): Promise<void> {
  const handler = createLongPollHandler({ store, maxBatch: 3 });
  for (const message of ['{"n":1}', "two", '{"n":3}', "[4]", "five"]) {
    await store.publish("b", message);
  }
  const first = await handler(new Request("http://x/?uid=b&max=10"));
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(await first.text(), '[{"n":1},"two",{"n":3}]', "capped by maxBatch");
  const second = await handler(new Request("http://x/?uid=b&max=3&jsonCallback=cb"));
  assert.equal(await second.text(), '/**/cb([[4],"five"]);');
  // A held batch poll answers with what arrives, as an array of one.
  const held = handler(new Request("http://x/?uid=b&max=3"));
  await waitUntil(() => handler.held > 0, { what: "the poll to be held", intervalMs: 2 });
  await store.publish("b", "late");
  assert.equal(await (await held).text(), '["late"]');
  assert.equal(handler.metrics.delivered, 3, "one delivery per answer");
  await handler.drain();
}

async function givenBack(store: MessageStore): Promise<void> {
  const handler = createLongPollHandler({ store });
  for (const message of ["a", "b", "c"]) await store.publish("g", message);
  const left = new AbortController();
  left.abort();
  const response = await handler(new Request("http://x/?uid=g&max=3", { signal: left.signal }));
  assert.equal(response.status, 499);
  assert.deepEqual(await store.popMany("g", 10), ["a", "b", "c"], "back whole, in order");
}

async function leasedBatch(store: MessageStore): Promise<void> {
  const handler = createLongPollHandler({ store, atLeastOnce: true, lease: 0.2 });
  for (const message of ["one", '{"n":2}', "three", "four"]) await store.publish("l", message);
  const first = await handler(new Request("http://x/?uid=l&max=3&jsonCallback=cb"));
  const ack = first.headers.get("x-ack-id");
  assert.match(ack ?? "", /^[\w-]+$/);
  assert.equal(
    await first.text(),
    `/**/cb(["one",{"n":2},"three"],{"ack":"${ack}","redelivered":false});`,
    "three messages under one ack id",
  );
  // Not acknowledged: once the lease runs out, the batch comes again whole.
  await new Promise((resolve) => setTimeout(resolve, 250));
  const again = await handler(new Request("http://x/?uid=l&max=3"));
  assert.equal(again.headers.get("x-redelivered"), "true");
  assert.equal(await again.text(), '["one",{"n":2},"three"]');
  const next = await handler(
    new Request(`http://x/?uid=l&max=3&ack=${again.headers.get("x-ack-id")}`),
  );
  assert.equal(next.headers.get("x-redelivered"), "false");
  assert.equal(await next.text(), '["four"]', "acknowledged: the rest comes next");
}

const checks: [string, (store: MessageStore) => Promise<void>][] = [
  ["max=3 takes the three oldest as a JSON array, and the rest next", batches],
  ["a batch taken for a client that left goes back whole, in order", givenBack],
  ["at-least-once: a batch has one ack id and is redelivered as a whole", leasedBatch],
];
const kinds: [string, () => Promise<StoreFixture>, typeof redisTest][] = [
  ["memory", memoryFixture, (name, fn) => ({ name, fn })],
  ["redis", redisFixture, redisTest],
];
for (const [kind, open, wrap] of kinds) {
  for (const [name, check] of checks) {
    Deno.test(wrap(`batch (${kind}): ${name}`, async () => {
      await using fixture = await open();
      await check(fixture.store);
    }));
  }
}

Deno.test("batch: a bad max is refused with 400 and consumes nothing", async () => {
  await using fixture = await memoryFixture();
  const handler = createLongPollHandler({ store: fixture.store });
  await fixture.store.publish("b", "kept");
  for (const max of ["", "0", "-1", "abc", "1.5", "1e3", "9999999999"]) {
    const response = await handler(new Request(`http://x/?uid=b&max=${max}`));
    assert.equal(response.status, 400, max);
    assert.match(
      (await response.json()).error,
      /^Cannot poll: "max" must be a whole number of 1 or more, got ".*"$/,
    );
  }
  assert.equal(await fixture.store.pop("b"), "kept");
});
