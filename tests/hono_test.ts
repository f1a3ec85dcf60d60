/**
 * The long-poll handler mounted inside another fetch app: Hono, from npm.
 * The first test is the README's example, run as it is written there.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { createLongPollHandler, MemoryStore } from "../mod.ts";
import { waitUntil } from "../testing/wait_until.ts";

Deno.test("hono: the README example serves polls next to the app's own routes", async () => {
  // --- README example: start ---
  const store = new MemoryStore(); // or new RedisStore({ url }) from "./redis"
  const poll = createLongPollHandler({ store, minWait: 0.05, maxWait: 0.1 });

  const app = new Hono();
  app.get("/", (c) => c.text("the rest of your app"));
  // Hand Hono's raw Request to the handler: its URL, method and abort signal.
  // `all`, so that OPTIONS (CORS) and the handler's own 405 work too.
  app.all("/poll", (c) => poll(c.req.raw));
  // Or give the handler a whole path prefix:
  app.mount("/longpoll", poll);
  // Deno.serve(app.fetch);  // Bun: export default app; Node: serve(app) from @hono/node-server
  // --- README example: end ---

  try {
    assert.equal(await (await app.request("/")).text(), "the rest of your app");

    await store.publish("42", '{"hi":1}');
    const hit = await app.request("/poll?uid=42");
    assert.equal(hit.status, 200);
    assert.equal(hit.headers.get("content-type"), "application/json; charset=utf-8");
    assert.equal(await hit.text(), '{"hi":1}');

    // Held, then woken by a publish.
    const held = app.request("/longpoll/?uid=7&jsonCallback=onMessage");
    await waitUntil(() => poll.held === 1, { what: "the poll to be held", timeoutMs: 5_000 });
    await store.publish("7", '{"n":2}');
    assert.equal(await (await held).text(), '/**/onMessage({"n":2});');

    // The hold runs out with the stop code.
    assert.equal(await (await app.request("/poll?uid=8")).text(), '{"stop":1}');

    // Errors come from the handler, not from Hono.
    const wrongMethod = await app.request("/poll?uid=42", { method: "POST" });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get("allow"), "GET, HEAD, OPTIONS");
    assert.equal((await app.request("/poll")).status, 400);
  } finally {
    await poll.drain();
    await store.close();
  }
});

Deno.test("hono: served by Deno.serve, a client that leaves loses nothing", async () => {
  const store = new MemoryStore();
  const poll = createLongPollHandler({ store, minWait: 30, maxWait: 30 });
  const app = new Hono();
  app.all("/poll", (c) => poll(c.req.raw));
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    app.fetch,
  );
  using client = Deno.createHttpClient({});
  const origin = `http://127.0.0.1:${server.addr.port}`;
  try {
    // The abort reaches the handler through Hono's c.req.raw.signal: the hold
    // ends, so a message published afterwards stays queued.
    const leaving = new AbortController();
    const left = fetch(`${origin}/poll?uid=9`, { client, signal: leaving.signal })
      .then((response) => response.text()).catch(() => "left");
    await waitUntil(() => poll.held === 1, { what: "the poll to be held", timeoutMs: 5_000 });
    leaving.abort();
    assert.equal(await left, "left");
    await waitUntil(() => poll.held === 0, { what: "the poll to end", timeoutMs: 5_000 });
    await store.publish("9", '{"kept":true}');
    const next = await fetch(`${origin}/poll?uid=9`, { client });
    assert.equal(await next.text(), '{"kept":true}');
  } finally {
    await poll.drain();
    await store.close();
  }
});
