/**
 * Stream delivery end to end on a 3-master Redis Cluster, without a
 * browser: the shipped nginx.conf in front of 4 `deno task serve`
 * processes with DELIVERY=stream, and the client module in Deno (which has
 * `EventSource`) standing for the devices: 3 users × 2 devices, one over
 * EventSource and one over long-poll, plus a third device of the first
 * user whose network is down for 20 s. `redis-cli -c` producers LPUSH 50
 * messages per user at mixed rates (the uids' keys live on all three
 * masters) while the processes restart one by one and then one master
 * restarts (AOF on: it keeps its histories).
 *
 * Every device gets every message of its user exactly once and in order.
 * Slow: about 60 s on 2 busy cores; it runs in parallel with the rest.
 */
import assert from "node:assert/strict";
import { createLongPollClient, exponentialBackoff } from "../src/client/long_poll_client.ts";
import { signer, startNginx } from "../testing/nginx.ts";
import { startRedisCluster } from "../testing/redis_server.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { type ServeProcess, startServe } from "../testing/serve_process.ts";
import { assertEveryDeviceGotAll, rollingRestart, startProducers } from "../testing/stream_run.ts";
import { TEST_SECRET } from "../testing/secrets.ts";
import { sleep, waitUntil } from "../testing/wait_until.ts";

/** Their lists hash to slots 13803, 1416 and 5545: one on each master. */
const USERS = ["u1", "u2", "u3"];
/** Slots per master, as `redis-cli --cluster create` splits them among 3. */
const SLOTS_PER_MASTER = 5461;
const MESSAGES = 50;
const OFFLINE_MS = 20_000;

Deno.test(
  redisTest(
    "stream cluster: 3 users × 3 devices, processes and a master restarted: all once, in order",
    async () => {
      await using cluster = await startRedisCluster(3);
      const masters = new Set<number>();
      for (const uid of USERS) {
        const slot = Number(await cluster.cli("CLUSTER", "KEYSLOT", `Q/MSG${uid}`));
        masters.add(Math.floor(slot / SLOTS_PER_MASTER));
      }
      assert.equal(masters.size, 3, "the uids' lists live on all three masters");
      const env = {
        REDIS_URL: cluster.urls.join(","),
        DELIVERY: "stream",
        SIGN_SECRET: TEST_SECRET,
        DRAIN_WINDOW: "1",
        NO_COLOR: "1",
      };
      const processes: ServeProcess[] = await Promise.all([1, 2, 3, 4].map(() => startServe(env)));
      await using cleanup = new AsyncDisposableStack();
      cleanup.defer(async () => {
        await Promise.all(processes.map((p) => p[Symbol.asyncDispose]()));
      });
      await using nginx = await startNginx({ upstreams: processes.map((p) => p.port) });

      const devices: { name: string; uid: string; got: [string, string | undefined][] }[] = [];
      let offline = false;
      const clients = [];
      for (const uid of USERS) sessionStorage.setItem(`longpoll:${uid}:since`, "0-0");
      for (
        const [uid, transport, name] of [
          ...USERS.flatMap((uid) => [[uid, "eventsource", "eventsource"], [uid, "poll", "poll"]]),
          [USERS[0], "poll", "away"],
        ] as [string, "eventsource" | "poll", string][]
      ) {
        const device = { name: `${uid} ${name}`, uid, got: [] as [string, string | undefined][] };
        devices.push(device);
        const client = createLongPollClient({
          url: `${nginx.public}/`,
          uid,
          sign: await signer.sign(uid),
          delivery: "stream",
          transport,
          shareTabs: false,
          retry: exponentialBackoff({ base: 200, max: 2000, jitter: 0.5 }),
          fetch: (request) =>
            name === "away" && offline
              ? Promise.reject(new TypeError("Failed to fetch: offline"))
              : fetch(request),
          onMessage: (message, info) => void device.got.push([message, info.id]),
          onReset: (next) => void device.got.push(["reset", next]),
          onEnd: (reason, detail) => void device.got.push([`end ${reason} ${detail}`, undefined]),
        });
        client.start();
        clients.push(client);
      }
      try {
        const producers = startProducers({
          uids: USERS,
          count: MESSAGES,
          push: async (key, message) => {
            const answer = await cluster.cli("LPUSH", key, message);
            if (!/^\d+$/.test(answer)) throw new Error(`Cannot LPUSH ${key}: ${answer}`);
          },
        });
        const away = devices.at(-1)!;
        const awayTrip = (async () => {
          await waitUntil(() => away.got.length >= 5, { what: "the away device's first messages" });
          offline = true;
          await sleep(OFFLINE_MS);
          offline = false;
        })();
        await sleep(3_000);
        await rollingRestart(processes.length, async (index) => {
          assert.equal(await processes[index].stop("SIGTERM"), 0);
          processes[index] = await startServe({ ...env, PORT: String(processes[index].port) });
        }, 1_000);
        await producers.pause();
        const master = cluster.nodes[0];
        await master.stop();
        await sleep(1_000);
        await master.start();
        await waitUntil(
          async () => (await master.cli("CLUSTER", "INFO")).includes("cluster_state:ok"),
          {
            what: "the cluster to be whole again",
            timeoutMs: 20_000,
            intervalMs: 100,
          },
        );
        producers.resume();
        await producers.done;
        await awayTrip;
        await assertEveryDeviceGotAll(devices, MESSAGES);
      } finally {
        for (const client of clients) client.stop();
      }
    },
  ),
);
