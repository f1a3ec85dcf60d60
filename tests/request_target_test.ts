/** The route and the query come from the request target, never from a Host header. */
import assert from "node:assert/strict";
import { createServer } from "../src/server/app.ts";
import { requestTarget } from "../src/request_target.ts";
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

Deno.test("request target: the plain targets read without the URL parser give what the parser gives", () => {
  const urls = [
    "http://x/",
    "http://x",
    "http://x/?uid=1&sign=a%20b&jsonCallback=jq_1",
    "http://x/publish?uid=42",
    "http://x/a/../b?q",
    "http://x/.?x",
    "http://x/..",
    "http://x/%2e%2e/?uid=1",
    'http://x/?uid="a"',
    "http://x/?uid=é",
    "http://x/?uid=a'b<c>",
    "http://x/?a#b",
    "http://x/?a\\b",
    "http://x/client.js",
    "http://[::1]:8/events?uid=1&since=0-0",
    "http://x/?q=?a/b:c@d",
    "http://x/a b?c d",
    "http://x:99999/?uid=1",
    "http://1.2.3.256/?uid=1",
    "http://x?uid=victim/?uid=1",
    "http://a@b/?uid=1",
  ];
  for (const url of urls) {
    // As a runtime hands it over: the Host and the request line, unparsed.
    const read = () => requestTarget({ url } as Request, { hostChecked: true });
    const parsed = URL.parse(url);
    if (parsed === null) {
      assert.throws(read, /Cannot read the request: the URL ".*" is not valid/, url);
      continue;
    }
    const target = read();
    assert.equal(target.path, parsed.pathname, url);
    assert.equal(
      new URLSearchParams(target.query).toString(),
      new URLSearchParams(parsed.search).toString(),
      url,
    );
  }
});
