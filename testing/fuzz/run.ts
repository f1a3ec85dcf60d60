/**
 * One fuzz run: the servers' options, the ledger of every message published
 * before or during the run, the protocol checks every answer goes through,
 * the tallies, and the final count that proves nothing was lost.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { ServerOptions } from "../../src/server/app.ts";
import type { MemoryStore } from "../../src/store/memory.ts";
import { Prng } from "../prng.ts";
import {
  ALLOWED,
  CALLBACK_PATTERN,
  ENCODER,
  MAX_BODY,
  REFUSED_CALLBACK,
  SEED,
  STATUSES,
  STOP,
  STOP_MARK,
  TOKEN,
} from "./config.ts";
import { clip, junkText } from "./text.ts";

/** What the server saw of a request. */
export interface RequestView {
  url: string;
  host: string | null;
  method: string;
  origin: string | null;
}

/** One answer, as the client got it. */
export interface FuzzAnswer {
  status: number;
  headers: Headers;
  body: string;
  bodyRead: boolean;
  aborted: boolean;
}

/** One message of the ledger, and where it went. */
export interface LedgerEntry {
  id: string;
  text: string;
  uid: string | undefined;
  state: "pending" | "stored" | "refused";
  delivered: number;
  remaining: number;
}

/** The ledger, the checks and the tallies of one run. */
export class FuzzRun {
  /** Every broken rule, as `<label>: <why>`. */
  readonly failures: string[] = [];
  /** How often each kind of answer or event was seen. */
  readonly tally = new Map<string, number>();
  /** The uids that held messages before the run. */
  readonly seedUids: string[] = [];
  readonly #entries = new Map<string, LedgerEntry>();
  readonly #byText = new Map<string, LedgerEntry>();
  readonly #byCanonical = new Map<string, LedgerEntry>();
  readonly #errors: unknown[] = [];
  #markers = 0;

  /** A run called `name` (it marks its messages), on `store`. */
  constructor(readonly name: string, readonly store: MemoryStore) {}

  /** The options every fuzzed server shares, with `extra` over them. */
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
  newMessage(rng: Prng, exactBytes?: number): LedgerEntry {
    const id = `${this.name}${++this.#markers}x${rng.int(1e9)}`;
    const junk = junkText(rng, rng.int(40));
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
    const entry: LedgerEntry = {
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

  /** Notes the uid a publish of `entry` was addressed to, as the server saw it. */
  registerPublish(entry: LedgerEntry | undefined, view: RequestView): void {
    if (entry === undefined) return;
    entry.uid = URL.parse(view.url)?.searchParams.get("uid") ?? undefined;
  }

  /** Notes whether the publish of `entry` was stored (202) or refused. */
  settlePublish(entry: LedgerEntry | undefined, status: number): void {
    if (entry === undefined) return;
    entry.state = status === 202 ? "stored" : "refused";
  }

  /** Adds one to the tally of `what`. */
  count(what: string): void {
    this.tally.set(what, (this.tally.get(what) ?? 0) + 1);
  }

  /** Notes a broken rule; {@linkcode FuzzRun.finish} fails the test with it. */
  fail(label: string, why: string): void {
    this.failures.push(`${label}: ${why}`);
  }

  /**
   * Checks one answer against the protocol of the README. `early`: the
   * server sends headers early and is capacity-limited (server B).
   */
  check(label: string, early: boolean, view: RequestView, answer: FuzzAnswer): void {
    const { status, headers, body, aborted } = answer;
    // A client that left may get an empty body; there is nothing to read.
    const bodyRead = answer.bodyRead && !(aborted && body === "");
    const fail = (why: string) =>
      this.fail(label, `${why} [status ${status}, body ${clip(JSON.stringify(body), 160)}]`);
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
  ): "stop" | "error" | "jsonp error" | LedgerEntry | undefined {
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
          this.fail("store", `unexpected message in ${uid}: ${clip(JSON.stringify(message), 80)}`);
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

/** What the server sees of `request`. */
export function viewOf(request: Request): RequestView {
  return {
    url: request.url,
    host: request.headers.get("host"),
    method: request.method,
    origin: request.headers.get("origin"),
  };
}

/** Runs `run` on every item, `concurrency` at a time. */
export async function pool<T>(items: T[], concurrency: number, run: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await run(items[next++]);
  }));
}

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
