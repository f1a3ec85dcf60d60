/** The route and the query come from the request target, never from a Host header. */
import assert from "node:assert/strict";
import { createServer } from "../src/server/app.ts";
import { MemoryStore } from "../mod.ts";
import { freePort } from "../testing/free_port.ts";

Deno.test("request target: a Host holding ? # / @ or spaces is refused with 400, and nothing is popped", async () => {
  const store = new MemoryStore();
  await store.publish("victim", "secret");
  const server = createServer({ store, publishToken: "t" });
  for (const host of ["x?uid=victim", "x#", "x/publish?uid=victim", "a@b", "a b"]) {
    const response = await server.fetch(
      new Request("http://x/?uid=att&jsonCallback=cb", { headers: { host } }),
    );
    assert.equal(response.status, 400, host);
    assert.match(
      (await response.json()).error,
      /^Cannot read the request: the Host header ".*" is malformed$/,
    );
  }
  assert.equal(store.size("victim"), 1);
  for (const host of ["127.0.0.1:8888", "[::1]:80", "push.example.com", "é.test", ""]) {
    const response = await server.fetch(new Request("http://x/healthz", { headers: { host } }));
    assert.equal(response.status, 200, host);
  }
});

Deno.test("request target: over a real socket, a smuggled query in Host neither moves the query nor the route", async () => {
  const store = new MemoryStore();
  await store.publish("victim", "secret");
  const server = createServer({ store, publishToken: "t" });
  const port = await freePort();
  const http = Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, server.fetch);
  try {
    for (const host of ["x?uid=victim&", "x/publish?uid=victim&", "x#"]) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(
        new TextEncoder().encode(
          `GET /?uid=att HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
        ),
      );
      const text = new TextDecoder().decode(
        (await new Response(conn.readable).arrayBuffer()) as ArrayBuffer,
      );
      assert.match(text, /^HTTP\/1\.1 400 /, `${host}: ${text}`);
      assert.ok(!text.includes("secret"), host);
    }
    assert.equal(store.size("victim"), 1);
  } finally {
    await http.shutdown();
  }
});
