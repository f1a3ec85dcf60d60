/**
 * Fuzz tests of stream delivery's new inputs, in the style of
 * fuzz_fetch_test.ts: thousands of random polls and event streams through
 * `createServer(...).fetch` with random `since` values and `Last-Event-ID`
 * headers (valid ids, near misses, junk), some abandoned mid-answer, while
 * a producer publishes. A cursor the protocol's pattern (written out again
 * here) accepts must be answered 200 with a well-formed object or stream;
 * any other gets the 400 naming where it came from. Never a 500, nothing
 * left held, and the history keeps every message published, in order.
 *
 * Rerun a failure with `FUZZ_SEED=<seed> deno test --allow-all tests/fuzz_stream_test.ts`.
 */
import assert from "node:assert/strict";
import { createServer } from "../src/server/app.ts";
import { MemoryStore } from "../src/store/memory.ts";
import { Prng } from "../testing/prng.ts";
import { SEED } from "../testing/fuzz/config.ts";
import { pool } from "../testing/fuzz/run.ts";
import { clip, junkText, latin1, percentSome, unicode } from "../testing/fuzz/text.ts";
import { SseReader } from "../testing/sse_reader.ts";

const REQUESTS = 3000;
/** A stream id, or `0` for the start: the protocol's pattern, written out again. */
const CURSOR = /^(?:0|(?:0|[1-9][0-9]{0,14})-(?:0|[1-9][0-9]{0,14}))$/;
const ID = /^(?:0|[1-9][0-9]{0,14})-(?:0|[1-9][0-9]{0,14})$/;
const BAD_CURSOR = (source: string) =>
  `Cannot read "${source}": expected a stream id such as "1733300000000-0", or 0 for the start`;

Deno.test(`fuzz: ${REQUESTS} random cursors through polls and event streams (seed ${SEED})`, async () => {
  const rng = new Prng(SEED);
  const store = new MemoryStore({ history: { max: 100_000, ttlSeconds: 600 } });
  const server = createServer({
    store,
    delivery: "stream",
    minWait: 0.05,
    maxWait: 0.05,
    maxStreamsPerUid: 24,
    sseHeartbeat: 1,
  });
  const published: string[] = [];
  const failures: string[] = [];
  const tally = new Map<string, number>();
  const count = (what: string): void => void tally.set(what, (tally.get(what) ?? 0) + 1);
  const fail = (label: string, problem: string): void => void failures.push(`${label}: ${problem}`);
  let producing = true;
  const producerRng = new Prng(SEED + 1);
  const producer = (async () => {
    for (let n = 0; producing; n++) {
      const message = JSON.stringify({ n });
      await store.publish(producerRng.pick(UIDS), message);
      published.push(message);
      await new Promise((resolve) => setTimeout(resolve, producerRng.int(3)));
    }
  })();

  const specs = Array.from({ length: REQUESTS }, (_, i) => _spec(rng, i));
  await pool(specs, 48, async ({ label, events, query, lastEventId, leave }) => {
    let request: Request;
    const abort = new AbortController();
    try {
      request = new Request(`http://fuzz.test/${events ? "events" : ""}?${query}`, {
        headers: lastEventId === undefined ? {} : { "Last-Event-ID": lastEventId },
        signal: abort.signal,
      });
    } catch {
      return void count("unsendable (Request refused the header)");
    }
    // What the server reads: the query as the URL has it (a "#" in junk starts the fragment).
    const params = new URL(request.url).searchParams;
    const decodedSince = params.get("since");
    const header = request.headers.get("last-event-id");
    const fromHeader = events && header !== null && header !== "";
    const cursor = fromHeader ? header : decodedSince;
    const source = fromHeader ? "Last-Event-ID" : "since";
    const valid = cursor === null || CURSOR.test(cursor);
    const response = await server.fetch(request);
    if (response.status === 500) return fail(label, "answered 500");
    const jsonp = !events && params.get("jsonCallback") === "cb";
    if (!valid) {
      count(`refused: bad ${source}`);
      const text = await response.text();
      // Through JSONP an error is answered 200, so that the page's script runs.
      const [status, expected] = jsonp
        ? [200, `/**/cb(${JSON.stringify({ error: BAD_CURSOR(source), status: 400 })});`]
        : [400, JSON.stringify({ error: BAD_CURSOR(source) })];
      if (response.status !== status || text !== expected) {
        fail(label, `expected ${status} ${expected}, got ${response.status} ${text}`);
      }
      return;
    }
    if (response.status === 429) {
      await response.body?.cancel();
      return void count("429: the uid's streams are full");
    }
    if (response.status !== 200) {
      return fail(label, `expected 200, got ${response.status} ${await response.text()}`);
    }
    if (events) {
      count("event streams");
      const reader = new SseReader(response);
      const first = await reader.next();
      if (first?.retry !== "2000") fail(label, `first frame ${JSON.stringify(first)}`);
      const frame = await reader.nextEvent(50).catch(() => undefined);
      if (frame?.id !== undefined && !ID.test(frame.id)) fail(label, `event id ${frame.id}`);
      if (leave === "abort") abort.abort();
      else await reader.cancel();
      return;
    }
    count(jsonp ? "polls (JSONP)" : "polls");
    const text = await response.text();
    const json = jsonp
      ? /^\/\*\*\/cb\((.*?)(?:,\{"(?:stop|reset)":true\})?\);$/s.exec(text)?.[1]
      : text;
    let body;
    try {
      body = JSON.parse(json ?? "");
    } catch {
      return fail(label, `not the stream answer: ${clip(text, 200)}`);
    }
    if (jsonp && body.status === 429) return void count("429: the uid's streams are full");
    if (!Array.isArray(body.messages) || !ID.test(body.next)) return fail(label, `body ${text}`);
    if (response.headers.get("x-next-since") !== body.next) fail(label, "X-Next-Since differs");
    if (body.messages.some((m: { id: string }) => !ID.test(m.id))) fail(label, `ids ${text}`);
    if (body.reset === true) count("resets");
  });

  producing = false;
  await producer;
  await server.drain();
  assert.equal(server.handler.held, 0, "nothing left held");
  assert.equal(server.handler.metrics.streams, 0, "no stream left open");
  // Every message is in its uid's history, in order, once.
  const kept: string[] = [];
  for (const uid of UIDS) {
    const read = await store.readStream!(uid, { after: "0-0", count: 100_000 });
    kept.push(...read.entries.map((entry) => entry.message));
  }
  assert.deepEqual(
    kept.map((message) => JSON.parse(message).n).sort((a, b) => a - b),
    published.map((message) => JSON.parse(message).n),
  );
  console.log([...tally].map(([what, n]) => `${n} ${what}`).join(", "));
  assert.deepEqual(failures.slice(0, 10), []);
  assert.ok((tally.get("refused: bad since") ?? 0) > 100, "bad cursors were tried");
  assert.ok((tally.get("refused: bad Last-Event-ID") ?? 0) > 50, "bad headers were tried");
  await store.close();
});

const UIDS = ["f1", "f2", "f3"];

interface _Spec {
  label: string;
  events: boolean;
  query: string;
  lastEventId: string | undefined;
  leave: "abort" | "cancel";
}

/** One random request: a poll or an event stream, its cursor, and how the client leaves. */
function _spec(rng: Prng, i: number): _Spec {
  const events = rng.chance(0.4);
  const since = rng.chance(0.8) ? _cursorText(rng) : undefined;
  const lastEventId = events && rng.chance(0.6) ? _cursorText(rng) : undefined;
  const query = `uid=${rng.pick(UIDS)}${since === undefined ? "" : `&since=${since}`}` +
    (!events && rng.chance(0.3) ? `&max=${rng.range(1, 5)}` : "") +
    (!events && rng.chance(0.2) ? "&jsonCallback=cb" : "");
  const label = `#${i} ${events ? "events" : "poll"} ${clip(JSON.stringify(query), 120)}` +
    (lastEventId === undefined ? "" : ` Last-Event-ID ${clip(JSON.stringify(lastEventId), 60)}`);
  return { label, events, query, lastEventId, leave: rng.chance(0.5) ? "abort" : "cancel" };
}

/** A cursor's text, as a query value or a header: valid ids, near misses, junk. */
function _cursorText(rng: Prng): string {
  const digits = (n: number) => String(rng.range(1, 9)) + "0123456789".repeat(2).slice(0, n - 1);
  return rng.weighted<string>([
    [20, () => `${Date.now() - rng.int(10_000)}-${rng.int(5)}`],
    [6, () => rng.pick(["0", "0-0", "1-0", "999999999999999-999999999999999"])],
    [4, () => `${digits(16)}-0`],
    [4, () => `0${rng.int(9)}-${rng.int(9)}`],
    [4, () => `${rng.int(99)}-0${rng.int(9)}`],
    [4, () => rng.pick(["", "-", "1-", "-1", "1", "00", "0-", "-0", "1--1", "1-2-3", "+1-0"])],
    [3, () => rng.pick(["1.5-0", "1e3-0", "0x10-0", " 1-0", "1-0 ", "1_0-0", "١-٠", "１-０"])],
    [3, () => percentSome(rng, `${Date.now()}-${rng.int(3)}`)],
    [3, () => junkText(rng, rng.int(12))],
    [2, () => latin1(rng, rng.int(20))],
    [2, () => unicode(rng, rng.range(1, 4))],
    [1, () => `${rng.int(9)}`.repeat(rng.range(1, 400))],
  ]);
}
