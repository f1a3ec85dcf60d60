import assert from "node:assert/strict";
import { isValidCallback, wrapJsonp } from "../src/jsonp.ts";

/** Runs a JSONP script with `name` bound to a spy, and returns what it was called with. */
function runJsonp(script: string, name = "cb"): unknown[] {
  const calls: unknown[] = [];
  // The script must parse as JavaScript: this is what a browser's <script> does with it.
  new Function(name, script)((value: unknown) => calls.push(value));
  return calls;
}

Deno.test("jsonp: plain identifier paths are valid callbacks", () => {
  for (
    const name of ["cb", "_", "$", "jQuery123_456", "app.onMessage", "a.b.c.d", "$.x_1", "A$"]
  ) {
    assert.equal(isValidCallback(name), true, name);
  }
});

Deno.test("jsonp: anything but an identifier path is refused", () => {
  for (
    const name of [
      "",
      "alert(1)//",
      "<script>",
      "a b",
      'x.constructor["call"]',
      "x[0]",
      "1abc",
      "a..b",
      "a.",
      ".a",
      "a-b",
      "a;b",
      "a\nb",
      "é",
      "a.1b",
    ]
  ) {
    assert.equal(isValidCallback(name), false, JSON.stringify(name));
  }
});

Deno.test("jsonp: callbacks are limited to 128 characters", () => {
  assert.equal(isValidCallback("a".repeat(128)), true);
  assert.equal(isValidCallback("a".repeat(129)), false);
  assert.equal(isValidCallback(`a.${"b".repeat(126)}`), true);
  assert.equal(isValidCallback(`a.${"b".repeat(127)}`), false);
});

Deno.test("jsonp: a JSON message is wrapped as it is", () => {
  const script = wrapJsonp("cb", '{"hi":1}');
  assert.equal(script, '/**/cb({"hi":1});');
  assert.deepEqual(runJsonp(script), [{ hi: 1 }]);
});

Deno.test("jsonp: a message that is not JSON is sent as a JSON string", () => {
  for (const message of ["plain text", "{'stop':1}", "", 'a"b\\c', "});alert(1);//"]) {
    const script = wrapJsonp("cb", message);
    assert.equal(script, `/**/cb(${JSON.stringify(message)});`);
    assert.deepEqual(runJsonp(script), [message]);
  }
});

Deno.test("jsonp: U+2028 and U+2029 are escaped, in JSON and in plain text", () => {
  const json = '{"text":"a\u2028b\u2029c"}';
  const script = wrapJsonp("cb", json);
  assert.equal(script, '/**/cb({"text":"a\\u2028b\\u2029c"});');
  assert.ok(!/[\u2028\u2029]/.test(script));
  assert.deepEqual(runJsonp(script), [{ text: "a\u2028b\u2029c" }]);

  const plain = wrapJsonp("cb", "x\u2028y");
  assert.equal(plain, '/**/cb("x\\u2028y");');
  assert.deepEqual(runJsonp(plain), ["x\u2028y"]);
});

Deno.test("jsonp: a dotted callback calls the nested function", () => {
  const script = wrapJsonp("app.on", "[1,2]");
  assert.equal(script, "/**/app.on([1,2]);");
  const calls: unknown[] = [];
  new Function("app", script)({ on: (value: unknown) => calls.push(value) });
  assert.deepEqual(calls, [[1, 2]]);
});

Deno.test("jsonp: a message nested too deep for a script parser goes as a string, and the script parses", () => {
  for (
    const [depth, open, close] of [[512, "[", "]"], [20_000, "[", "]"], [
      20_000,
      '{"a":',
      "}",
    ]] as const
  ) {
    const message = `${open.repeat(depth)}${depth === 512 ? "" : "1"}${close.repeat(depth)}`;
    const script = wrapJsonp("cb", message);
    // Compiled, not run: it must parse as a script.
    new Function(script);
    const passed = script.slice("/**/cb(".length, -2);
    if (depth === 512) assert.equal(passed, message, "512 levels go as a value");
    else assert.equal(JSON.parse(passed), message, `${depth} levels go as a string`);
  }
  // A string that merely holds brackets is not nesting.
  const brackets = JSON.stringify("[".repeat(5000));
  assert.equal(wrapJsonp("cb", brackets), `/**/cb(${brackets});`);
});

Deno.test("jsonp: __proto__ keys are plain properties, so the script parses and sets no prototype", () => {
  const cases: [string, string][] = [
    ['{"__proto__":{"isAdmin":true}}', '{"__proto__":{"isAdmin":true}}'],
    ['{"__proto__":1,"__proto__":2}', '{"__proto__":2}'],
    [
      '{"\\u005f_proto__" : {"isAdmin":true},"x":[{"__proto__":null}]}',
      '{"__proto__":{"isAdmin":true},"x":[{"__proto__":null}]}',
    ],
    ['["__proto__",{"a":"\\"__proto__\\":"}]', '["__proto__",{"a":"\\"__proto__\\":"}]'],
  ];
  for (const [message, expected] of cases) {
    const script = wrapJsonp("cb", message);
    const [value] = runJsonp(script) as [Record<string, unknown>];
    assert.equal(JSON.stringify(value), expected, script);
    assert.equal(
      Object.getPrototypeOf(value),
      Array.isArray(value) ? Array.prototype : Object.prototype,
    );
    assert.equal(value.isAdmin, undefined, script);
  }
});

Deno.test("jsonp: a message without __proto__ is passed as it is, unscanned", () => {
  const message = '{"proto":"__proto","a":{"b":[1,2,3]}}';
  assert.equal(wrapJsonp("cb", message), `/**/cb(${message});`);
});
