/**
 * The long-poll handler fits each server's fetch handler as it is, without a
 * cast: `Deno.serve(handler)`, `deno serve`'s `export default { fetch }`,
 * `Bun.serve({ fetch })` and Hono. The usages below are type-checked (the
 * first test runs `deno check` on this very file, so `--no-check` can't skip
 * it), and the ones this runtime has are run against a real listener.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { createLongPollHandler, type LongPollHandler, MemoryStore } from "../mod.ts";

/** `Bun.serve`'s options as bun-types 1.x declares their `fetch`. */
interface _BunServeOptions {
  fetch(
    this: _BunServer,
    request: Request,
    server: _BunServer,
  ): Response | Promise<Response>;
}

/** The parts of Bun's `Server` a fetch handler is given, none of them a `query`. */
interface _BunServer {
  readonly hostname: string;
  readonly port: number;
  readonly pendingRequests: number;
  requestIP(request: Request): { address: string } | null;
  stop(closeActive?: boolean): Promise<void>;
}

/** The usages, each as a user writes it. */
function _usages(poll: LongPollHandler) {
  const bun: _BunServeOptions = { fetch: poll };
  const hono = new Hono();
  hono.get("/poll", (c) => poll(c.req.raw));
  hono.mount("/mounted", poll);
  const denoServeDefault: Deno.ServeDefaultExport = { fetch: poll };
  return {
    bun,
    hono,
    denoServeBare: () => Deno.serve(poll),
    denoServe: (options: Deno.ServeTcpOptions) => Deno.serve(options, poll),
    denoServeDefault,
  };
}

Deno.test("types: deno check accepts the handler in Deno.serve, deno serve, Bun.serve, Hono", async () => {
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", new URL(import.meta.url).pathname],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(success, `deno check ${import.meta.url}:\n${new TextDecoder().decode(stderr)}`);
});

Deno.test("types: the handler answers polls as Deno.serve's, deno serve's and Hono's handler", async () => {
  const store = new MemoryStore();
  const poll = createLongPollHandler({ store, minWait: 0.05, maxWait: 0.05 });
  const { hono, denoServe, denoServeDefault } = _usages(poll);
  await using server = denoServe({ hostname: "127.0.0.1", port: 0, onListen() {} });
  await store.publish("42", '{"via":"Deno.serve"}');
  const served = await fetch(`http://127.0.0.1:${server.addr.port}/?uid=42`);
  assert.equal(await served.text(), '{"via":"Deno.serve"}');

  await store.publish("42", '{"via":"deno serve"}');
  const info = { remoteAddr: server.addr, completed: Promise.resolve() };
  const fetched = await denoServeDefault.fetch(new Request("http://x/?uid=42"), info);
  assert.equal(await fetched.text(), '{"via":"deno serve"}');

  await store.publish("42", '{"via":"hono"}');
  assert.equal(await (await hono.request("/poll?uid=42")).text(), '{"via":"hono"}');
  await store.publish("42", '{"via":"mount"}');
  assert.equal(await (await hono.request("/mounted/?uid=42")).text(), '{"via":"mount"}');
});
