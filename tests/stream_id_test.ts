/** Cursors of stream delivery: what `since` and `Last-Event-ID` accept, and their order. */
import assert from "node:assert/strict";
import { compareStreamIds, formatStreamId, parseStreamId, START_ID } from "../src/stream_id.ts";

Deno.test("stream ids: <ms>-<seq> and 0 are read; each is written back as it came", () => {
  for (const text of ["0-0", "1733300000000-0", "5-12", "999999999999999-999999999999999"]) {
    assert.equal(formatStreamId(parseStreamId(text, "since")), text);
  }
  assert.deepEqual(parseStreamId("0", "since"), parseStreamId(START_ID, "since"));
});

Deno.test("stream ids: anything else is refused with a TypeError naming where it came from", () => {
  const bad = [
    "",
    "0-",
    "-0",
    "00-1",
    "1-00",
    "1e3-0",
    "0x1-0",
    "1-2 ",
    "١-٢",
    "1000000000000000-0",
  ];
  for (const source of ["since", "Last-Event-ID"]) {
    for (const text of bad) {
      assert.throws(() => parseStreamId(text, source), {
        name: "TypeError",
        message:
          `Cannot read "${source}": expected a stream id such as "1733300000000-0", or 0 for the start`,
      }, text);
    }
  }
});

Deno.test("stream ids: ordered by milliseconds, then by sequence, as numbers", () => {
  const sorted = ["0-0", "9-5", "9-10", "10-0", "1733300000000-0"].map((id) =>
    parseStreamId(id, "id")
  );
  for (let i = 1; i < sorted.length; i++) {
    assert.ok(compareStreamIds(sorted[i - 1], sorted[i]) < 0);
    assert.ok(compareStreamIds(sorted[i], sorted[i - 1]) > 0);
    assert.equal(compareStreamIds(sorted[i], sorted[i]), 0);
  }
});
