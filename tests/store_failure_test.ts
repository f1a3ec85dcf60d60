/**
 * One rule for a failed store operation: store errors say what went wrong
 * with a kind, and one module (src/store_failure.ts) turns a failure into
 * an answer for the poll, the held poll, publish and presence alike.
 */
import assert from "node:assert/strict";
import { createLongPollHandler, MemoryStore } from "../mod.ts";
import { HttpError } from "../src/http_error.ts";
import { KeyTypeError, MessageEncodingError } from "../src/store/errors.ts";

const SRC = new URL("../src/", import.meta.url);

async function sources(dir: URL, prefix = ""): Promise<[string, string][]> {
  const found: [string, string][] = [];
  for await (const entry of Deno.readDir(dir)) {
    const name = prefix + entry.name;
    if (entry.isDirectory) found.push(...await sources(new URL(`${entry.name}/`, dir), `${name}/`));
    else if (name.endsWith(".ts")) {
      found.push([name, await Deno.readTextFile(new URL(entry.name, dir))]);
    }
  }
  return found;
}

Deno.test("store failure: store errors carry a kind, not an HTTP status of their own", () => {
  const wrongType = new KeyTypeError("pop", "Q/MSGwt", { actual: "string", expected: "list" });
  const encoding = new MessageEncodingError("42");
  assert.deepEqual([wrongType.kind, encoding.kind], ["wrong-type", "encoding"]);
  assert.ok(!(wrongType instanceof HttpError) && !(encoding instanceof HttpError));
});

Deno.test("store failure: the rule is written once, and the store picks no HTTP answer", async () => {
  const files = await sources(SRC);
  const deciding = files.filter(([, text]) => /instanceof HttpError/.test(text)).map(([name]) =>
    name
  );
  // The responder renders any HttpError; only store_failure.ts decides what a failure deserves.
  assert.deepEqual(deciding.sort(), ["responder.ts", "store_failure.ts"]);
  const storeOnHttp = files.filter(([name, text]) =>
    name.startsWith("store/") && /http_error\.ts/.test(text)
  );
  assert.deepEqual(storeOnHttp.map(([name]) => name), []);
});

class _FailingStore extends MemoryStore {
  constructor(readonly failure: () => Error) {
    super();
  }
  override pop(): Promise<string | null> {
    return Promise.reject(this.failure());
  }
}

Deno.test("store failure: a store error of a kind is answered 502, an outage 503", async () => {
  const warnings: string[] = [];
  const logger = {
    info() {},
    warn: (message: string) => warnings.push(message),
    error() {},
  };
  const cases = [
    [
      new MessageEncodingError("42"),
      502,
      null,
      0,
      'Cannot deliver: the message of "42" is not valid UTF-8',
    ],
    [new Error("ECONNREFUSED"), 503, "1", 1, "Cannot poll: the message store is unavailable"],
  ] as const;
  for (const [failure, status, retryAfter, storeErrors, message] of cases) {
    const handler = createLongPollHandler({ store: new _FailingStore(() => failure), logger });
    const response = await handler(new Request("http://x/?uid=42"));
    assert.equal(response.status, status);
    assert.equal(response.headers.get("retry-after"), retryAfter);
    assert.deepEqual(await response.json(), { error: message });
    assert.equal(handler.metrics.storeErrors, storeErrors);
  }
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /^Cannot reach the message store: ECONNREFUSED/);
});
