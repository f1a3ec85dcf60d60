/**
 * The logger writes one line per call, whatever the text it is given: a
 * message body, a uid or a callback from a request cannot forge a line.
 */
import assert from "node:assert/strict";
import { createLogger } from "../mod.ts";

const FORGED = 'x\nERROR: forged line\r\u0085\u2028 admin=true "quoted"';

function linesOf(format: "text" | "json", log: (logger: ReturnType<typeof createLogger>) => void) {
  const lines: string[] = [];
  log(createLogger({ format, now: () => 0, write: (_level, line) => lines.push(line) }));
  return lines;
}

Deno.test("logger: the lost-message line holds its body on one line, escaped, in text", () => {
  const lines = linesOf(
    "text",
    (logger) =>
      logger.error('Cannot put back a message of "u1": it is lost', {
        uid: "u1",
        message: FORGED,
        error: "Cannot push back: OOM",
      }),
  );
  assert.equal(lines.length, 1);
  const [line] = lines;
  assert.ok(!/[\n\r\u0085\u2028\u2029]/.test(line), JSON.stringify(line));
  assert.equal(
    line,
    'ERROR: Cannot put back a message of "u1": it is lost uid=u1 ' +
      'message="x\\nERROR: forged line\\r\\u0085\\u2028 admin=true \\"quoted\\"" ' +
      'error="Cannot push back: OOM"',
  );
  // The body is all there: the quoted field reads back as it was.
  const quoted = line.slice(line.indexOf("message=") + "message=".length, line.indexOf(" error="));
  assert.equal(JSON.parse(quoted), FORGED);
});

Deno.test("logger: control characters in a message (a uid in it, say) are escaped, in text", () => {
  const lines = linesOf(
    "text",
    (logger) => logger.warn(`Cannot push back a message of "a\nERROR: b\u001b[31m" before closing`),
  );
  assert.deepEqual(lines, [
    'WARNING: Cannot push back a message of "a\\u000aERROR: b\\u001b[31m" before closing',
  ]);
});

Deno.test("logger: JSON lines hold no raw line separators either", () => {
  const lines = linesOf("json", (logger) => logger.error(FORGED, { message: FORGED }));
  assert.equal(lines.length, 1);
  assert.ok(!/[\n\r\u0085\u2028\u2029]/.test(lines[0]), lines[0]);
  const parsed = JSON.parse(lines[0]);
  assert.equal(parsed.msg, FORGED);
  assert.equal(parsed.message, FORGED);
});
