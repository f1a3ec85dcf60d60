/**
 * The shipped deploy/nginx.conf, run by a real nginx in front of real
 * `deno task serve` processes on a real Redis (see testing/nginx.ts for how
 * the site file is rendered for the test).
 */
import assert from "node:assert/strict";
import { CLIENT_FILES } from "../src/server/client_files.ts";
import { SETTINGS } from "../src/server/settings.ts";
import {
  type Answer,
  MAX_WAIT,
  MIN_WAIT,
  SHIPPED_SITE,
  signer,
  type Stack,
  startNginx,
  startStack,
  TOKEN,
} from "../testing/nginx.ts";
import { waitUntil } from "../testing/wait_until.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { heldPolls } from "../testing/held_polls.ts";

const STOP = '{"stop":1}';

Deno.test("nginx: the shipped timeouts fit the default hold and the drain", async () => {
  const defaults = Object.fromEntries(SETTINGS.map((s) => [s.variable, Number(s.defaultText)]));
  const hold = _holdSeconds(defaults.MIN_WAIT, defaults.MAX_WAIT);
  assert.equal(hold, 945);
  const readTimeout = _shippedReadTimeout();
  assert.ok(
    readTimeout > hold,
    `proxy_read_timeout ${readTimeout} s must exceed the ${hold} s hold`,
  );
  assert.ok(readTimeout > 60, "nginx's default of 60 s would cut holds");

  const unit = await Deno.readTextFile(new URL("../deploy/longpoll@.service", import.meta.url));
  const stopTimeout = Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)?.[1]);
  assert.ok(
    stopTimeout > defaults.DRAIN_WINDOW,
    `TimeoutStopSec=${stopTimeout} must exceed DRAIN_WINDOW=${defaults.DRAIN_WINDOW}`,
  );
  assert.match(unit, /^KillSignal=SIGTERM$/m);
  const sysctl = await Deno.readTextFile(new URL("../deploy/sysctl.conf", import.meta.url));
  assert.match(sysctl, /^net\.ipv4\.tcp_syncookies = 1$/m);
  assert.doesNotMatch(sysctl, /^net\.ipv4\.tcp_syncookies = 0/m);
});

Deno.test(
  redisTest("nginx: polls get their messages through nginx, woken across processes", async () => {
    await using stack = await startStack({ processes: 3 });
    const { redis } = stack;

    // A message already waiting is answered at once, oldest first.
    await redis.cli("LPUSH", "Q/MSGfifo", '{"n":1}');
    await redis.cli("LPUSH", "Q/MSGfifo", '{"n":2}');
    for (const expected of ['{"n":1}', '{"n":2}']) {
      const response = await stack.poll("fifo");
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "application/json; charset=utf-8");
      assert.equal(response.headers.get("cache-control"), "no-store");
      assert.equal(await response.text(), expected);
    }

    // Six held polls, spread by nginx over the three processes.
    const uids = ["w0", "w1", "w2", "w3", "w4", "w5"];
    const polls = uids.map((uid) => stack.poll(uid));
    await stack.waitUntilHeld(uids.length);
    // Even uids: a plain LPUSH by an outside producer. Odd uids: POST /publish
    // straight to the first process, whatever process holds the poll.
    const first = stack.processes[0];
    for (const [i, uid] of uids.entries()) {
      const message = JSON.stringify({ to: uid });
      if (i % 2 === 0) await redis.cli("LPUSH", `Q/MSG${uid}`, message);
      else {
        const published = await fetch(`${first.origin}/publish?uid=${uid}`, {
          method: "POST",
          headers: { Authorization: `Bearer ${TOKEN}` },
          body: message,
          client: stack.client,
        });
        assert.equal(published.status, 202, await published.text());
      }
    }
    const answeredBy = new Set<string>();
    for (const [i, poll] of polls.entries()) {
      const response = await poll;
      assert.equal(response.status, 200);
      assert.equal(await response.text(), JSON.stringify({ to: uids[i] }));
      answeredBy.add(response.headers.get("x-upstream-addr") ?? "");
    }
    assert.ok(answeredBy.size >= 2, `polls were spread over ${[...answeredBy]}`);
    assert.ok(
      [...answeredBy].some((addr) => addr !== `127.0.0.1:${first.port}`),
      "some poll held by another process was woken by the first one's publish",
    );

    // The internal listener takes POST /publish (loopback only, with the token).
    const published = await fetch(`${stack.internal}/publish?uid=internal`, {
      method: "POST",
      headers: { Authorization: `Bearer ${TOKEN}` },
      body: '{"via":"internal"}',
      client: stack.client,
    });
    assert.equal(published.status, 202);
    await published.body?.cancel();
    assert.equal(await (await stack.poll("internal")).text(), '{"via":"internal"}');
  }),
);

Deno.test(redisTest("nginx: JSONP, the stop code and errors come through unchanged", async () => {
  await using stack = await startStack({ processes: 2 });
  const direct = stack.processes[0].origin;
  const viaNginx = stack.public;
  const sign = await signer.sign("j");

  // The stop code, held the whole hold, through JSONP (two uids: a newer
  // poll of a uid takes the place of an older one).
  const stops = Promise.all([direct, viaNginx].map(async (origin, i) => {
    const uid = `held${i}`;
    return await stack.get(
      `${origin}/?uid=${uid}&sign=${await signer.sign(uid)}&jsonCallback=app.onStop`,
    );
  }));

  // A message through JSONP, once straight from a process and once through
  // nginx; a message that is not JSON goes out as a JSON string.
  for (const message of ['{"a":[1,2]}', "plain text </script>"]) {
    await stack.redis.cli("LPUSH", "Q/MSGj", message);
    await stack.redis.cli("LPUSH", "Q/MSGj", message);
    await _assertSame(stack, `/?uid=j&sign=${sign}&jsonCallback=cb.x_1`);
  }
  const expired = Math.floor(Date.now() / 1000) - 10;
  const cases = [
    "/", // no uid: 400
    `/?uid=&sign=${sign}`, // empty uid: 400
    `/?uid=j&sign=${sign}&jsonCallback=alert(1)`, // bad callback: 400
    "/?uid=j&sign=00", // bad signature: 403
    "/?uid=j&sign=00&jsonCallback=cb", // 403 through JSONP
    `/?uid=j&exp=${expired}&sign=${await signer.sign("j", expired)}`, // expired: 403
    `/?uid=j&sign=${sign}&pad=${"x".repeat(5000)}`, // the server's 414
  ];
  for (const path of cases) await _assertSame(stack, path);
  await _assertSame(stack, `/?uid=j&sign=${sign}`, { method: "POST", body: "x" }); // 405 + Allow
  await _assertSame(stack, `/?uid=j&sign=${sign}`, { method: "HEAD" });

  const [directStop, nginxStop] = await stops;
  assert.deepEqual(_pick(nginxStop), _pick(directStop));
  assert.equal(nginxStop.status, 200);
  assert.equal(nginxStop.body, `/**/app.onStop(${STOP},{"stop":true});`);
  assert.equal(nginxStop.headers["content-type"], "text/javascript; charset=utf-8");

  // What the public side does not pass on.
  for (
    const [method, path] of [["POST", "/publish?uid=j"], ["GET", "/metrics"], ["GET", "/readyz"]]
  ) {
    const response = await stack.get(viaNginx + path, {
      method,
      headers: { Authorization: `Bearer ${TOKEN}` },
      body: method === "POST" ? "{}" : undefined,
    });
    assert.equal(response.status, 404, `${method} ${path}`);
    assert.deepEqual(JSON.parse(response.body), { error: "Cannot find this route" });
  }
  assert.equal((await stack.get(`${viaNginx}/healthz`)).status, 200);
}));

Deno.test(
  redisTest("nginx: a hold past nginx's default timeout survives the shipped config", async () => {
    // One process; one nginx with the shipped proxy_read_timeout and one with
    // nginx's default of 60 s, both scaled by hold / 945 s.
    const scale = _holdSeconds(MIN_WAIT, MAX_WAIT) / 945;
    await using shipped = await startStack({ processes: 1, timeoutScale: scale });
    await using unshipped = await startNginx({
      upstreams: shipped.processes.map((p) => p.port),
      timeoutScale: scale,
      readTimeoutSeconds: 60,
    });

    const started = Date.now();
    const [kept, cut] = await Promise.all([
      shipped.get(`${shipped.public}/?uid=long&sign=${await signer.sign("long")}`),
      shipped.get(`${unshipped.public}/?uid=cut&sign=${await signer.sign("cut")}`),
    ]);
    assert.equal(cut.status, 504, "the default timeout cuts the hold");
    assert.equal(kept.status, 200);
    assert.equal(kept.body, STOP);
    const heldMs = Date.now() - started;
    assert.ok(heldMs >= 3_000, `held the whole schedule, ${heldMs} ms`);

    // nginx closed the cut poll's upstream connection, so the process stopped
    // holding it: a message pushed now waits for the next poll.
    const metrics = await shipped.get(`${shipped.processes[0].origin}/metrics`);
    assert.match(metrics.body, /^longpoll_abandoned_total 1$/m);
    await shipped.redis.cli("LPUSH", "Q/MSGcut", '{"kept":true}');
    const next = await shipped.get(`${shipped.public}/?uid=cut&sign=${await signer.sign("cut")}`);
    assert.equal(next.body, '{"kept":true}');
  }),
);

Deno.test(
  redisTest(
    "nginx: a rolling restart answers stop or a message, never 502, loses nothing",
    async () => {
      await using stack = await startStack({ processes: 3, drainWindow: 1 });
      const uids = Array.from({ length: 9 }, (_, i) => `r${i}`);
      const received = new Map(uids.map((uid) => [uid, [] as string[]]));
      const answers: { uid: string; status: number; body: string; addr: string; at: number }[] = [];
      const stopAll = new AbortController();
      const signs = new Map(
        await Promise.all(uids.map(async (uid) => [uid, await signer.sign(uid)] as const)),
      );

      // Each client polls again at once after every answer, as the front end does.
      const clients = uids.map(async (uid) => {
        while (!stopAll.signal.aborted) {
          let response: Response;
          try {
            response = await fetch(`${stack.public}/?uid=${uid}&sign=${signs.get(uid)}`, {
              client: stack.client,
              signal: stopAll.signal,
            });
          } catch (error) {
            if (stopAll.signal.aborted) return;
            throw error;
          }
          const body = await response.text().catch(() => "");
          if (stopAll.signal.aborted) return;
          const addr = response.headers.get("x-upstream-addr") ?? "";
          answers.push({ uid, status: response.status, body, addr, at: Date.now() });
          if (response.status === 200 && body !== STOP) received.get(uid)!.push(body);
          if (body === STOP) await new Promise((resolve) => setTimeout(resolve, 20));
        }
      });
      const published = new Map(uids.map((uid) => [uid, [] as string[]]));
      let batch = 0;
      const publishBatch = async () => {
        const n = batch++;
        await Promise.all(uids.map((uid) => {
          const message = JSON.stringify({ uid, n });
          published.get(uid)!.push(message);
          return stack.redis.cli("LPUSH", `Q/MSG${uid}`, message);
        }));
      };

      try {
        await stack.waitUntilHeld(uids.length);
        await publishBatch();
        const sigterms: { addr: string; at: number }[] = [];
        for (const index of [0, 1]) {
          const server = stack.processes[index];
          // Every client polls again after the last batch; wait until all are
          // held, and this process holds some of them.
          await stack.waitUntilHeld(uids.length);
          await waitUntil(async () => await heldPolls(server) > 0, {
            what: `process ${index} to hold a poll to drain`,
            timeoutMs: 10_000,
            intervalMs: 25,
          });
          sigterms.push({ addr: `127.0.0.1:${server.port}`, at: Date.now() });
          const exited = server.stop("SIGTERM");
          await publishBatch(); // during the drain
          await new Promise((resolve) => setTimeout(resolve, 300));
          await publishBatch();
          assert.equal(await exited, 0, server.output());
          await publishBatch(); // while it is down
          await stack.restart(index);
          await publishBatch();
        }
        await waitUntil(
          () => uids.every((uid) => received.get(uid)!.length >= published.get(uid)!.length),
          {
            what: () =>
              `every message; received ${JSON.stringify([...received])} of ${
                JSON.stringify([...published])
              }`,
            timeoutMs: 15_000,
            intervalMs: 25,
          },
        );

        const bad = answers.filter((a) => a.status !== 200);
        assert.deepEqual(bad, [], "every answer through nginx is 200");
        for (const a of answers) {
          assert.ok(a.body === STOP || published.get(a.uid)!.includes(a.body), a.body);
        }
        for (const uid of uids) {
          assert.deepEqual(received.get(uid), published.get(uid), `${uid}: all, once, in order`);
        }
        for (const { addr, at } of sigterms) {
          assert.ok(
            answers.some((a) => a.addr === addr && a.body === STOP && a.at >= at),
            `${addr} answered its held polls with the stop code while draining`,
          );
        }
      } finally {
        stopAll.abort();
        await Promise.allSettled(clients);
      }
      await Promise.all(clients);
    },
  ),
);

Deno.test(
  redisTest("nginx: the shipped access logs write no query, so no sign and no uid", async () => {
    await using stack = await startStack({ processes: 1 });
    await stack.redis.cli("LPUSH", "Q/MSGlogged", '{"n":1}');
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const signs = [await signer.sign("logged"), await signer.sign("logged", exp)];
    const answers = [
      await stack.get(`${stack.public}/?uid=logged&sign=${signs[0]}`),
      await stack.get(`${stack.public}/?sign=${signs[1]}&exp=${exp}&uid=logged&wait=0.1`),
      await stack.get(`${stack.public}/?uid=logged&%73ign=${signs[0]}&wait=0.1`),
      await stack.get(`${stack.internal}/publish?uid=logged`, {
        method: "POST",
        headers: { Authorization: `Bearer ${TOKEN}` },
        body: "{}",
      }),
    ];
    assert.deepEqual(answers.map((answer) => answer.status), [200, 200, 200, 202]);

    // Both logs are buffered and flushed every 5 s.
    const read = (name: string) => Deno.readTextFile(`${stack.logDir}/${name}`).catch(() => "");
    let access = "";
    let internal = "";
    await waitUntil(async () => {
      [access, internal] = [await read("longpoll.access.log"), await read("longpoll.internal.log")];
      return access.split("\n").length > 3 && internal.length > 0;
    }, { what: "both access logs to be flushed", timeoutMs: 15_000, intervalMs: 200 });
    assert.equal(access.match(/"GET \/ HTTP\/1\.1" 200 /g)?.length, 3, access);
    assert.match(internal, /"POST \/publish HTTP\/1\.1" 202 /);
    for (const log of [access, internal]) {
      for (const secret of [...signs, "sign=", "uid=", "logged", String(exp)]) {
        assert.ok(!log.includes(secret), `the log holds ${secret}:\n${log}`);
      }
    }
  }),
);

Deno.test(
  redisTest(
    "nginx: the client files come through gzipped, revalidated with 304, HEAD too",
    async () => {
      await using stack = await startStack({ processes: 2 });
      for (const path of ["/client.js", "/client.global.js"] as const) {
        const { etag, text } = CLIENT_FILES.files[path];
        const plain = await stack.get(`${stack.public}${path}`, {
          headers: { "Accept-Encoding": "identity" },
        });
        assert.equal(plain.status, 200, path);
        assert.equal(plain.body, text);
        assert.equal(plain.headers["etag"], etag);
        assert.equal(plain.headers["cache-control"], "no-cache");

        // fetch() asks for gzip and inflates it; nginx weakens the ETag of what it compresses.
        const zipped = await fetch(`${stack.public}${path}?v=${CLIENT_FILES.version}`, {
          client: stack.client,
        });
        assert.equal(zipped.headers.get("content-encoding"), "gzip");
        assert.equal(zipped.headers.get("etag"), `W/${etag}`);
        assert.equal(zipped.headers.get("cache-control"), "public, max-age=31536000, immutable");
        assert.equal(await zipped.text(), text);

        for (const ifNoneMatch of [etag, `W/${etag}`]) {
          const again = await stack.get(`${stack.public}${path}`, {
            headers: { "If-None-Match": ifNoneMatch },
          });
          assert.equal(again.status, 304, `${path} ${ifNoneMatch}`);
          assert.equal(again.body, "");
        }
        const head = await stack.get(`${stack.public}${path}`, { method: "HEAD" });
        assert.equal(head.status, 200);
        assert.equal(head.body, "");
        assert.equal(head.headers["etag"].replace(/^W\//, ""), etag);
      }
      // Only those two: anything else under /client stays nginx's 404.
      for (const path of ["/client.mjs", "/client.js.map", "/client.global.js/x", "/xclient.js"]) {
        const other = await stack.get(`${stack.public}${path}`);
        assert.equal(other.status, 404, path);
        assert.equal(other.body, '{"error":"Cannot find this route"}', path);
      }
    },
  ),
);

function _shippedReadTimeout(): number {
  const match = /^\s*proxy_read_timeout (\d+)s;/m.exec(SHIPPED_SITE);
  assert.ok(match, "deploy/nginx.conf sets proxy_read_timeout in seconds");
  return Number(match[1]);
}

/** Seconds a poll is held with no message: the sum of the doubling waits ≤ max. */
function _holdSeconds(minWait: number, maxWait: number): number {
  let total = 0;
  for (let wait = minWait; wait <= maxWait; wait *= 2) total += wait;
  return total;
}

/** Asks the same path of a process directly and of nginx, and compares. */
async function _assertSame(stack: Stack, path: string, init: RequestInit = {}): Promise<void> {
  const direct = await stack.get(stack.processes[0].origin + path, init);
  const proxied = await stack.get(stack.public + path, init);
  assert.deepEqual(_pick(proxied), _pick(direct), `${init.method ?? "GET"} ${path.slice(0, 80)}`);
}

/** What must come through nginx unchanged: status, body and the headers that matter. */
function _pick(answer: Answer): Answer {
  return {
    status: answer.status,
    body: answer.body,
    headers: Object.fromEntries(
      ["content-type", "cache-control", "x-content-type-options", "allow", "retry-after"]
        .map((name) => [name, answer.headers[name]]),
    ),
  };
}
