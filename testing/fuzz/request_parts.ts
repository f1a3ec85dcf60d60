/**
 * The random requests of the fuzz tests, in parts both the fetch and the
 * raw TCP generators assemble: method, path, query (uid, callback,
 * signature, extra pairs), headers and a body, which may be a message
 * entered in the run's ledger.
 *
 * @module
 */
import type { Prng } from "../prng.ts";
import { ALLOWED, ENCODER, MAX_BODY, TOKEN } from "./config.ts";
import type { FuzzRun, LedgerEntry } from "./run.ts";
import type { Signatures } from "./signatures.ts";
import { junkText, latin1, percentBytes, percentSome, unicode } from "./text.ts";

/** One random request, in parts. */
export interface RequestParts {
  method: string;
  path: string;
  query: string;
  headers: [string, string][];
  body?: Uint8Array<ArrayBuffer>;
  ledger?: LedgerEntry;
  ghostPoll: boolean;
}

/** One random request, in parts both generators share. */
export function requestParts(
  rng: Prng,
  run: FuzzRun,
  signatures: Signatures,
  signed: boolean,
  raw: boolean,
): RequestParts {
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
        `/${junkText(rng, 30)}`,
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
  if (rng.chance(0.03)) query = `?${junkText(rng, rng.int(200))}`;
  if (rng.chance(0.03)) query += `&pad=${"p".repeat(rng.range(1000, 100_000))}`;
  if (rng.chance(0.05)) query += `#${junkText(rng, 20)}`;

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
  let ledger: LedgerEntry | undefined;
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
        } else body = ENCODER.encode(`junk ${junkText(rng, rng.int(300))}`);
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
    [5, () => percentSome(rng, rng.pick(seeds))],
    [18, () => `ghost-${rng.int(50)}`],
    [3, () => ""],
    [8, () => junkText(rng, rng.range(1, 40))],
    [8, () => percentBytes(rng, rng.range(1, 30))],
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
    [3, () => percentSome(rng, "x".repeat(rng.range(10_000, 100_000)))],
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
    [4, () => unicode(rng, rng.range(1, 10))],
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
    [10, () => junkText(rng, rng.range(1, 140))],
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
    junkText(rng, 8),
  ]);
  const value = rng.weighted<string>([
    [3, () => rng.pick(seeds)],
    [3, () => junkText(rng, rng.int(20))],
    [2, () => percentBytes(rng, rng.int(10))],
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
    [5, () => raw || rng.chance(0.1) ? junkText(rng, rng.int(60)) : latin1(rng, rng.int(60))],
    [2, () => rng.pick(["*/*", "gzip, br", "bytes=0-1", '"etag"', "no-cache", "a=b; c=d"])],
    [1, () => "\u00e9\u00ff\u0080"],
    [1, () => raw ? rng.pick(["a\x00b", "a\x7fb", " lead", "trail ", "a\tb"]) : "a\tb"],
    [1, () => "v".repeat(rng.range(100, 8000))],
  ]);
  return [name, value];
}

/** The uid as URLSearchParams would decode it, for picking its signature. */
function _decoded(uid: string): string | undefined {
  return new URLSearchParams(`uid=${uid}`).get("uid") ?? undefined;
}
