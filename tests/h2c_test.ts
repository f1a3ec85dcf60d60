/**
 * HTTP/2 without TLS (h2c) on the port of `deno task serve`: a real h2c
 * client (`node:http2`, which speaks HTTP/2 frames on one TCP connection)
 * must not hold many polls on one connection past the connection cap.
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import { startServe } from "../testing/serve_process.ts";

const SECOND_STREAM = {
  error: "Cannot serve two requests at once on one connection: HTTP/2 without TLS (h2c) " +
    "is served one request at a time; use HTTP/1.1",
};

Deno.test("h2c: one connection holds one poll at a time; streams at once get 505", async () => {
  await using server = await startServe({ NO_COLOR: "1", MIN_WAIT: "1", MAX_WAIT: "1" });
  const session = http2.connect(server.origin);
  try {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => _get(session, `/?uid=h2c-${i}`)),
    );
    const held = answers.filter((answer) => answer.status === 200);
    const refused = answers.filter((answer) => answer.status === 505);
    assert.equal(held.length, 1, JSON.stringify(answers));
    assert.equal(refused.length, 19, JSON.stringify(answers));
    for (const answer of refused) {
      assert.deepEqual(JSON.parse(answer.body), SECOND_STREAM);
      assert.equal(answer.cacheControl, "no-store");
    }
    // One stream after another on the same connection is served, as HTTP/1.1 keep-alive is.
    for (let i = 0; i < 3; i++) assert.equal((await _get(session, "/healthz")).status, 200);
  } finally {
    session.close();
  }

  // HTTP/1.1 keep-alive and pipelining are never taken for a second stream.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  await conn.write(
    new TextEncoder().encode(
      request.repeat(49) + request.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"),
    ),
  );
  const text = await new Response(conn.readable).text();
  assert.equal(text.match(/HTTP\/1\.1 200 /g)?.length, 50, text);
  assert.doesNotMatch(text, /HTTP\/1\.1 505/);
});

/** One request on `session`, as a stream of its own. */
function _get(
  session: http2.ClientHttp2Session,
  path: string,
): Promise<{ status: number; body: string; cacheControl: string | undefined }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": path });
    let status = 0;
    let cacheControl: string | undefined;
    let body = "";
    stream.on("response", (headers) => {
      status = Number(headers[":status"]);
      cacheControl = headers["cache-control"] as string | undefined;
    });
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => (body += chunk));
    stream.on("end", () => resolve({ status, body, cacheControl }));
    stream.on("error", reject);
    stream.end();
  });
}
