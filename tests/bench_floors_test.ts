/**
 * The bench's reference servers that stand beside ours in one run: the bare
 * hold (each runtime's floor of a held poll), the embedded default on a
 * `MemoryStore` with its control port (filled and published to through the
 * library), Nchan's config on its memory store, and the profile reader that
 * splits CPU samples by where the code lives. Each reference server runs
 * under Deno as a script and under Bun as the bundle the bench makes; where
 * `bun` is missing its case is skipped with a line saying so, except in CI.
 */
import assert from "node:assert/strict";
import { startReferenceServer } from "../bench/reference_server.ts";
import { ProcessGroup } from "../bench/process_group.ts";
import { nchanConfig } from "../bench/nchan_server.ts";
import { ratioSpread } from "../bench/ab.ts";
import { diffPerPoll, groupHeap } from "../bench/heap_per_poll.ts";
import { placeOf, selfTimeByPlace, stallsOf } from "../bench/profile.ts";
import { prepareRuntime, type Runtime } from "../bench/runtime.ts";
import { startOurServer } from "../bench/our_server.ts";
import { LoadClient } from "../bench/load_client.ts";
import { holdPolls, measureWake } from "../bench/measure.ts";
import { initClockTicks } from "../bench/proc_stats.ts";
import { canRun } from "../testing/can_run.ts";

const HAS_BUN = await canRun("bun");
await initClockTicks();
if (!HAS_BUN && Deno.env.get("CI")) {
  throw new Error('Cannot run the Bun cases: "bun" is not on PATH (.ci/install_runtimes.sh)');
}
if (!HAS_BUN) console.log('Skipping the Bun cases: "bun" is not on PATH');

for (const runtime of ["deno", "bun"] as Runtime[]) {
  const ignore = runtime === "bun" && !HAS_BUN;

  Deno.test({
    name: `bench floors: the bare hold on ${runtime} holds a poll until its client leaves`,
    ignore,
    async fn() {
      await using group = new ProcessGroup();
      const dir = await Deno.makeTempDir();
      const hold = await startReferenceServer("hold", { group, dir, runtime });
      const controller = new AbortController();
      const poll = fetch(`http://127.0.0.1:${hold.port}/?uid=a`, { signal: controller.signal });
      const early = await Promise.race([
        poll.then(() => "answered", () => "failed"),
        new Promise((resolve) => setTimeout(() => resolve("held"), 1_000)),
      ]);
      assert.equal(early, "held");
      controller.abort();
      await assert.rejects(poll);
      assert.deepEqual(hold.pids().length, 1);
      await Deno.remove(dir, { recursive: true });
    },
  });

  Deno.test({
    name:
      `bench floors: the embedded memory server on ${runtime} fills and publishes through the library`,
    ignore,
    async fn() {
      await using group = new ProcessGroup();
      const dir = await Deno.makeTempDir();
      const server = await startReferenceServer("memory", { group, dir, runtime });
      const lists = server.lists!;
      assert.deepEqual(await lists.fill({ prefix: "h", uids: 2, each: 3, message: "m" }), [3, 3]);
      const origin = `http://127.0.0.1:${server.port}`;
      assert.equal(await (await fetch(`${origin}/?uid=h1`)).text(), "m");
      assert.deepEqual(await lists.lengths("h", 2), [3, 2]);
      // A fill tops up: it never queues past `each`.
      assert.deepEqual(await lists.fill({ prefix: "h", uids: 2, each: 3, message: "m" }), [3, 3]);
      // A held poll, counted, then woken by a publish on the control port.
      const poll = fetch(`${origin}/?uid=w`);
      const deadline = Date.now() + 10_000;
      while (await server.heldCount() !== 1 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(await server.heldCount(), 1);
      assert.equal(server.publish.kind, "http");
      const { port, path } = server.publish as { port: number; path: string };
      const published = await fetch(`http://127.0.0.1:${port}${path}w`, {
        method: "POST",
        body: '{"wake":1}',
      });
      assert.equal(published.status, 202);
      assert.equal(await (await poll).text(), '{"wake":1}');
      // A bad control request says what is wrong and queues nothing.
      const bad = await fetch(`http://127.0.0.1:${port}/fill?prefix=h&uids=x&each=1`, {
        method: "POST",
      });
      assert.equal(bad.status, 400);
      assert.match(await bad.text(), /Cannot read "uids": expected a whole number, got "x"/);
      assert.deepEqual(await lists.lengths("h", 2), [3, 3]);
      await Deno.remove(dir, { recursive: true });
    },
  });
}

Deno.test("bench floors: Nchan on its memory store has no Redis in its config", () => {
  const options = { module: "/m.so", dir: "/x", port: 1, workers: 1 };
  const memory = nchanConfig({ ...options, redisPort: undefined });
  const redis = nchanConfig({ ...options, redisPort: 6379 });
  assert.ok(!memory.includes("redis"), memory);
  assert.match(redis, /nchan_redis_pass bench_redis;/);
  assert.match(redis, /nchan_redis_server redis:\/\/127\.0\.0\.1:6379;/);
});

Deno.test("bench floors: the profile reader splits self time by place and phase, idle left out", () => {
  const frame = (functionName: string, url: string) => ({ functionName, url });
  const profile = {
    nodes: [
      { id: 1, callFrame: frame("hold", "file:///w/src/hold.ts") },
      { id: 2, callFrame: frame("(garbage collector)", "") },
      { id: 3, callFrame: frame("(idle)", "") },
      { id: 4, callFrame: frame("rPop", "file:///c/npm/registry.npmjs.org/@redis/client/x.js") },
      { id: 5, callFrame: frame("serve", "ext:deno_http/00_serve.ts") },
    ],
    startTime: 0,
    endTime: 6_000,
    samples: [1, 2, 3, 4, 5, 1],
    timeDeltas: [1_000, 1_000, 1_000, 1_000, 1_000, 1_000],
  };
  assert.deepEqual(
    [...selfTimeByPlace(profile, { from: 0, to: 10 })],
    [
      ["src/hold.ts", 2],
      ["(garbage collector)", 1],
      ["node-redis", 1],
      ["runtime: ext:deno_http/00_serve.ts", 1],
    ],
  );
  assert.deepEqual([...selfTimeByPlace(profile, { from: 3.5, to: 5.5 })], [
    ["node-redis", 1],
    ["runtime: ext:deno_http/00_serve.ts", 1],
  ]);
  assert.equal(placeOf(frame("", "")), "(native)");
});

Deno.test("bench floors: the profile reader finds collector pauses, long tasks and waits for a core", () => {
  const frame = (functionName: string, url: string) => ({ functionName, url });
  const profile = {
    nodes: [
      { id: 1, callFrame: frame("(garbage collector)", "") },
      { id: 2, callFrame: frame("pop", "file:///w/src/store/redis_pop.ts") },
      { id: 3, callFrame: frame("(program)", "") },
    ],
    startTime: 0,
    endTime: 0,
    // 1 ms apart, but for one gap of 7 ms before the last sample.
    samples: [2, 1, 1, 1, 3, 3, 3, 2, 2, 2, 2, 1],
    timeDeltas: [
      1_000,
      1_000,
      1_000,
      1_000,
      1_000,
      1_000,
      1_000,
      1_000,
      1_000,
      1_000,
      1_000,
      7_000,
    ],
  };
  assert.deepEqual(stallsOf(profile, { from: 0, to: 100, minMs: 2 }), {
    gc: [3],
    task: [4],
    gap: [7],
  });
  // Below the threshold, nothing; native code outside JavaScript is not a task.
  assert.deepEqual(stallsOf(profile, { from: 0, to: 100, minMs: 5 }), {
    gc: [],
    task: [],
    gap: [7],
  });
  assert.equal(placeOf(frame("add", "/w/deploy/.build/serve_bun.mjs")), "serve_bun.mjs: add");
});

Deno.test("bench floors: an A/B reports the median ratio and its range", () => {
  assert.equal(ratioSpread([1.1, 0.9, 1.0]), "1.00× (0.90–1.10×)");
  assert.equal(ratioSpread([1.2, 0.8, 1.0, 1.1]), "1.05× (0.80–1.20×)");
});

Deno.test("bench floors: the heap reader groups a snapshot and gives ours minus the floor per poll", () => {
  const snapshot = {
    snapshot: {
      meta: {
        node_fields: ["type", "name", "id", "self_size"],
        node_types: [["object", "closure"]],
      },
    },
    // Two holds, a scope named with its node id, and a closure.
    nodes: [0, 0, 1, 152, 0, 0, 2, 152, 0, 1, 3, 48, 1, 2, 4, 56],
    strings: ["Hold", "system / Context / scope @4711", "release"],
  };
  const ours = groupHeap(JSON.stringify(snapshot));
  assert.deepEqual(ours.get("object Hold"), { count: 2, bytes: 304 });
  assert.deepEqual(ours.get("object system / Context / scope"), { count: 1, bytes: 48 });
  const floor = new Map([["closure release", { count: 2, bytes: 112 }]]);
  assert.deepEqual(diffPerPoll(floor, ours, 2, 10), [
    { name: "object Hold", count: 1, bytes: 152 },
    { name: "object system / Context / scope", count: 0.5, bytes: 24 },
    { name: "closure release", count: -0.5, bytes: -28 },
  ]);
  // Groups within the threshold are left out.
  assert.deepEqual(diffPerPoll(floor, ours, 2, 30).map((row) => row.name), ["object Hold"]);
});

Deno.test("bench floors: the load client holds Server-Sent Events streams and times a wake to the event", async () => {
  await using group = new ProcessGroup();
  const dir = await Deno.makeTempDir();
  const target = await startOurServer({
    group,
    dir,
    redisUrl: undefined,
    serve: await prepareRuntime("deno"),
    name: "ours, SSE",
    stream: true,
    env: { DELIVERY: "stream" },
  });
  const client = LoadClient.start({ group, workers: 1 });
  try {
    const { held } = await holdPolls({ client, target, from: 0, to: 3, batch: 3, baselineFds: 0 });
    assert.equal(held, 3);
    const wake = await measureWake({
      client,
      target,
      redisPid: Deno.pid,
      messages: 4,
      timeoutMs: 20_000,
    });
    assert.equal(wake.errors, 0, wake.errorSamples.join("; "));
    assert.equal(wake.count, 4);
    // The streams stay open after their events: still 3 held.
    assert.equal(await target.heldCount(), 3);
  } finally {
    await client.close();
    await target.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
