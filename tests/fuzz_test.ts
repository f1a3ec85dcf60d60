/**
 * Fuzz tests of the server's routes (issue 4): thousands of random requests
 * through `createServer(...).fetch`, and a few hundred raw byte streams
 * through a real `Deno.serve`. Whatever arrives, the server must never
 * answer 500 or crash, never send a JSONP callback outside the allowed
 * pattern, always send `Cache-Control: no-store` and `{"error": string}`
 * error bodies, and never lose a message published before or during the run.
 *
 * The requests come from a seeded PRNG. The seed is printed; rerun a failure
 * with `FUZZ_SEED=<seed> deno test --allow-all tests/fuzz_test.ts`.
 */
import assert from "node:assert/strict";
import { createServer, type Server, type ServerOptions } from "../src/server/app.ts";
import { MemoryStore } from "../src/store/memory.ts";
import { concatBytes, parseHttpResponse } from "../testing/http_response.ts";
import { Prng } from "../testing/prng.ts";

const SEED = _seedFromEnv();
const FETCH_REQUESTS = 5000;
const RAW_REQUESTS = 400;
const TOKEN = "fuzz-token";
const SECRET = "fuzz-secret";
const ALLOWED = ["http://allowed.test", "https://also-allowed.test:8443"];
const STOP = '{"stop":1}';
/** The JSONP stop answer's second argument, after its first. */
const STOP_MARK = ',{"stop":true}';
const MAX_BODY = 4096;
/** The callback pattern of the protocol, written out again rather than imported. */
const CALLBACK_PATTERN = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;
/** Callbacks of that pattern the protocol refuses: a reserved word first, or a name that evaluates. */
const REFUSED_CALLBACK = /^(import|new|this)(\.|$)|(^|\.)(eval|constructor|write)(\.|$)/;
const STATUSES = new Set([200, 202, 204, 400, 401, 403, 404, 405, 409, 413, 414, 503]);
const ENCODER = new TextEncoder();

console.log(`fuzz seed: ${SEED} (rerun with FUZZ_SEED=${SEED})`);

Deno.test(`fuzz: ${FETCH_REQUESTS} random requests through createServer().fetch (seed ${SEED})`, async () => {
  const rng = new Prng(SEED);
  const store = new _SlowStore();
  const run = new _Run("fetch", store);
  await run.seedMessages(30, 4);
  const signatures = await _Signatures.create(run.seedUids);
  const servers = {
    // A: no signatures, late headers, no capacity limit.
    A: createServer(run.serverOptions({ corsOrigins: ALLOWED })),
    // B: signatures, early headers (streamed body), tight limits.
    B: createServer(run.serverOptions({
      corsOrigins: [ALLOWED[0]],
      secret: SECRET,
      earlyHeaders: true,
      maxHeld: 4,
      maxQueryLength: 1024,
      maxUidBytes: 64,
    })),
  };
  const specs = Array.from(
    { length: FETCH_REQUESTS },
    (_, i) => _fetchSpec(rng, i, run, signatures),
  );

  await _pool(specs, 64, async (spec) => {
    const server = servers[spec.server];
    let request: Request;
    try {
      request = spec.build();
    } catch {
      run.count("unsendable (Request constructor refused it)");
      return;
    }
    const view = _view(request);
    run.registerPublish(spec.ledger, view);
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (spec.abortAfterMs !== undefined) {
      timer = setTimeout(() => abort.abort(), spec.abortAfterMs);
    }
    try {
      const answer = await _deadline(
        (async () => {
          const response = await server.fetch(new Request(request, { signal: abort.signal }));
          return { response, body: await response.text() };
        })(),
        5000,
      );
      if (answer === "timeout") {
        abort.abort();
        return run.fail(spec.label, "no answer within 5 s");
      }
      const { response, body } = answer;
      run.check(spec.label, spec.server === "B", view, {
        status: response.status,
        headers: response.headers,
        body,
        bodyRead: request.method !== "HEAD",
        aborted: abort.signal.aborted,
      });
      run.settlePublish(spec.ledger, response.status);
    } catch (error) {
      run.fail(spec.label, `fetch threw ${error}`);
    } finally {
      clearTimeout(timer);
    }
  });

  await Promise.all([servers.A.drain(), servers.B.drain()]);
  await store.settled();
  run.tally.set("messages pushed back (client left mid-pop)", store.pushedBack);
  await run.finish();
  await store.close();
});

Deno.test(`fuzz: ${RAW_REQUESTS} raw TCP requests through Deno.serve (seed ${SEED})`, async () => {
  const rng = new Prng(SEED ^ 0x5eed);
  const store = new MemoryStore();
  const run = new _Run("raw", store);
  await run.seedMessages(20, 3);
  const signatures = await _Signatures.create(run.seedUids);
  const seen = new Map<string, _View>();
  const serve = (server: Server) => {
    const http = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
      onError(error) {
        run.fail("Deno.serve", `the handler threw: ${error}`);
        return new Response("handler threw", { status: 500 });
      },
    }, (request) => {
      const id = request.headers.get("x-fuzz-id");
      if (id !== null) seen.set(id, _view(request));
      return server.fetch(request);
    });
    return http;
  };
  const serverA = createServer(run.serverOptions({ corsOrigins: ALLOWED }));
  const serverB = createServer(run.serverOptions({
    corsOrigins: [ALLOWED[0]],
    secret: SECRET,
    earlyHeaders: true,
    maxHeld: 4,
  }));
  await using httpA = serve(serverA);
  await using httpB = serve(serverB);
  const ports = { A: httpA.addr.port, B: httpB.addr.port };
  const specs = Array.from(
    { length: RAW_REQUESTS },
    (_, i) => _rawSpec(rng, i, run, signatures, ports),
  );

  await _pool(specs, 16, async (spec) => {
    const port = ports[spec.server];
    if (spec.closeAfterMs !== undefined) {
      await _sendAndClose(port, spec.bytes, spec.closeAfterMs);
      run.count("closed by the client before the answer");
      return;
    }
    const { bytes, timedOut } = await _exchange(port, spec.bytes, 5000);
    const view = seen.get(spec.id);
    if (view === undefined) {
      // Deno's HTTP layer refused the bytes before the handler saw them.
      const answer = _parseResponse(bytes);
      if (timedOut) run.count("stalled in Deno's HTTP layer (no answer in 5 s)");
      else if (answer === null) run.count("refused by Deno's HTTP layer: connection closed");
      else if (answer.status >= 500) {
        run.fail(spec.label, `Deno's HTTP layer answered ${answer.status}`);
      } else run.count(`refused by Deno's HTTP layer: ${answer.status}`);
      return;
    }
    run.registerPublish(spec.ledger, view);
    const answer = _parseResponse(bytes);
    if (answer === null) {
      run.fail(spec.label, timedOut ? "no answer within 5 s" : "no parsable answer");
      run.settlePublish(spec.ledger, 0);
      return;
    }
    run.check(spec.label, spec.server === "B", view, {
      ...answer,
      bodyRead: view.method !== "HEAD",
      aborted: false,
    });
    run.settlePublish(spec.ledger, answer.status);
  });

  // The process is still serving, and says it is healthy.
  const health = await fetch(`http://127.0.0.1:${ports.A}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: "ok" });
  await Promise.all([serverA.drain(), serverB.drain()]);
  await run.finish();
  await store.close();
});

// ---------------------------------------------------------------------------
// The run: options, the ledger of messages, the checks, the tallies.

interface _View {
  url: string;
  host: string | null;
  method: string;
  origin: string | null;
}

interface _Answer {
  status: number;
  headers: Headers;
  body: string;
  bodyRead: boolean;
  aborted: boolean;
}

interface _Entry {
  id: string;
  text: string;
  uid: string | undefined;
  state: "pending" | "stored" | "refused";
  delivered: number;
  remaining: number;
}

class _Run {
  readonly failures: string[] = [];
  readonly tally = new Map<string, number>();
  readonly seedUids: string[] = [];
  readonly #entries = new Map<string, _Entry>();
  readonly #byText = new Map<string, _Entry>();
  readonly #byCanonical = new Map<string, _Entry>();
  readonly #errors: unknown[] = [];
  #markers = 0;

  constructor(readonly name: string, readonly store: MemoryStore) {}

  serverOptions(extra: Partial<ServerOptions>): ServerOptions {
    return {
      store: this.store,
      minWait: 0.005,
      maxWait: 0.01,
      publishToken: TOKEN,
      maxBodyBytes: MAX_BODY,
      onError: (error) => this.#errors.push(error),
      ...extra,
    };
  }

  /** Publishes `perUid` ledger messages to each of `uids` seed uids. */
  async seedMessages(uids: number, perUid: number): Promise<void> {
    const rng = new Prng(SEED ^ 0xc0ffee);
    for (let u = 0; u < uids; u++) {
      const uid = `seed-${u}`;
      this.seedUids.push(uid);
      for (let m = 0; m < perUid; m++) {
        const entry = this.newMessage(rng);
        entry.uid = uid;
        entry.state = "stored";
        await this.store.publish(uid, entry.text);
      }
    }
  }

  /**
   * A new message with a unique marker, in one of several hostile shapes,
   * or a JSON object of exactly `exactBytes` UTF-8 bytes.
   */
  newMessage(rng: Prng, exactBytes?: number): _Entry {
    const id = `${this.name}${++this.#markers}x${rng.int(1e9)}`;
    const junk = _junkText(rng, rng.int(40));
    const shapes = [
      () => JSON.stringify({ m: id, junk, n: rng.int(1000), list: [1, "two", null] }),
      () => `</script><script>alert("${id}")</script>\u2028\u2029 ${junk}`,
      () => JSON.stringify(`${id} \u2028 ${junk} </script>`),
      () => `${id} plain "text" with \\ backslashes and ${junk}`,
      () => `{"m":"${id}",}`, // looks like JSON, is not
      () => `<!--${id}--> ${junk}`,
      () => `{"m":"${id}","u":"\u2028\u2029😀\ud800"}`,
      // Valid JSON, too deep for a script parser: JSONP must pass it as a string.
      () => `{"m":"${id}","deep":${"[".repeat(20_000)}${"]".repeat(20_000)}}`,
    ];
    let text = rng.pick(shapes)();
    if (exactBytes !== undefined) {
      const bare = ENCODER.encode(JSON.stringify({ m: id, pad: "" })).length;
      text = JSON.stringify({ m: id, pad: "p".repeat(exactBytes - bare) });
    }
    const entry: _Entry = {
      id,
      text,
      uid: undefined,
      state: "pending",
      delivered: 0,
      remaining: 0,
    };
    this.#entries.set(id, entry);
    this.#byText.set(text.toWellFormed(), entry);
    const canonical = _canonical(text.toWellFormed());
    if (canonical !== undefined) this.#byCanonical.set(canonical, entry);
    return entry;
  }

  registerPublish(entry: _Entry | undefined, view: _View): void {
    if (entry === undefined) return;
    entry.uid = URL.parse(view.url)?.searchParams.get("uid") ?? undefined;
  }

  settlePublish(entry: _Entry | undefined, status: number): void {
    if (entry === undefined) return;
    entry.state = status === 202 ? "stored" : "refused";
  }

  count(what: string): void {
    this.tally.set(what, (this.tally.get(what) ?? 0) + 1);
  }

  fail(label: string, why: string): void {
    this.failures.push(`${label}: ${why}`);
  }

  /**
   * Checks one answer against the protocol of the README. `early`: the
   * server sends headers early and is capacity-limited (server B).
   */
  check(label: string, early: boolean, view: _View, answer: _Answer): void {
    const { status, headers, body, aborted } = answer;
    // A client that left may get an empty body; there is nothing to read.
    const bodyRead = answer.bodyRead && !(aborted && body === "");
    const fail = (why: string) =>
      this.fail(label, `${why} [status ${status}, body ${_clip(JSON.stringify(body), 160)}]`);
    this.count(`status ${status}`);
    if (status === 499) {
      // The handler's answer to a client that left: nobody reads it.
      if (!aborted) fail("499 for a client that did not leave");
      return;
    }
    if (status === 500) fail("answered 500");
    if (!STATUSES.has(status)) fail("unexpected status");
    if (status === 503 && !early) fail("503 from a server with no limit and a healthy store");
    if (headers.get("cache-control") !== "no-store") fail("Cache-Control is not no-store");
    if (status === 405 && !headers.has("allow")) fail("405 without Allow");
    if (status === 503 && !headers.has("retry-after")) fail("503 without Retry-After");
    if (status === 401 && !headers.has("www-authenticate")) fail("401 without WWW-Authenticate");
    // A Host that could move the path or the query is refused on the routes it
    // could harm: the poll and the publish route.
    if (view.host !== null && /[/?#@\\\s]/.test(view.host)) {
      const seenRoute = URL.parse(view.url)?.pathname;
      const harmful = seenRoute === "/" || seenRoute === "/publish";
      if (harmful && status !== 400) {
        fail(`a smuggling Host ${JSON.stringify(view.host)} was not refused`);
      }
      return;
    }

    const url = URL.parse(view.url);
    const route = url?.pathname;
    const poll = route === "/" && (view.method === "GET" || view.method === "HEAD");
    const contentType = headers.get("content-type") ?? "";
    const jsonp = contentType.startsWith("text/javascript");
    let payload = body;
    // The stop is marked: X-Stop, or through JSONP a second argument. Plain
    // answers whose headers left early can't carry it: unknown.
    let stopMarked: boolean | undefined = headers.get("x-stop") === "true" ||
      (early ? undefined : false);

    // JSONP: the callback, the script, the argument (and the stop's mark).
    if (jsonp) {
      this.count("JSONP answers");
      if (headers.get("x-content-type-options") !== "nosniff") fail("JSONP without nosniff");
      if (bodyRead) {
        const match = /^\/\*\*\/([^(]*)\(/.exec(body);
        if (match === null) return fail("JSONP body does not start with /**/name(");
        const callback = match[1];
        if (
          callback.length > 128 || !CALLBACK_PATTERN.test(callback) ||
          REFUSED_CALLBACK.test(callback)
        ) {
          return fail(`JSONP callback ${JSON.stringify(callback)} is outside the pattern`);
        }
        const asked = url?.searchParams.get("jsonCallback");
        if (callback !== asked) fail(`JSONP callback differs from the one asked`);
        if (!body.endsWith(");")) return fail("JSONP body does not end with );");
        payload = body.slice(match[0].length, -2);
        if (/[\u2028\u2029]/.test(payload)) fail("JSONP argument holds a raw U+2028/U+2029");
        try {
          // Compiled, never run: the arguments must parse.
          new Function(`cb(${payload});`);
        } catch {
          fail("JSONP arguments do not parse");
        }
        // One JSON value ends with neither a comma nor a second object.
        stopMarked = payload.endsWith(STOP_MARK);
        if (stopMarked) payload = payload.slice(0, -STOP_MARK.length);
        try {
          JSON.parse(payload);
        } catch {
          fail("JSONP argument is not one valid JSON value");
        }
      }
    } else if (body.startsWith("/**/")) fail("a JSONP body without text/javascript");

    // Which callback the poll asked for decides the answer's form.
    if (poll && url && status !== 414) {
      const asked = url.searchParams.get("jsonCallback");
      const valid = asked !== null && asked.length <= 128 && CALLBACK_PATTERN.test(asked) &&
        !REFUSED_CALLBACK.test(asked);
      if (asked !== null && !valid && status !== 400) fail("an invalid callback was not refused");
      if (valid && !jsonp) fail("a valid callback got no JSONP");
      if (asked === null && jsonp) fail("JSONP without a callback");
    }

    // Errors through JSONP are answered 200, or the page would never see them.
    if (status >= 400 && jsonp) fail("a JSONP error with an error status, which no page can read");
    // Errors: {"error": string}.
    if (status >= 400 && bodyRead) {
      if (!jsonp && !contentType.startsWith("application/json")) fail("error is not JSON");
      let value: unknown;
      try {
        value = JSON.parse(payload);
      } catch {
        return fail("error body is not JSON");
      }
      if (!_isErrorBody(value)) fail('error body is not {"error": string}');
    }

    // CORS: only allowlisted origins, echoed exactly, with Vary.
    const allowOrigin = headers.get("access-control-allow-origin");
    if (allowOrigin !== null) {
      if (!ALLOWED.includes(allowOrigin) || allowOrigin !== view.origin) {
        fail(`CORS allowed ${JSON.stringify(allowOrigin)} for ${JSON.stringify(view.origin)}`);
      }
      if (!/\borigin\b/i.test(headers.get("vary") ?? "")) fail("CORS answer without Vary: Origin");
    }

    // A poll's 200 is the stop code or a message that was published.
    if (poll && status === 200 && view.method === "GET") {
      if (body === "") {
        if (!aborted) fail("empty 200 answer to a poll");
        return;
      }
      const delivered = this.#decode(payload, jsonp, stopMarked);
      if (delivered !== "stop" && stopMarked === true) fail("an answer marked as the stop");
      if (delivered === "stop") {
        this.count("stop codes");
        if (stopMarked === false) fail("a stop answer without its mark");
      } else if (delivered === "jsonp error") this.count("JSONP errors answered 200");
      else if (delivered === "error") {
        // Superseded after early headers: the 409's body comes with the 200.
        if (!early) fail("an error body in a 200 answer");
        this.count("error bodies after early headers");
      } else if (delivered === undefined) fail("200 body is neither the stop code nor a message");
      else {
        delivered.delivered++;
        this.count("messages delivered");
        const uid = url?.searchParams.get("uid");
        if (delivered.uid !== uid) fail(`message of ${delivered.uid} delivered to ${uid}`);
      }
    }
  }

  /** What `payload` is; `marked` says whether the answer was marked as the stop, if known. */
  #decode(
    payload: string,
    jsonp: boolean,
    marked: boolean | undefined,
  ): "stop" | "error" | "jsonp error" | _Entry | undefined {
    let value: unknown;
    try {
      value = JSON.parse(payload);
    } catch {
      value = undefined;
    }
    if (_isErrorBody(value)) return "error";
    if (jsonp && _isJsonpErrorBody(value)) return "jsonp error";
    // Lone surrogates can't cross UTF-8: they arrive as U+FFFD.
    // A message may equal the stop code: the mark decides where there is one.
    const stop = marked ?? payload === STOP;
    if (!jsonp) return stop && payload === STOP ? "stop" : this.#byText.get(payload.toWellFormed());
    if (value === undefined) return undefined;
    const canonical = _canonicalValue(value);
    if (stop && canonical === _canonical(STOP)) return "stop";
    if (typeof value === "string" && this.#byText.has(value.toWellFormed())) {
      return this.#byText.get(value.toWellFormed());
    }
    return this.#byCanonical.get(canonical);
  }

  /** Drains what is left, counts every message, and asserts. */
  async finish(): Promise<void> {
    const uids = new Set<string>();
    for (const entry of this.#entries.values()) if (entry.uid !== undefined) uids.add(entry.uid);
    for (const uid of uids) {
      for (let message; (message = await this.store.pop(uid)) !== null;) {
        const entry = this.#byText.get(message.toWellFormed());
        if (entry === undefined || entry.uid !== uid) {
          this.fail("store", `unexpected message in ${uid}: ${_clip(JSON.stringify(message), 80)}`);
        } else entry.remaining++;
      }
    }
    let stored = 0, delivered = 0, remaining = 0;
    for (const entry of this.#entries.values()) {
      const seen = entry.delivered + entry.remaining;
      if (entry.state === "stored") {
        stored++;
        delivered += entry.delivered;
        remaining += entry.remaining;
        if (seen === 0) this.fail("ledger", `message ${entry.id} of ${entry.uid} was lost`);
        if (seen > 1) this.fail("ledger", `message ${entry.id} was seen ${seen} times`);
      } else if (seen !== 0) {
        this.fail("ledger", `message ${entry.id} was refused (${entry.state}) yet seen`);
      }
    }
    for (const error of this.#errors) this.fail("onError", String(error));
    const tally = [...this.tally].sort(([a], [b]) => a.localeCompare(b))
      .map(([what, n]) => `${what}: ${n}`).join(", ");
    console.log(
      `fuzz ${this.name} (seed ${SEED}): messages stored ${stored} = delivered ${delivered} + ` +
        `still queued ${remaining}; ${tally}`,
    );
    assert.equal(
      this.failures.length,
      0,
      `seed ${SEED}: ${this.failures.length} failures, the first ones:\n` +
        this.failures.slice(0, 25).join("\n"),
    );
    // The run must have exercised what it claims to check.
    assert.ok(delivered > 0, "no message was delivered");
    assert.ok((this.tally.get("JSONP answers") ?? 0) > 0, "no JSONP answer");
    assert.ok((this.tally.get("stop codes") ?? 0) > 0, "no poll ran out");
    for (const status of [200, 400, 405]) {
      assert.ok((this.tally.get(`status ${status}`) ?? 0) > 0, `no ${status} answer`);
    }
  }
}

// ---------------------------------------------------------------------------
// Request generators.

interface _FetchSpec {
  label: string;
  server: "A" | "B";
  build: () => Request;
  abortAfterMs?: number;
  ledger?: _Entry;
}

interface _RawSpec {
  id: string;
  label: string;
  server: "A" | "B";
  bytes: Uint8Array;
  closeAfterMs?: number;
  ledger?: _Entry;
}

interface _Parts {
  method: string;
  path: string;
  query: string;
  headers: [string, string][];
  body?: Uint8Array<ArrayBuffer>;
  ledger?: _Entry;
  ghostPoll: boolean;
}

function _fetchSpec(rng: Prng, i: number, run: _Run, signatures: _Signatures): _FetchSpec {
  const server = rng.chance(0.3) ? "B" : "A";
  const parts = _parts(rng, run, signatures, server === "B", false);
  const url = `http://fuzz.test${parts.path}${parts.query}`;
  const label = `fetch #${i} ${server} ${_clip(JSON.stringify(`${parts.method} ${url}`), 200)}`;
  return {
    label,
    server,
    ledger: parts.ledger,
    abortAfterMs: parts.body === undefined && rng.chance(0.1) ? rng.int(20) : undefined,
    build: () =>
      new Request(url, {
        method: parts.method,
        headers: parts.headers,
        body: parts.body,
      }),
  };
}

function _rawSpec(
  rng: Prng,
  i: number,
  run: _Run,
  signatures: _Signatures,
  ports: { A: number; B: number },
): _RawSpec {
  const server = rng.chance(0.3) ? "B" : "A";
  const parts = _parts(rng, run, signatures, server === "B", true);
  const id = `r${i}`;
  let target = `${parts.path}${parts.query}`;
  // Mostly a target Deno's parser takes; raw spaces, controls and high bytes otherwise.
  if (rng.chance(0.7)) target = _escapeTarget(target);
  if (rng.chance(0.04)) target = `http://127.0.0.1:${ports[server]}${target}`;
  if (rng.chance(0.03)) {
    target = rng.pick(["*", "http://[bad/", "http://x:99999/?uid=1", "?uid=seed-1", "", "/ /"]);
  }
  const version = rng.weighted<string>([
    [90, () => "HTTP/1.1"],
    [4, () => "HTTP/1.0"],
    [1, () => "HTTP/2.0"],
    [1, () => "HTTP/1.2"],
    [1, () => "http/1.1"],
    [1, () => "HTTP/1.1 extra"],
    [1, () => ""],
  ]);
  const lines = [`${parts.method} ${target}${version === "" ? "" : ` ${version}`}`];
  lines.push(`X-Fuzz-Id: ${id}`);
  const host = rng.weighted<string | null>([
    [85, () => `127.0.0.1:${ports[server]}`],
    [4, () => null],
    [11, () =>
      rng.pick([
        "a b",
        "[::1",
        "x:99999",
        "%zz",
        "",
        "x/publish?uid=seed-1",
        "x?jsonCallback=alert(1)//&",
        "x@y",
        "é.test",
        "xn--.test",
        "127.0.0.1:1:2",
      ])],
  ]);
  if (host !== null) lines.push(`Host: ${host}`);
  if (rng.chance(0.03)) lines.push(`Host: other.test`);
  for (const [name, value] of parts.headers) lines.push(`${name}: ${value}`);
  if (parts.body !== undefined) lines.push(`Content-Length: ${parts.body.length}`);
  lines.push("Connection: close");
  const head = _bytes(`${lines.join("\r\n")}\r\n\r\n`);
  const bytes = parts.body === undefined ? head : concatBytes([head, parts.body]);
  return {
    id,
    label: `raw #${i} ${server} ${_clip(JSON.stringify(lines[0]), 200)} host ${
      JSON.stringify(host)
    }`,
    server,
    bytes,
    ledger: parts.ledger,
    // Leave early only where no published message can be at stake: a message
    // written to a socket the client has closed is gone (the one window the
    // default mode documents).
    closeAfterMs: parts.ghostPoll && rng.chance(0.1) && !_mayNameSeed(`${target} ${host}`)
      ? rng.int(10)
      : undefined,
  };
}

/** One random request, in parts both generators share. */
function _parts(
  rng: Prng,
  run: _Run,
  signatures: _Signatures,
  signed: boolean,
  raw: boolean,
): _Parts {
  const method = rng.weighted<string>([
    [62, () => "GET"],
    [6, () => "HEAD"],
    [5, () => "OPTIONS"],
    [11, () => "POST"],
    [3, () => "PUT"],
    [3, () => "DELETE"],
    [2, () => "PATCH"],
    [3, () => rng.pick(["get", "Get", "post", "patch", "head", "options"])],
    [2, () => rng.pick(["FOO", "M-SEARCH", "PROPFIND", "G!T~", "X".repeat(200), "BREW"])],
    [1, () => rng.pick(["TRACE", "CONNECT", "TRACK"])],
    [2, () => rng.pick(["GE T", "", "GET\n", "G\x00T", "GÉT", "GET\t", "(GET)", "G\u0130T"])],
  ]);
  const path = rng.weighted<string>([
    [80, () => "/"],
    [10, () => "/publish"],
    [10, () =>
      rng.pick([
        "/healthz",
        "/readyz",
        "/metrics",
        "/demo",
        "//",
        "/%2F",
        "/./",
        "/../",
        "/index.html",
        "/%00",
        "/publish/",
        "/PUBLISH",
        "/%70ublish",
        "/\u00e9",
        `/${_junkText(rng, 30)}`,
      ])],
  ]);
  // Request() upper-cases "post"; on the wire it stays a different method.
  const publishing = path === "/publish" && method.toUpperCase() === "POST";
  // Publishes never go to ghost uids, which raw clients may leave early.
  const uid = publishing
    ? _uid(rng, run.seedUids, signed).replace(/^ghost-/, "pub-")
    : _uid(rng, run.seedUids, signed);
  const pairs: string[] = [];
  if (!rng.chance(0.07)) pairs.push(`${rng.chance(0.03) ? "%75id" : "uid"}=${uid}`);
  if (rng.chance(0.35)) pairs.push(`jsonCallback=${_callback(rng)}`);
  if (signed || rng.chance(0.15)) pairs.push(...signatures.pick(rng, _decoded(uid)));
  for (let n = rng.int(4); n > 0; n--) pairs.push(_extraPair(rng, run.seedUids));
  if (rng.chance(0.2)) rng.shuffle(pairs);
  let query = pairs.length === 0 && rng.chance(0.5)
    ? ""
    : `?${pairs.join(rng.weighted<string>([[90, () => "&"], [5, () => ";"], [5, () => "&&"]]))}`;
  if (rng.chance(0.03)) query = `?${_junkText(rng, rng.int(200))}`;
  if (rng.chance(0.03)) query += `&pad=${"p".repeat(rng.range(1000, 100_000))}`;
  if (rng.chance(0.05)) query += `#${_junkText(rng, 20)}`;

  const headers: [string, string][] = [];
  if (rng.chance(0.4)) headers.push(["Origin", _origin(rng)]);
  if (rng.chance(0.05)) headers.push(["Origin", _origin(rng)]);
  if (path === "/publish" || rng.chance(0.05)) {
    const auth = rng.weighted<string | null>([
      [55, () => `Bearer ${TOKEN}`],
      [5, () => `bearer ${TOKEN}`],
      [10, () => "Bearer nope"],
      [5, () => `Bearer  ${TOKEN}`],
      [5, () => `Bearer ${TOKEN}x`],
      [5, () => "Basic Zm9vOmJhcg=="],
      [15, () => null],
    ]);
    if (auth !== null) headers.push(["Authorization", auth]);
  }
  for (let n = rng.int(5); n > 0; n--) headers.push(_header(rng, raw));
  if (rng.chance(0.02)) headers.push(["X-Huge", "h".repeat(rng.range(1000, 100_000))]);

  let body: Uint8Array<ArrayBuffer> | undefined;
  let ledger: _Entry | undefined;
  const canHaveBody = !["GET", "HEAD", "get", "head"].includes(method);
  if (publishing || (canHaveBody && rng.chance(0.3))) {
    const authorized = headers.some(([name, value]) =>
      name === "Authorization" && /^bearer fuzz-token$/i.test(value)
    );
    const kind = rng.weighted<string>([
      [60, () => "message"],
      [10, () => "empty"],
      [10, () => "too large"],
      [4, () => "exactly the limit"],
      [8, () => "invalid UTF-8"],
      [8, () => "junk"],
    ]);
    switch (kind) {
      case "message":
      case "exactly the limit":
      case "junk": {
        if (publishing && authorized) {
          ledger = run.newMessage(rng, kind === "exactly the limit" ? MAX_BODY : undefined);
          body = ENCODER.encode(ledger.text);
        } else body = ENCODER.encode(`junk ${_junkText(rng, rng.int(300))}`);
        break;
      }
      case "empty":
        body = new Uint8Array(0);
        break;
      case "too large":
        body = ENCODER.encode("L".repeat(MAX_BODY + 1 + rng.int(20_000)));
        break;
      case "invalid UTF-8":
        body = Uint8Array.from([0x7b, 0xc0, 0xaf, 0xff, 0xed, 0xa0, 0x80, 0x7d]);
        break;
    }
  }
  return {
    method,
    path,
    query,
    headers,
    body,
    ledger,
    ghostPoll: path === "/" && method === "GET" && /^ghost-\d+$/.test(uid),
  };
}

function _uid(rng: Prng, seeds: readonly string[], signed: boolean): string {
  return rng.weighted<string>([
    [signed ? 35 : 22, () => rng.pick(seeds)],
    [5, () => _percentSome(rng, rng.pick(seeds))],
    [18, () => `ghost-${rng.int(50)}`],
    [3, () => ""],
    [8, () => _junkText(rng, rng.range(1, 40))],
    [8, () => _percentBytes(rng, rng.range(1, 30))],
    [4, () => rng.pick(["%", "%G1", "%1", "%%", "abc%zz", "%%32%35", "%u0041"])],
    [4, () =>
      rng.pick([
        "a".repeat(256),
        "a".repeat(257),
        "%C3%A9".repeat(128),
        "%C3%A9".repeat(129),
        "\u00e9".repeat(129),
        "%F0%9F%98%80".repeat(64),
        "%F0%9F%98%80".repeat(65),
      ])],
    [3, () => _percentSome(rng, "x".repeat(rng.range(10_000, 100_000)))],
    [5, () =>
      rng.pick([
        "%0D",
        "%0A",
        "%00",
        "%7F",
        "%09",
        "%C2%85",
        "a%C2%9Bb",
        "a%0Db",
        "a%0D%0AX-Injected:%201",
      ])],
    [4, () => _unicode(rng, rng.range(1, 10))],
    [3, () => rng.pick(["+", "%20", "a+b", "%2B", " "])],
    // Hash-tag braces, which Redis Cluster reads in keys.
    [3, () => rng.pick(["}x", "a}{b", "{}x", "{x}", "{x}:inflight", "%7Bx%7D"])],
    [
      3,
      () => rng.pick(["%C0%AF", "%E0%80%AF", "%F0%80%80%AF", "%ED%A0%80", "%F4%90%80%80", "%FF"]),
    ],
  ]);
}

/** Callback names, mostly near-misses of the identifier-path pattern. */
function _callback(rng: Prng): string {
  return rng.weighted<string>([
    [30, () =>
      rng.pick([
        "cb",
        "a.b",
        "$",
        "_",
        "$.x_1",
        "A1.b2.c3",
        "jQuery3710_1700000000000",
        "a".repeat(128),
        `${"ab.".repeat(42)}ab`,
        "%63b",
        "c%62",
        "__proto__",
        "x.__proto__.y",
      ])],
    [45, () =>
      rng.pick([
        "",
        "1a",
        "a..b",
        "a.",
        ".a",
        "a-b",
        "a b",
        "a+b",
        "alert(1)//",
        "<script>",
        'x.constructor["call"]',
        "x.constructor%5B%22call%22%5D",
        "constructor",
        "eval",
        "document.write",
        "import",
        "new.target",
        "this.cb",
        "a%C3%A9",
        "%EF%BD%81",
        "a%E2%80%8B",
        "a%0Ab",
        "cb%00",
        "cb;alert(1)",
        "cb//",
        "cb%E2%80%A8",
        "%EF%BB%BFcb",
        "a".repeat(129),
        `${"ab.".repeat(42)}abc`,
        "a.1",
        "\u00e9",
        "cb)",
        "(cb",
        "cb%3B",
        "cb%3Dx",
        "%C0%AE",
        "cb%C0%A8",
        "cb\u2028",
        "cb%20",
        "%20cb",
        "cb%0D%0A",
        "a[0]",
        "a/b",
        "a\\b",
        "`cb`",
      ])],
    [15, () => _identifierPath(rng)],
    [10, () => _junkText(rng, rng.range(1, 140))],
  ]);
}

function _identifierPath(rng: Prng): string {
  const first = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_$";
  const rest = `${first}0123456789`;
  const segments = Array.from({ length: rng.range(1, 5) }, () => {
    let segment = first[rng.int(first.length)];
    for (let n = rng.int(40); n > 0; n--) segment += rest[rng.int(rest.length)];
    return segment;
  });
  return segments.join(".");
}

function _extraPair(rng: Prng, seeds: readonly string[]): string {
  const name = rng.pick([
    "UID",
    "jsoncallback",
    "callback",
    "uid[]",
    "uid",
    "jsonCallback",
    "sign",
    "exp",
    "",
    "%00",
    _junkText(rng, 8),
  ]);
  const value = rng.weighted<string>([
    [3, () => rng.pick(seeds)],
    [3, () => _junkText(rng, rng.int(20))],
    [2, () => _percentBytes(rng, rng.int(10))],
    [1, () => rng.pick(["alert(1)", "cb", ""])],
  ]);
  return rng.chance(0.1) ? name : `${name}=${value}`;
}

function _origin(rng: Prng): string {
  return rng.pick([
    ALLOWED[0],
    ALLOWED[0],
    ALLOWED[1],
    "http://evil.test",
    "null",
    "*",
    `${ALLOWED[0]}.evil.test`,
    "HTTP://ALLOWED.TEST",
    `${ALLOWED[0]}/`,
    `${ALLOWED[0]}, http://evil.test`,
    "https://also-allowed.test",
    "",
    "http://allowed.test:80",
  ]);
}

function _header(rng: Prng, raw: boolean): [string, string] {
  const name = rng.weighted<string>([
    [6, () =>
      rng.pick([
        "Accept",
        "Cookie",
        "User-Agent",
        "X-Forwarded-For",
        "If-None-Match",
        "Range",
        "Accept-Encoding",
        "Content-Type",
        "Referer",
        "Authorization",
        "Origin",
        "Cache-Control",
        "Upgrade-Insecure-Requests",
      ])],
    [3, () => `X-${_identifierPath(rng).slice(0, 20)}`],
    [raw ? 1 : 0.1, () => rng.pick(["X Y", "X:Y", "", "X\u00e9", "(x)", "x{}"])],
  ]);
  const value = rng.weighted<string>([
    [5, () => raw || rng.chance(0.1) ? _junkText(rng, rng.int(60)) : _latin1(rng, rng.int(60))],
    [2, () => rng.pick(["*/*", "gzip, br", "bytes=0-1", '"etag"', "no-cache", "a=b; c=d"])],
    [1, () => "\u00e9\u00ff\u0080"],
    [1, () => raw ? rng.pick(["a\x00b", "a\x7fb", " lead", "trail ", "a\tb"]) : "a\tb"],
    [1, () => "v".repeat(rng.range(100, 8000))],
  ]);
  return [name, value];
}

/** Signatures the signed server accepts, plus near-misses of them. */
class _Signatures {
  readonly #valid = new Map<string, string[][]>();

  static async create(seeds: readonly string[]): Promise<_Signatures> {
    const signatures = new _Signatures();
    const key = await crypto.subtle.importKey(
      "raw",
      ENCODER.encode(SECRET),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const hex = async (text: string) =>
      Array.from(
        new Uint8Array(await crypto.subtle.sign("HMAC", key, ENCODER.encode(text))),
        (byte) => byte.toString(16).padStart(2, "0"),
      ).join("");
    const future = Math.floor(Date.now() / 1000) + 3600;
    const past = Math.floor(Date.now() / 1000) - 10;
    for (const uid of [...seeds, ...Array.from({ length: 50 }, (_, i) => `ghost-${i}`)]) {
      signatures.#valid.set(uid, [
        [`sign=${await hex(uid)}`],
        [`sign=${await hex(`${uid}:${future}`)}`, `exp=${future}`],
        [`sign=${await hex(`${uid}:${past}`)}`, `exp=${past}`],
      ]);
    }
    return signatures;
  }

  pick(rng: Prng, uid: string | undefined): string[] {
    const valid = uid === undefined ? undefined : this.#valid.get(uid);
    return rng.weighted<string[]>([
      [valid ? 55 : 0, () => rng.pick(valid!)],
      [valid ? 5 : 0, () => rng.pick(valid!).map((pair) => pair.toUpperCase())],
      [10, () => [`sign=${_hex(rng, 64)}`]],
      [4, () => [`sign=${_hex(rng, rng.range(0, 70))}`]],
      [3, () => [`sign=${"z".repeat(64)}`]],
      [3, () => ["sign="]],
      [5, () => []],
      [5, () => [
        `sign=${_hex(rng, 64)}`,
        `exp=${
          rng.pick([
            "abc",
            "",
            "1e10",
            "-1",
            "99999999999999999999",
            "%20123",
            "0x10",
            "4102444800",
            "04102444800",
          ])
        }`,
      ]],
      [2, () => [`sign=${_hex(rng, 64)}`, `sign=${_hex(rng, 64)}`]],
    ]);
  }
}

/**
 * The memory store, with pops that take a moment: aborts then land while a
 * pop is in flight, so a message popped for a departed client must go back.
 */
class _SlowStore extends MemoryStore {
  pushedBack = 0;
  #popping = 0;

  override async pop(uid: string): Promise<string | null> {
    this.#popping++;
    try {
      await new Promise((resolve) => setTimeout(resolve, Math.random() < 0.5 ? 0 : 2));
      return await super.pop(uid);
    } finally {
      this.#popping--;
    }
  }

  override pushBack(uid: string, message: string): Promise<void> {
    this.pushedBack++;
    return super.pushBack(uid, message);
  }

  /** Resolves once no pop is in flight, and what they popped has gone back. */
  async settled(): Promise<void> {
    while (this.#popping > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// ---------------------------------------------------------------------------
// Raw HTTP.

async function _exchange(
  port: number,
  bytes: Uint8Array,
  timeoutMs: number,
): Promise<{ bytes: Uint8Array; timedOut: boolean }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let timedOut = false;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    conn.close();
  };
  const timer = setTimeout(() => {
    timedOut = true;
    close();
  }, timeoutMs);
  const chunks: Uint8Array[] = [];
  try {
    try {
      for (let offset = 0; offset < bytes.length;) {
        offset += await conn.write(bytes.subarray(offset));
      }
    } catch {
      // The server may refuse and reset before it has read everything.
    }
    const buffer = new Uint8Array(16384);
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buffer);
      } catch {
        break;
      }
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
    }
  } finally {
    clearTimeout(timer);
    close();
  }
  return { bytes: concatBytes(chunks), timedOut };
}

async function _sendAndClose(port: number, bytes: Uint8Array, afterMs: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    for (let offset = 0; offset < bytes.length;) {
      offset += await conn.write(bytes.subarray(offset));
    }
    await new Promise((resolve) => setTimeout(resolve, afterMs));
  } catch {
    // Nothing to check: the client leaves anyway.
  } finally {
    conn.close();
  }
}

/** The first answer on the wire, its body decoded as UTF-8 (a bad byte fails the run). */
function _parseResponse(
  bytes: Uint8Array,
): { status: number; headers: Headers; body: string } | null {
  const response = parseHttpResponse(bytes);
  if (response === undefined) return null;
  const body = new TextDecoder("utf-8", { fatal: true }).decode(response.body);
  return { status: response.status, headers: response.headers, body };
}

// ---------------------------------------------------------------------------
// Small helpers.

function _isErrorBody(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    Object.keys(value).join() === "error" &&
    typeof (value as { error: unknown }).error === "string" &&
    (value as { error: string }).error !== "";
}

/** `{"error": string, "status": 4xx or 5xx}`, with `retryAfter` seconds for a 503. */
function _isJsonpErrorBody(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const { error, status, retryAfter, ...rest } = value as Record<string, unknown>;
  return typeof error === "string" && error !== "" && Object.keys(rest).length === 0 &&
    Number.isInteger(status) && (status as number) >= 400 && (status as number) < 600 &&
    (retryAfter === undefined ? status !== 503 : typeof retryAfter === "number");
}

async function _deadline<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(resolve, ms, "timeout")));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function _view(request: Request): _View {
  return {
    url: request.url,
    host: request.headers.get("host"),
    method: request.method,
    origin: request.headers.get("origin"),
  };
}

async function _pool<T>(items: T[], concurrency: number, run: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await run(items[next++]);
  }));
}

function _junkText(rng: Prng, length: number): string {
  const alphabet = "abcXYZ019 !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\u00e9\u2028\ud83d\ude00";
  let text = "";
  for (let i = 0; i < length; i++) {
    text += rng.chance(0.15) ? _percentBytes(rng, 1) : alphabet[rng.int(alphabet.length)];
  }
  return text;
}

/** Percent-encodes what may not appear raw in a request target. */
function _escapeTarget(target: string): string {
  return target.replace(
    // deno-lint-ignore no-control-regex -- control characters are the point
    /[\x00-\x20\x7f-\u{10ffff}]/gu,
    (char) =>
      Array.from(ENCODER.encode(char), (byte) => `%${byte.toString(16).padStart(2, "0")}`).join(""),
  );
}

/** Printable Latin-1, which `Headers` accepts. */
function _latin1(rng: Prng, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) {
    const code = rng.chance(0.9) ? rng.range(0x20, 0x7e) : rng.range(0xa0, 0xff);
    text += String.fromCharCode(code);
  }
  return text;
}

function _percentBytes(rng: Prng, count: number): string {
  let text = "";
  for (let i = 0; i < count; i++) {
    const hex = rng.int(256).toString(16).padStart(2, "0");
    text += `%${rng.chance(0.5) ? hex.toUpperCase() : hex}`;
  }
  return text;
}

function _percentSome(rng: Prng, text: string): string {
  let out = "";
  for (const char of text) {
    out += rng.chance(0.3) ? `%${char.charCodeAt(0).toString(16).padStart(2, "0")}` : char;
  }
  return out;
}

function _unicode(rng: Prng, length: number): string {
  const pool = [
    "\u00e9",
    "\u20ac",
    "\ud83d\ude00",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\ud800",
    "\uff41",
    "\u200b",
  ];
  return Array.from({ length }, () => rng.pick(pool)).join("");
}

function _hex(rng: Prng, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) text += rng.int(16).toString(16);
  return text;
}

/** True when `text`, percent-decoded in any way, may name a seed uid. */
function _mayNameSeed(text: string): boolean {
  const decoded = text.replace(
    /%([0-9a-f]{2})/gi,
    (_, hex) => String.fromCharCode(parseInt(hex, 16)),
  );
  return /seed/i.test(text) || /seed/i.test(decoded) || /seed/i.test(decoded.replace(/\+/g, " "));
}

/** The uid as URLSearchParams would decode it, for picking its signature. */
function _decoded(uid: string): string | undefined {
  return new URLSearchParams(`uid=${uid}`).get("uid") ?? undefined;
}

function _canonical(text: string): string | undefined {
  try {
    return _canonicalValue(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** JSON text of `value`, lone surrogates as U+FFFD (as they cross UTF-8). */
function _canonicalValue(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, item) => typeof item === "string" ? item.toWellFormed() : item,
  );
}

/** Characters up to U+00FF become that byte (raw bytes on the wire); others UTF-8. */
function _bytes(text: string): Uint8Array {
  const out: number[] = [];
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (code < 0x100) out.push(code);
    else out.push(...ENCODER.encode(char));
  }
  return Uint8Array.from(out);
}

function _clip(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length)}…` : text;
}

function _seedFromEnv(): number {
  const fromEnv = Deno.env.get("FUZZ_SEED");
  if (fromEnv !== undefined && fromEnv !== "") {
    const seed = Number(fromEnv);
    if (!Number.isInteger(seed)) {
      throw new Error(`Cannot fuzz: FUZZ_SEED must be an integer, got "${fromEnv}"`);
    }
    return seed >>> 0;
  }
  return crypto.getRandomValues(new Uint32Array(1))[0];
}
