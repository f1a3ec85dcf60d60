/**
 * The helpers under testing/, shared by the tests and the bench: a
 * wrong helper would make every test that leans on it wrong in the same way.
 */
import assert from "node:assert/strict";
import { redisTest } from "../testing/redis_gate.ts";
import { freePort } from "../testing/free_port.ts";
import {
  type HttpResponse,
  HttpResponseParser,
  parseHttpResponse,
} from "../testing/http_response.ts";
import { Prng } from "../testing/prng.ts";
import { startRedisServer } from "../testing/redis_server.ts";
import { pollUntil, waitUntil } from "../testing/wait_until.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (response: HttpResponse | undefined) => new TextDecoder().decode(response?.body);

Deno.test("http response: a chunked answer fed one byte at a time", () => {
  const wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Ack-Id: a1\r\n\r\n" +
    "4\r\nWiki\r\n6\r\npedia!\r\n0\r\n\r\n";
  const parser = new HttpResponseParser();
  const done: HttpResponse[] = [];
  for (const byte of bytes(wire)) done.push(...parser.feed(Uint8Array.of(byte)));
  assert.equal(done.length, 1);
  assert.equal(done[0].status, 200);
  assert.equal(done[0].headers.get("x-ack-id"), "a1");
  assert.equal(text(done[0]), "Wikipedia!");
  assert.equal(done[0].complete, true);
  assert.equal(parser.headersSeen, false, "nothing in progress after it");
});

Deno.test("http response: two answers in one read, the second closing", () => {
  const parser = new HttpResponseParser();
  const done = parser.feed(bytes(
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none" +
      "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 3\r\n\r\ntwo",
  ));
  assert.deepEqual(done.map((r) => [r.status, text(r), r.close]), [
    [200, "one", false],
    [503, "two", true],
  ]);
});

Deno.test("http response: no-body answers, HEAD, and a body that runs to the close", () => {
  const parser = new HttpResponseParser();
  parser.expectHeadOnly();
  const [head] = parser.feed(bytes("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"));
  assert.equal(head.body.length, 0, "HEAD: Content-Length without a body");
  const [empty] = parser.feed(bytes("HTTP/1.1 204 No Content\r\n\r\n"));
  assert.equal(empty.status, 204);
  assert.deepEqual(parser.feed(bytes("HTTP/1.0 200 OK\r\n\r\nuntil the")), []);
  parser.feed(bytes(" end"));
  const last = parser.end();
  assert.equal(text(last), "until the end");
  assert.equal(last?.close, true, "HTTP/1.0 closes");
  assert.equal(last?.complete, true);
});

Deno.test("http response: a cut answer, and malformed ones", () => {
  const cut = parseHttpResponse(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf"));
  assert.equal(text(cut), "half");
  assert.equal(cut?.complete, false);
  assert.equal(parseHttpResponse(bytes("HTTP/1.1 200 OK\r\nContent-Le")), undefined);
  assert.equal(parseHttpResponse(bytes("SMTP ready\r\n\r\n")), undefined);
  assert.throws(
    () => new HttpResponseParser().feed(bytes("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")),
    /Cannot parse response: bad Content-Length "-1"/,
  );
  const latin1 = parseHttpResponse(Uint8Array.of(
    ...bytes("HTTP/1.1 200 OK\r\nX-Name: caf"),
    0xe9,
    ...bytes("\r\nContent-Length: 0\r\n\r\n"),
  ));
  assert.equal(latin1?.headers.get("x-name"), "caf\u00e9", "one character per byte");
});

Deno.test("prng: a seed replays the same draws, the sequence of earlier runs", () => {
  // Seeds printed by earlier fuzz and chaos runs must still replay them.
  const rng = new Prng(12345);
  assert.deepEqual([rng.next(), rng.next(), rng.next()], [
    0.9797282677609473,
    0.3067522644996643,
    0.484205421525985,
  ]);
  const a = new Prng(7);
  const b = new Prng(7 + 2 ** 32);
  const draws = Array.from({ length: 200 }, () => a.range(3, 5));
  assert.deepEqual(draws, Array.from({ length: 200 }, () => b.range(3, 5)), "low 32 bits only");
  assert.deepEqual(new Set(draws), new Set([3, 4, 5]));
  const items = [1, 2, 3, 4, 5, 6];
  new Prng(1).shuffle(items);
  assert.deepEqual([...items].sort(), [1, 2, 3, 4, 5, 6]);
  assert.notDeepEqual(items, [1, 2, 3, 4, 5, 6]);
  const counts = { rare: 0, common: 0 };
  const weighted = new Prng(3);
  for (let i = 0; i < 1000; i++) {
    counts[weighted.weighted<keyof typeof counts>([[1, () => "rare"], [9, () => "common"]])]++;
  }
  assert.ok(counts.rare > 50 && counts.rare < 150, JSON.stringify(counts));
});

Deno.test("wait until: a timeout names what was awaited, at that moment", async () => {
  let calls = 0;
  const error = await waitUntil(() => ++calls < 0, {
    what: () => `a miracle after ${calls} checks`,
    timeoutMs: 30,
  }).catch((e) => e);
  assert.match(error.message, /^Timed out after 30 ms waiting for a miracle after \d+ checks$/);
  assert.ok(calls > 1, "checked more than once");
});

Deno.test("wait until: a throwing check fails at once, unless asked to retry", async () => {
  let calls = 0;
  const flaky = () => {
    if (++calls < 3) throw new Error("not up yet");
    return true;
  };
  await assert.rejects(waitUntil(flaky), /not up yet/);
  calls = 0;
  assert.equal(await pollUntil(flaky, { retryErrors: true }), true);
  assert.equal(calls, 3);
});

Deno.test("free port: one can listen on it", () => {
  const port = freePort();
  using listener = Deno.listen({ hostname: "127.0.0.1", port });
  assert.equal((listener.addr as Deno.NetAddr).port, port);
});

Deno.test(
  redisTest(
    "redis server: not persistent, its log in the folder given, stopped by dispose",
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "longpoll-support-" });
      try {
        let pid = 0;
        {
          await using redis = await startRedisServer({ dir, persistent: false });
          pid = redis.pid;
          assert.equal(redis.dir, `${dir}/redis-${redis.port}`);
          await redis.cli("LPUSH", "Q/MSGx", "gone after a restart");
          await redis.stop();
          assert.equal(redis.pid, 0);
          await redis.start();
          assert.equal(await redis.cli("LLEN", "Q/MSGx"), "0");
          assert.notEqual(redis.pid, pid);
          pid = redis.pid;
        }
        assert.throws(() => Deno.kill(pid, "SIGCONT"), "the process is gone");
        const log = await Deno.readTextFile(
          `${dir}/${(await Array.fromAsync(Deno.readDir(dir)))[0].name}/redis.log`,
        );
        assert.match(log, /Ready to accept connections/);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  ),
);
