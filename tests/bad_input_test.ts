/**
 * Every bad input of issue 2 gets its own test: the exact status, the JSON
 * error body of protocol v1 (`{"error": "<reason>"}`), and proof that
 * nothing queued was lost.
 */
import assert from "node:assert/strict";
import { createServer, type ServerOptions } from "../src/server/app.ts";
import { FakeClock } from "../testing/fake_clock.ts";
import { hmac } from "../testing/hmac.ts";
import { spyRig } from "../testing/spy_handler.ts";

const SECRET = "s3cret";
const TOKEN = "t0ken";
const JSON_TYPE = "application/json; charset=utf-8";

/**
 * A server on a spy store that already holds a message for "42" and for
 * each of `uids`, with a signing secret and a publish token unless told
 * otherwise.
 */
async function setUp(options: Partial<ServerOptions> = {}, uids: string[] = []) {
  const { clock, store, errors, onError } = spyRig();
  const server = createServer({ store, clock, publishToken: TOKEN, onError, ...options });
  const queued = ["42", ...uids];
  for (const uid of queued) await store.publish(uid, `queued for ${uid}`);
  return {
    store,
    server,
    handler: server.handler,
    /** Asserts no pop happened, and every queue still holds its message. */
    assertNothingLost() {
      assert.equal(store.pops.length, 0, "nothing was popped");
      for (const uid of queued) {
        assert.equal(store.size(uid), 1, `the queue of ${JSON.stringify(uid)}`);
      }
      assert.deepEqual(errors, [], "no unexpected error");
    },
  };
}

async function assertError(
  response: Response,
  status: number,
  error: string,
  headers: Record<string, string> = {},
): Promise<void> {
  assert.equal(response.status, status);
  assert.equal(response.headers.get("content-type"), JSON_TYPE);
  assert.equal(response.headers.get("cache-control"), "no-store");
  for (const [name, value] of Object.entries(headers)) {
    assert.equal(response.headers.get(name), value, name);
  }
  assert.deepEqual(await response.json(), { error });
}

function poll(query: string, init?: RequestInit): Request {
  return new Request(`http://x/?${query}`, init);
}

// uid

Deno.test("bad input: uid missing is a 400", async () => {
  const { handler, assertNothingLost } = await setUp({ secret: undefined });
  await assertError(await handler(poll("sign=x")), 400, 'Cannot poll: "uid" is missing');
  assertNothingLost();
});

Deno.test("bad input: uid empty is a 400", async () => {
  const { handler, assertNothingLost } = await setUp({}, [""]);
  await assertError(await handler(poll("uid=&sign=x")), 400, 'Cannot poll: "uid" is empty');
  assertNothingLost();
});

Deno.test("bad input: uid of 257 bytes is a 400, 256 bytes is fine", async () => {
  const long = "a".repeat(257);
  const wide = "é".repeat(129); // 129 characters, 258 bytes
  const { store, handler, assertNothingLost } = await setUp({}, [long, wide]);
  const error = 'Cannot poll: "uid" is longer than 256 bytes';
  await assertError(await handler(poll(`uid=${long}`)), 400, error);
  await assertError(await handler(poll(`uid=${encodeURIComponent(wide)}`)), 400, error);
  assertNothingLost();

  const max = "b".repeat(254) + "é"; // 256 bytes
  await store.publish(max, "fits");
  assert.equal(await (await handler(poll(`uid=${encodeURIComponent(max)}`))).text(), "fits");
});

Deno.test("bad input: uid holding CR is a 400", async () => {
  const { handler, assertNothingLost } = await setUp({}, ["a\rb"]);
  await assertError(
    await handler(poll("uid=a%0Db")),
    400,
    'Cannot poll: "uid" holds control characters',
  );
  assertNothingLost();
});

Deno.test("bad input: uid holding LF is a 400", async () => {
  const { handler, assertNothingLost } = await setUp({}, ["a\nb"]);
  await assertError(
    await handler(poll("uid=a%0Ab")),
    400,
    'Cannot poll: "uid" holds control characters',
  );
  assertNothingLost();
});

Deno.test("bad input: uid holding NUL is a 400", async () => {
  const { handler, assertNothingLost } = await setUp({}, ["a\0b"]);
  await assertError(
    await handler(poll("uid=a%00b")),
    400,
    'Cannot poll: "uid" holds control characters',
  );
  assertNothingLost();
});

Deno.test("bad input: uid holding a C1 control (NEL, CSI) is a 400", async () => {
  const { handler, assertNothingLost } = await setUp({}, ["a\u0085b", "a\u009bb"]);
  for (const uid of ["a%C2%85b", "a%C2%9Bb"]) {
    await assertError(
      await handler(poll(`uid=${uid}`)),
      400,
      'Cannot poll: "uid" holds control characters',
    );
  }
  assertNothingLost();
});

// sign

Deno.test("bad input: sign missing, with a secret set, is a 403", async () => {
  const { handler, assertNothingLost } = await setUp({ secret: SECRET });
  await assertError(
    await handler(poll("uid=42")),
    403,
    'Cannot verify signature: "sign" is missing',
  );
  assertNothingLost();
});

Deno.test("bad input: sign wrong is a 403", async () => {
  const { handler, assertNothingLost } = await setUp({ secret: SECRET });
  await assertError(
    await handler(poll(`uid=42&sign=${hmac(SECRET, "43")}`)),
    403,
    'Cannot verify signature: "sign" does not match',
  );
  assertNothingLost();
});

Deno.test("bad input: sign of the wrong length is a 403", async () => {
  const { handler, assertNothingLost } = await setUp({ secret: SECRET });
  const error = 'Cannot verify signature: "sign" is not 64 hex digits';
  await assertError(
    await handler(poll(`uid=42&sign=${hmac(SECRET, "42").slice(0, 63)}`)),
    403,
    error,
  );
  await assertError(await handler(poll(`uid=42&sign=${hmac(SECRET, "42")}00`)), 403, error);
  assertNothingLost();
});

Deno.test("bad input: sign not hex is a 403", async () => {
  const { handler, assertNothingLost } = await setUp({ secret: SECRET });
  await assertError(
    await handler(poll(`uid=42&sign=${"zq".repeat(32)}`)),
    403,
    'Cannot verify signature: "sign" is not 64 hex digits',
  );
  assertNothingLost();
});

// exp

Deno.test("bad input: exp in the past is a 403, even with its valid sign", async () => {
  const { handler, assertNothingLost } = await setUp({ secret: SECRET });
  const exp = new FakeClock().now() / 1000 - 1;
  await assertError(
    await handler(poll(`uid=42&exp=${exp}&sign=${hmac(SECRET, `42\n${exp}`)}`)),
    403,
    'Cannot verify signature: "exp" has passed',
  );
  assertNothingLost();
});

Deno.test("bad input: exp not a number is a 400", async () => {
  const { handler, assertNothingLost } = await setUp({ secret: SECRET });
  await assertError(
    await handler(poll(`uid=42&exp=tomorrow&sign=${hmac(SECRET, "42:tomorrow")}`)),
    400,
    'Cannot verify signature: "exp" is not a whole number of unix seconds ' +
      "(at most 10 digits, no leading zero)",
  );
  assertNothingLost();
});

Deno.test("bad input: exp with a leading zero is a 400, though its digits are signed", async () => {
  const { handler, assertNothingLost } = await setUp({ secret: SECRET });
  const exp = Math.floor(Date.now() / 1000) + 3600;
  await assertError(
    await handler(poll(`uid=42&exp=0${exp}&sign=${hmac(SECRET, `42\n${exp}`)}`)),
    400,
    'Cannot verify signature: "exp" is not a whole number of unix seconds ' +
      "(at most 10 digits, no leading zero)",
  );
  assertNothingLost();
});

// jsonCallback

const CALLBACK_ERROR =
  'Cannot poll: "jsonCallback" must be a JS identifier path of at most 128 characters';

async function assertBadCallback(callback: string, error = CALLBACK_ERROR): Promise<void> {
  const { handler, assertNothingLost } = await setUp();
  const response = await handler(poll(`uid=42&jsonCallback=${encodeURIComponent(callback)}`));
  // The callback is not trusted, so the error is plain JSON, not a script.
  await assertError(response, 400, error, { "x-content-type-options": "nosniff" });
  assertNothingLost();
}

Deno.test("bad input: jsonCallback alert(1)// is a 400", () => assertBadCallback("alert(1)//"));

Deno.test("bad input: jsonCallback <script> is a 400", () => assertBadCallback("<script>"));

Deno.test("bad input: jsonCallback 'a b' is a 400", () => assertBadCallback("a b"));

Deno.test('bad input: jsonCallback x.constructor["call"] is a 400', () =>
  assertBadCallback('x.constructor["call"]'));

Deno.test("bad input: jsonCallback of 129 characters is a 400", () =>
  assertBadCallback("a".repeat(129)));

for (const word of ["import", "default", "new", "typeof"]) {
  Deno.test(`bad input: jsonCallback starting with the reserved word ${word} is a 400`, () =>
    assertBadCallback(
      `${word}.x`,
      `Cannot poll: "jsonCallback" must not start with the reserved word "${word}"`,
    ));
}

for (
  const [callback, name] of [
    ["eval", "eval"],
    ["Function", "Function"],
    ["window.setTimeout", "setTimeout"],
    ["setInterval", "setInterval"],
    ["document.write", "write"],
    ["document.writeln", "writeln"],
    ["location.assign", "assign"],
    ["app.cb.constructor", "constructor"],
  ]
) {
  Deno.test(`bad input: jsonCallback ${callback}, which runs what it is given, is a 400`, () =>
    assertBadCallback(
      callback,
      `Cannot poll: "jsonCallback" must not name "${name}", which runs, writes or opens what it is given`,
    ));
}

// query, method

Deno.test("bad input: a 10 KB query string is a 414", async () => {
  const { handler, assertNothingLost } = await setUp();
  await assertError(
    await handler(poll(`uid=42&pad=${"x".repeat(10 * 1024)}`)),
    414,
    "Cannot poll: the query is longer than 4096 characters",
  );
  assertNothingLost();
});

for (const method of ["POST", "PUT", "DELETE"]) {
  Deno.test(`bad input: ${method} on the poll route is a 405 with Allow`, async () => {
    const { handler, server, assertNothingLost } = await setUp();
    const init = { method, body: method === "DELETE" ? undefined : "x" };
    const error = `Cannot poll with method "${method}": use GET`;
    const allow = { allow: "GET, HEAD, OPTIONS" };
    await assertError(await handler(poll("uid=42", init)), 405, error, allow);
    await assertError(await server.fetch(poll("uid=42", init)), 405, error, allow);
    assertNothingLost();
  });
}

// POST /publish

function publish(
  query: string,
  body: BodyInit | null,
  token: string | null = TOKEN,
): Request {
  return new Request(`http://x/publish?${query}`, {
    method: "POST",
    body,
    headers: token === null ? {} : { Authorization: `Bearer ${token}` },
  });
}

Deno.test("bad input: POST /publish with no token is a 401", async () => {
  const { server, assertNothingLost } = await setUp();
  await assertError(
    await server.fetch(publish("uid=42", "new", null)),
    401,
    'Cannot publish: "Authorization: Bearer <token>" is missing',
    { "www-authenticate": "Bearer" },
  );
  assertNothingLost();
});

Deno.test("bad input: POST /publish with no token configured is a 403: the route is off", async () => {
  const { server, assertNothingLost } = await setUp({ publishToken: undefined });
  await assertError(
    await server.fetch(publish("uid=42", "new", "anything")),
    403,
    "Cannot publish: the route is off; set PUBLISH_TOKEN to turn it on",
  );
  assertNothingLost();
});

Deno.test("bad input: POST /publish with a wrong token is a 401", async () => {
  const { server, assertNothingLost } = await setUp();
  for (const token of ["wrong", "t0ke", "t0kenx", "T0KEN"]) {
    await assertError(
      await server.fetch(publish("uid=42", "new", token)),
      401,
      "Cannot publish: the bearer token is wrong",
      { "www-authenticate": "Bearer" },
    );
  }
  assertNothingLost();
});

Deno.test("bad input: POST /publish with an empty body is a 400", async () => {
  const { server, assertNothingLost } = await setUp();
  const error = "Cannot publish: the body is empty";
  await assertError(await server.fetch(publish("uid=42", "")), 400, error);
  await assertError(await server.fetch(publish("uid=42", null)), 400, error);
  assertNothingLost();
});

Deno.test("bad input: POST /publish with a 2 MB body is a 413 (default max 64 KB)", async () => {
  const { server, assertNothingLost } = await setUp();
  const error = "Cannot publish: the body is larger than 65536 bytes";
  const big = "x".repeat(2 * 1024 * 1024);
  await assertError(await server.fetch(publish("uid=42", big)), 413, error);
  // The same without a declared length: a stream of 64 KB chunks.
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= 2 * 1024 * 1024) return controller.close();
      controller.enqueue(new Uint8Array(64 * 1024).fill(0x78));
      sent += 64 * 1024;
    },
  });
  const streamed = publish("uid=42", stream);
  assert.equal(streamed.headers.get("content-length"), null);
  await assertError(await server.fetch(streamed), 413, error);
  assert.ok(sent < 2 * 1024 * 1024, "the server stops reading past the maximum");
  assertNothingLost();
});

Deno.test("bad input: POST /publish over a configured maximum is a 413", async () => {
  const { store, server, assertNothingLost } = await setUp({ maxBodyBytes: 1000 });
  await assertError(
    await server.fetch(publish("uid=42", "x".repeat(1001))),
    413,
    "Cannot publish: the body is larger than 1000 bytes",
  );
  assertNothingLost();
  const fits = await server.fetch(publish("uid=7", "y".repeat(1000)));
  assert.equal(fits.status, 202);
  assert.equal(store.size("7"), 1);
});

Deno.test("bad input: POST /publish with uid missing is a 400", async () => {
  const { server, assertNothingLost } = await setUp();
  await assertError(
    await server.fetch(publish("to=42", "new")),
    400,
    'Cannot publish: "uid" is missing',
  );
  assertNothingLost();
});

// JSONP errors

Deno.test("bad input: errors go through JSONP as 200 when the callback is valid, with their status", async () => {
  const { handler, assertNothingLost } = await setUp({ secret: SECRET });
  const cases: [string, number, string][] = [
    ["jsonCallback=cb", 400, 'Cannot poll: "uid" is missing'],
    ["uid=a%0Ab&jsonCallback=cb", 400, 'Cannot poll: "uid" holds control characters'],
    ["uid=42&jsonCallback=cb", 403, 'Cannot verify signature: "sign" is missing'],
    [
      `uid=42&sign=${hmac(SECRET, "43")}&jsonCallback=cb`,
      403,
      'Cannot verify signature: "sign" does not match',
    ],
  ];
  for (const [query, status, error] of cases) {
    const response = await handler(poll(query));
    assert.equal(response.status, 200, query);
    assert.equal(response.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.equal(await response.text(), `/**/cb(${JSON.stringify({ error, status })});`);
  }
  assertNothingLost();
});
