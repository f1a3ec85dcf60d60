/**
 * Redis Sentinel, followed through a real failover: 1 primary, 2 replicas
 * and 3 Sentinels (`redis-server --sentinel`). Under load in at-least-once
 * mode nothing is lost and a message comes twice only marked redelivered;
 * polls held through the failover are answered within 2 s of the first
 * `+switch-master`; a `SENTINEL FAILOVER` of a live primary loses only the
 * writes it took after the promotion; `deno task serve`, `doctor` and the
 * bad settings are checked on the same Sentinels. A slow test: 20–35 s on
 * two busy cores, most of it the Sentinels finding each other (~8 s) and
 * the two failovers.
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import { createLongPollHandler } from "../mod.ts";
import { RedisStore } from "../src/store/redis.ts";
import { ConfigError, loadConfig } from "../src/server/config.ts";
import { HEADER } from "../src/protocol.ts";
import { knownAnswerOrOutage } from "../src/store_failure.ts";
import { type RedisSentinelSet, startRedisSentinel } from "../testing/redis_server.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { startServe } from "../testing/serve_process.ts";
import { runCli } from "../testing/cli_run.ts";
import { freePort } from "../testing/free_port.ts";
import { sleep, waitUntil } from "../testing/wait_until.ts";

const LOADED_UIDS = 20;
const HELD_UIDS = 10;

Deno.test("sentinel: bad REDIS_SENTINELS forms are refused at start, each with a clear line", () => {
  const refusals: [Record<string, string>, string][] = [
    [
      { REDIS_SENTINELS: ":26379" },
      'Cannot read "REDIS_SENTINELS": expected a comma-separated list of Sentinels as host:port, but ":26379" has no host, got ":26379"',
    ],
    [
      { REDIS_SENTINELS: "10.0.0.5:26379,10.0.0.6:port" },
      'Cannot read "REDIS_SENTINELS": expected a comma-separated list of Sentinels as host:port, but "10.0.0.6:port" has no port from 1 to 65535, got "10.0.0.5:26379,10.0.0.6:port"',
    ],
    [
      { REDIS_SENTINELS: "10.0.0.5:65536" },
      'Cannot read "REDIS_SENTINELS": expected a comma-separated list of Sentinels as host:port, but "10.0.0.5:65536" has no port from 1 to 65535, got "10.0.0.5:65536"',
    ],
    [
      { REDIS_SENTINELS: "10.0.0.5" },
      'Cannot read "REDIS_SENTINELS": expected a comma-separated list of Sentinels as host:port, but "10.0.0.5" is not host:port, got "10.0.0.5"',
    ],
    [
      { REDIS_SENTINELS: "10.0.0.5:26379,", REDIS_URL: "redis://x:6379" },
      'Cannot read "REDIS_SENTINELS": expected a comma-separated list of Sentinels as host:port, but "" is not host:port, got "10.0.0.5:26379,"',
    ],
    [
      { REDIS_SENTINELS: "10.0.0.5:26379", REDIS_URL: "redis://a:7000,redis://b:7000" },
      'Cannot read "REDIS_SENTINELS": it cannot be combined with a list of cluster nodes in "REDIS_URL"; with Sentinel, give REDIS_URL one URL for the password and database, or none',
    ],
    [
      { REDIS_SENTINELS: "10.0.0.5:26379", REDIS_SENTINEL_NAME: "" },
      'Cannot read "REDIS_SENTINEL_NAME": expected a value, got ""',
    ],
  ];
  for (const [env, message] of refusals) {
    assert.throws(() => loadConfig([], env), (error) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, message);
      return true;
    });
  }
  const config = loadConfig([], {
    REDIS_SENTINELS: " 10.0.0.5:26379, [::1]:26380 ",
    REDIS_URL: "redis://:pw@ignored:1/2",
  });
  assert.deepEqual(config.redisSentinels, ["10.0.0.5:26379", "[::1]:26380"]);
  assert.equal(config.sentinelName, "mymaster");

  assert.throws(
    () => new RedisStore({ sentinels: ["a:1"], nodes: ["redis://b:7000"] }),
    /^TypeError: Cannot create RedisStore: "sentinels" and "nodes" exclude each other/,
  );
  assert.throws(
    () => new RedisStore({ sentinels: ["a:0"] }),
    /^TypeError: Cannot create RedisStore: "sentinels": "a:0" has no port from 1 to 65535$/,
  );
  assert.throws(
    () => new RedisStore({ sentinels: ["a:1"], sentinelName: "" }),
    /^TypeError: Cannot create RedisStore: "sentinelName" is empty$/,
  );
});

Deno.test("sentinel: doctor says when no Sentinel answers", async () => {
  const doctor = await runCli(["doctor"], {
    env: { REDIS_SENTINELS: `127.0.0.1:${freePort()}` },
  });
  assert.equal(doctor.code, 1, doctor.stdout);
  assert.match(doctor.stdout, /sentinel 127\.0\.0\.1:\d+ +unreachable \(/);
  assert.match(doctor.stdout, /Verdict: not usable: no Sentinel answers; check REDIS_SENTINELS/);
});

Deno.test(
  redisTest(
    "sentinel: serve, doctor, an unknown name, then a failover under load in at-least-once mode",
    async (t) => {
      await using set = await startRedisSentinel({ downAfterMs: 1000, failoverTimeoutMs: 3000 });
      const REDIS_SENTINELS = set.addresses.join(",");

      await t.step("deno task serve and cli publish with REDIS_SENTINELS work", async () => {
        await using server = await startServe({ REDIS_SENTINELS, MIN_WAIT: "60", MAX_WAIT: "60" });
        assert.match(
          server.ready.input,
          new RegExp(
            `store: redis sentinel the primary "mymaster" of Sentinels ${REDIS_SENTINELS}`,
          ),
        );
        await set.nodes[0].cli("LPUSH", "Q/MSGserved", "hello");
        const poll = await fetch(`${server.origin}/?uid=served`);
        assert.equal(await poll.text(), "hello");
        const ready = await fetch(`${server.origin}/readyz`);
        assert.equal(ready.status, 200, await ready.text());
        const published = await runCli(["publish", "cli", "by the CLI"], {
          env: { REDIS_SENTINELS },
        });
        assert.equal(published.code, 0, published.stderr);
        assert.equal(await set.nodes[0].cli("RPOP", "Q/MSGcli"), "by the CLI");
      });

      await t.step("an unknown primary name refuses the start and is named", async () => {
        const env = { REDIS_SENTINELS, REDIS_SENTINEL_NAME: "nope" };
        const serve = await runCli(["serve"], { env });
        assert.equal(serve.code, 2, serve.stdout + serve.stderr);
        assert.match(
          serve.stdout + serve.stderr,
          /Cannot connect to Redis: no Sentinel monitors a primary named "nope"/,
        );
        const doctor = await runCli(["doctor"], { env });
        assert.equal(doctor.code, 1, doctor.stdout);
        assert.match(doctor.stdout, /sentinel 127\.0\.0\.1:\d+ +knows no primary named "nope"/);
        assert.match(
          doctor.stdout,
          /Verdict: not usable: no Sentinel names a primary "nope"; check REDIS_SENTINEL_NAME/,
        );
        const named = await runCli(["doctor"], { env: { REDIS_SENTINELS } });
        assert.match(named.stdout, new RegExp(`names 127\\.0\\.0\\.1:${set.nodes[0].port}`));
        assert.match(named.stdout, /mode +single/);
      });

      await t.step("a failover loses nothing and wakes held polls within 2 s", async () => {
        const figures = await failover(set);
        console.log(
          `sentinel failover: +switch-master → delivery of a message pushed then: ${
            figures.map((ms) => ms.toFixed(0)).join(", ")
          } ms`,
        );
      });

      await t.step(
        "a live primary demoted by SENTINEL FAILOVER: only the writes it took after the promotion are lost",
        async () => {
          const { readOnly, lost, lostMs } = await switchover(set);
          console.log(
            `sentinel switchover: ${readOnly} publishes met READONLY, each an outage; ` +
              `${lost} acknowledged publishes lost over ${lostMs.toFixed(0)} ms`,
          );
        },
      );
    },
  ),
);

/** What a poller saw of one message. */
interface Seen {
  count: number;
  /** Deliveries after the first that did not say `X-Redelivered`. */
  unmarked: number;
}

/**
 * Stops the primary under load; resolves the delay from the first
 * `+switch-master` to each held poll's answer.
 */
async function failover(set: RedisSentinelSet): Promise<number[]> {
  let switchedAt = 0;
  let promoted = "";
  const listeners = await Promise.all(set.sentinels.map(async (sentinel) => {
    const listener = createClient({ url: sentinel.url });
    listener.on("error", () => {});
    await listener.connect();
    await listener.subscribe("+switch-master", (message) => {
      if (switchedAt !== 0) return;
      switchedAt = performance.now();
      promoted = message.split(" ")[4];
    });
    return listener;
  }));
  await using store = new RedisStore({ sentinels: set.addresses });
  assert.equal(await store.whenReady(10_000), true);
  const handler = createLongPollHandler({
    store,
    atLeastOnce: true,
    lease: 2,
    minWait: 60,
    maxWait: 60,
    onError: () => {},
  });
  const statuses = new Map<number, number>();
  const seen = new Map<string, Seen>();
  let stopped = false;
  const poller = async (uid: string) => {
    let ack = "";
    while (!stopped) {
      const response = await handler(
        new Request(`http://x/?uid=${uid}${ack ? `&ack=${ack}` : ""}`),
      );
      const body = await response.text();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      if (response.status !== 200) {
        await sleep(50);
        continue;
      }
      // The hold ran out (60 s, when the Sentinels take long to elect): poll again.
      if (response.headers.get(HEADER.stop) === "true") continue;
      ack = response.headers.get(HEADER.ackId) ?? "";
      const entry = seen.get(body) ?? { count: 0, unmarked: 0 };
      if (entry.count > 0 && response.headers.get(HEADER.redelivered) === null) entry.unmarked++;
      entry.count++;
      seen.set(body, entry);
    }
  };
  const loaded = Array.from({ length: LOADED_UIDS }, (_, i) => `load${i}`);
  const pollers = loaded.map(poller);

  // The producer publishes through the store; a publish that failed may
  // still have been carried out, so its message may come twice unmarked.
  const published = new Set<string>();
  const inDoubt = new Set<string>();
  let producing = true;
  const producer = (async () => {
    for (let n = 0; producing; n++) {
      const uid = loaded[n % loaded.length];
      const message = `${uid}:${n}`;
      while (true) {
        try {
          await store.publish(uid, message);
          break;
        } catch {
          inDoubt.add(message);
          await sleep(20);
        }
      }
      published.add(message);
      await sleep(5);
    }
  })();

  // Polls held through the failover, with nothing for them yet.
  const held = Array.from({ length: HELD_UIDS }, (_, i) => `held${i}`);
  const answeredAt = new Map<string, number>();
  const heldPolls = held.map(async (uid) => {
    const response = await handler(new Request(`http://x/?uid=${uid}`));
    assert.equal(await response.text(), `for ${uid}`);
    answeredAt.set(uid, performance.now());
  });
  await waitUntil(() => handler.held >= HELD_UIDS, { what: "the held polls" });
  await sleep(1000);

  // Connected beforehand, so the pushes go out as soon as the switch is told.
  const replicas = new Map(
    await Promise.all(
      set.nodes.slice(1).map(async (node) => {
        const client = createClient({ url: node.url });
        client.on("error", () => {});
        await client.connect();
        return [String(node.port), client] as const;
      }),
    ),
  );
  await set.nodes[0].stop();
  const stoppedAt = performance.now();
  assert.equal(await store.checkReady(), false, "readiness reports the outage");
  await waitUntil(() => switchedAt !== 0, { what: "+switch-master", timeoutMs: 30_000 });
  console.log(
    `sentinel failover: +switch-master ${(switchedAt - stoppedAt).toFixed(0)} ms after the stop`,
  );
  const pushes = held.map((uid) => replicas.get(promoted)!.lPush(`Q/MSG${uid}`, `for ${uid}`));
  assert.deepEqual(await Promise.all(pushes), held.map(() => 1));
  const primary = set.nodes.find((node) => String(node.port) === promoted)!;
  await waitUntil(() => answeredAt.size === HELD_UIDS, { what: "every held poll's answer" });
  await Promise.all(heldPolls);
  const delays = held.map((uid) => answeredAt.get(uid)! - switchedAt);
  for (const delay of delays) assert.ok(delay < 2000, `answered ${delay.toFixed(0)} ms after`);

  await sleep(1000);
  producing = false;
  await producer;
  await waitUntil(() => [...published].every((message) => seen.has(message)), {
    what: () =>
      `every message delivered; missing ${
        [...published].filter((message) => !seen.has(message)).slice(0, 5).join(", ")
      }`,
    timeoutMs: 15_000,
  });
  stopped = true;
  for (const uid of loaded) await primary.cli("LPUSH", `Q/MSG${uid}`, "last");
  await Promise.all(pollers);
  await Promise.all([...listeners, ...replicas.values()].map((client) => client.close()));

  assert.ok(published.size > 200, `${published.size} published`);
  const unmarked = [...seen].filter(([message, { unmarked }]) =>
    unmarked > 0 && !inDoubt.has(message)
  );
  assert.deepEqual(unmarked, [], "a duplicate is marked redelivered");
  assert.deepEqual(
    [...statuses.keys()].filter((status) => status !== 200 && status !== 503),
    [],
    "a primary gone or demoted is an outage (503), not a message error",
  );
  const flags = await primary.cli("CONFIG", "GET", "notify-keyspace-events");
  assert.match(flags, /E/);
  assert.match(flags, /[lA]/);
  assert.equal(store.ready, true);

  // A store left on a replica (the Sentinels made the other one follow the
  // new primary) meets READONLY: an outage, not a message error.
  assert.equal(await set.settled(), primary, "the Sentinels name the promoted replica");
  const replica = set.nodes.find((node) => node !== primary && node.pid !== 0)!;
  await using stale = new RedisStore({ url: replica.url });
  assert.equal(await stale.whenReady(10_000), true);
  const refused = await stale.publish("stale", "late").catch((error) => error);
  assert.match(String(refused), /READONLY/);
  const health = { failed: () => {} };
  assert.equal(knownAnswerOrOutage(refused, health), undefined);
  return delays;
}

/**
 * Demotes the live primary with `SENTINEL FAILOVER` while publishing: a
 * publish refused with READONLY is an outage (none a message error), the
 * store moves to the new primary, and every publish that succeeded is
 * there but one run, taken by the old primary after the promotion.
 * Resolves how many publishes met READONLY, and that run.
 */
async function switchover(
  set: RedisSentinelSet,
): Promise<{ readOnly: number; lost: number; lostMs: number }> {
  const demoted = await set.settled();
  await using store = new RedisStore({ sentinels: set.addresses });
  assert.equal(await store.whenReady(10_000), true);
  const published: string[] = [];
  const publishedAt: number[] = [];
  const inDoubt: string[] = [];
  let readOnly = 0;
  let outages = 0;
  const health = { failed: () => outages++ };
  let publishing = true;
  const publisher = (async () => {
    for (let n = 0; publishing; n++) {
      const message = `s${n}`;
      try {
        await store.publish("switched", message);
        published.push(message);
        publishedAt.push(performance.now());
      } catch (error) {
        inDoubt.push(message);
        if (/READONLY/.test(String(error))) readOnly++;
        assert.equal(knownAnswerOrOutage(error, health), undefined, String(error));
        await sleep(20);
      }
      await sleep(5);
    }
  })();
  await sleep(300);
  assert.equal(await set.sentinels[0].cli("SENTINEL", "FAILOVER", set.name), "OK");
  await waitUntil(async () => (await set.primary()) !== demoted, {
    what: "the switchover",
    timeoutMs: 20_000,
  });
  const primary = await set.primary();
  // The store has moved once a publish made after the switch is there.
  const atSwitch = published.length;
  await waitUntil(async () => {
    const head = await primary.cli("LINDEX", "Q/MSGswitched", "0");
    return published.indexOf(head) >= atSwitch;
  }, { what: "a publish on the new primary" });
  const moved = published.length;
  await waitUntil(() => published.length > moved + 20, { what: "publishes on the new primary" });
  publishing = false;
  await publisher;
  const kept = new Set((await primary.cli("LRANGE", "Q/MSGswitched", "0", "-1")).split("\n"));
  // The demoted primary took writes from the replica's promotion until the
  // store moved, and dropped them when it synced from the new primary: the
  // loss of the default mode. They are one run; all before and after are kept.
  const lost = published.flatMap((message, i) => kept.has(message) ? [] : [i]);
  const run = lost.length === 0 ? 0 : lost[lost.length - 1] - lost[0] + 1;
  assert.equal(run, lost.length, `lost publishes ${lost.join(", ")} are one run`);
  assert.ok(published.slice(-20).every((message) => kept.has(message)), "kept after the move");
  assert.equal(outages, inDoubt.length);
  const lostMs = lost.length === 0 ? 0 : publishedAt[lost[lost.length - 1]] - publishedAt[lost[0]];
  return { readOnly, lost: lost.length, lostMs };
}
