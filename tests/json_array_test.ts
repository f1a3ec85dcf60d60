/** Splitting a batch answer into the exact text of each message. */
import assert from "node:assert/strict";
import { splitJsonArray } from "../src/client/json_array.ts";

Deno.test("json array: each element's exact text, whatever strings and nesting hold", () => {
  const elements = [
    '{"a":"],[}{\\"\\\\"}',
    '"\\\\"',
    '"\\u005d,"',
    "[1,[2,[3]],{}]",
    '{"n":1.50e+3,"big":123456789012345678901234567890}',
    "null",
    "-0",
    "true",
    '"\u2028"',
  ];
  assert.deepEqual(splitJsonArray(`[${elements.join(",")}]`), elements);
  assert.deepEqual(splitJsonArray(` \n[ ${elements.join(" ,\n\t")} ] \r\n`), elements);
  for (const element of elements) {
    assert.deepEqual(JSON.parse(element), JSON.parse(`[${element}]`)[0], element);
  }
});

Deno.test("json array: null for anything but a JSON array", () => {
  for (const text of ['{"stop":1}', '"[1]"', "plain [text]", "[1,]", "[", "", "1"]) {
    assert.equal(splitJsonArray(text), null, text);
  }
  assert.deepEqual(splitJsonArray("[ ]"), []);
});
