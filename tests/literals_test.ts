/**
 * Messages written as JavaScript object literals, the style of the original
 * service's own `{'stop':1}`: delivered as JSON when the server is told to
 * parse them (JSON5), as strings otherwise; never run as script.
 */
import assert from "node:assert/strict";
import JSON5 from "json5";
import { createLongPollHandler, MemoryStore } from "../mod.ts";
import { startServe } from "../testing/serve_process.ts";

const LITERALS: [string, unknown][] = [
  ["{'type':'chat','seq':1}", { type: "chat", seq: 1 }],
  ["{'stop':1}", { stop: 1 }],
  ["{type: 'chat', text: 'it\\'s \"quoted\"', tags: ['a', 'b',],}", {
    type: "chat",
    text: `it's "quoted"`,
    tags: ["a", "b"],
  }],
  ["{'line': 'a\u2028b', hex: 0x10, big: +Infinity}", { line: "a\u2028b", hex: 16, big: null }],
];

async function deliver(parseLiteral: ((text: string) => unknown) | undefined, message: string) {
  const store = new MemoryStore();
  const handler = createLongPollHandler({ store, parseLiteral });
  await store.publish("42", message);
  await store.publish("42", message);
  const plain = await (await handler(new Request("http://x/?uid=42"))).text();
  const jsonp = await (await handler(new Request("http://x/?uid=42&jsonCallback=cb"))).text();
  return { plain, jsonp };
}

Deno.test("literals: with JSON5, JavaScript object literals arrive as JSON, plain and through JSONP", async () => {
  for (const [literal, value] of LITERALS) {
    const { plain, jsonp } = await deliver(JSON5.parse, literal);
    assert.deepEqual(JSON.parse(plain), value, literal);
    assert.ok(jsonp.startsWith("/**/cb(") && jsonp.endsWith(");"), jsonp);
    assert.deepEqual(JSON.parse(jsonp.slice(7, -2)), value, literal);
    new Function(jsonp); // parses as a script
  }
});

Deno.test("literals: without the option they arrive as stored, and as strings through JSONP", async () => {
  const { plain, jsonp } = await deliver(undefined, "{'type':'chat','seq':1}");
  assert.equal(plain, "{'type':'chat','seq':1}");
  assert.equal(jsonp, `/**/cb(${JSON.stringify("{'type':'chat','seq':1}")});`);
});

Deno.test("literals: what JSON5 can't parse is never run as script, and JSON passes unchanged", async () => {
  for (const hostile of ["{'a': alert(1)}", "');alert(1);//", "{a:1}; fetch('/x')", "</script>"]) {
    const { plain, jsonp } = await deliver(JSON5.parse, hostile);
    assert.equal(plain, hostile);
    assert.equal(jsonp, `/**/cb(${JSON.stringify(hostile)});`);
  }
  const json = '{"exact":  "spacing kept"}';
  assert.equal((await deliver(JSON5.parse, json)).plain, json);
});

Deno.test("literals: JS_LITERALS=true turns it on in deno task serve", async () => {
  await using server = await startServe({ JS_LITERALS: "true" });
  const published = await fetch(`${server.origin}/publish?uid=7`, {
    method: "POST",
    body: "{'type':'chat','seq':1}",
  });
  assert.equal(published.status, 202, await published.text());
  const response = await fetch(`${server.origin}/?uid=7&jsonCallback=show`);
  assert.equal(await response.text(), '/**/show({"type":"chat","seq":1});');
});
