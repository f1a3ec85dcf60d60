/**
 * The multi-host simulation (sim/): its pieces on their own, its clean-up
 * of what a crashed run left, and the short version CI runs: two faults
 * under a load of 2,000 long-poll users and 120 messages/s, an interrupted
 * run first, to show that an interrupted run leaves nothing behind and that
 * the next one works. It needs root, `ip`, `nft`, redis-server and nginx;
 * without them it skips with one line (or fails under REQUIRE_REDIS=1 when
 * run as root).
 *
 * Slow: the short version takes about 3 minutes (two runs of about 65 s,
 * plus the interrupted one). `deno task test` runs it alone, after the
 * others (LONGPOLL_SIM=1): its nine hosts take both cores, and tests with
 * timeouts of their own (jQuery's, Redis command deadlines) failed beside it.
 */
import assert from "node:assert/strict";
import { account } from "../sim/accounting.ts";
import { lossRules, partitionRules } from "../sim/nft.ts";
import {
  removeStaleNamespaces,
  run,
  SIM_PREFIX,
  simNamespaces,
  staleNamespaces,
} from "../sim/netns.ts";
import { commandCalls } from "../sim/redis_cost.ts";
import type { ScenarioResult } from "../sim/scenario.ts";
import { simSite } from "../sim/lb_host.ts";
import { SHIPPED_SITE } from "../testing/nginx.ts";
import { canRun } from "../testing/can_run.ts";
import { startProcess } from "../testing/serve_process.ts";
import { pollUntil, waitUntil } from "../testing/wait_until.ts";

const _canSimulate = Deno.uid() === 0 && await canRun("ip", ["-V"]) &&
  await canRun("nft", ["--version"]) && await canRun("redis-server") &&
  await canRun("nginx", ["-v"]);
if (!_canSimulate) {
  if (Deno.env.get("REQUIRE_REDIS") === "1" && Deno.uid() === 0) {
    throw new Error(
      "Cannot run the simulation: REQUIRE_REDIS=1 but ip, nft, redis-server or nginx is missing",
    );
  }
  console.log("Skipping the simulation tests: they need root, ip, nft, redis-server and nginx");
}
const _simTest = (name: string, fn: () => Promise<void>): Deno.TestDefinition => ({
  name,
  fn,
  ignore: !_canSimulate,
  sanitizeOps: false,
  sanitizeResources: false,
});
const _MAIN = new URL("../sim/main.ts", import.meta.url).pathname;
/**
 * The short version takes both cores for minutes, so `deno task test` runs
 * it alone, after the other tests, with LONGPOLL_SIM=1; elsewhere it is
 * skipped.
 */
const _runsAlone = Deno.env.get("LONGPOLL_SIM") === "1";

Deno.test("sim: accounting counts each message once, and every loss and duplicate", () => {
  const figures = account(
    { acked: [[1, 0, 1000], [2, 1, 5000], [3, 2, 5500], [4, 3, 9000]], uncertain: [[5, 4, 4100]] },
    {
      wire: [[1, 1003, 0], [2, 6500, 0], [2, 7000, 1], [3, 6100, 0], [3, 6200, 0], [5, 9100, 0]],
      app: [[1, 1003, 0], [2, 6500, 0], [3, 6100, 0], [3, 6200, 0], [5, 9100, 0]],
    },
    { faultAt: 4000, healAt: 6000 },
  );
  assert.deepEqual(figures.lost, [4]);
  assert.equal(figures.acknowledged, 4);
  assert.equal(figures.uncertain, 1);
  assert.equal(figures.duplicatesMarked, 1);
  assert.equal(figures.duplicatesUnmarked, 1);
  assert.equal(figures.duplicatesInApp, 1);
  // 2 and 3 were pushed during the fault and came after the heal; so did 5, pushed uncertain.
  assert.deepEqual(figures.stuck, { count: 3, firstMs: 100, lastMs: 3100 });
  assert.equal(figures.wake.before.p50, 3);
  assert.equal(figures.wake.during.count, 2);
  assert.equal(figures.wake.after.count, 0);
});

Deno.test("sim: nftables rules drop what they say, and a bad loss rate is refused", () => {
  assert.match(
    partitionRules(["10.77.0.15", "10.77.0.16"]),
    /ip saddr \{ 10\.77\.0\.15, 10\.77\.0\.16 \} drop/,
  );
  assert.match(lossRules(2), /table bridge lpsim/);
  for (const bad of [-1, 101, 2.5, NaN]) {
    assert.throws(
      () => lossRules(bad),
      new RegExp(`Cannot drop packets: "percent" must be an integer from 0 to 100, got "${bad}"`),
    );
  }
});

Deno.test("sim: nginx gets the shipped site file with only its upstreams and log paths changed", () => {
  const addresses = ["10.77.0.12:8885", "10.77.0.12:8886", "10.77.0.13:8885"];
  const site = simSite(addresses, "/tmp/d");
  const upstreams = [...site.matchAll(/^\s*server (\S+) max_fails=3 fail_timeout=5s;$/gm)].map((
    m,
  ) => m[1]);
  assert.deepEqual(upstreams, addresses);
  const back = site.replaceAll("/tmp/d/", "/var/log/nginx/").replace(
    /^( *server \S+ max_fails=3 fail_timeout=5s;\n)+/m,
    [8885, 8886, 8887, 8888].map((port) =>
      `    server 127.0.0.1:${port} max_fails=3 fail_timeout=5s;\n`
    ).join(""),
  );
  assert.equal(back, SHIPPED_SITE);
});

Deno.test("sim: stale namespaces are those of a process that is gone; Redis calls are read by command", () => {
  const alive = new Set([10, 11]);
  assert.deepEqual(
    staleNamespaces(
      ["lpsim-10-lb", "lpsim-12-lb", "lpsim-12-switch", "lpsimx-3-a", "other"],
      (pid) => alive.has(pid),
    ),
    ["lpsim-12-lb", "lpsim-12-switch"],
  );
  assert.deepEqual(
    commandCalls("cmdstat_config|get:calls=2,usec=1\r\ncmdstat_eval:calls=40,usec=9"),
    {
      "config|get": 2,
      eval: 40,
    },
  );
});

Deno.test(
  _simTest("sim: what a crashed run left (a namespace and its process) is removed", async () => {
    // A pid no process has: above the kernel's pid_max.
    const netns = `${SIM_PREFIX}${2 ** 23}-crashed`;
    await run(["netns", "add", netns]);
    await using sleeper = await startProcess({
      command: "ip",
      args: ["netns", "exec", netns, "sh", "-c", "echo started; exec sleep 600"],
      env: {},
      ready: /started/,
    });
    assert.ok((await simNamespaces()).includes(netns));
    assert.ok((await removeStaleNamespaces()).includes(netns));
    assert.ok(!(await simNamespaces()).includes(netns));
    assert.notEqual(
      await sleeper.process.status.then((s) => s.signal),
      null,
      "the process was killed",
    );
  }),
);

Deno.test({
  ..._simTest(
    "sim: the short version (kill -9 a master, SIGSTOP an app process) after an interrupted run",
    async () => {
      // Interrupted once every user holds a poll: nothing of it may stay.
      const interrupted = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", _MAIN, "--faults=sigstop", "--modes=default"],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      let printed = "";
      const reading = (async () => {
        for await (const chunk of interrupted.stderr.pipeThrough(new TextDecoderStream())) {
          printed += chunk;
        }
      })();
      await waitUntil(() => printed.includes("polls held"), {
        what: () => `the interrupted run's users to hold their polls; it printed\n${printed}`,
        timeoutMs: 120_000,
      });
      const pid = interrupted.pid;
      const own = async () =>
        (await simNamespaces()).filter((name) => name.startsWith(`${SIM_PREFIX}${pid}-`));
      const started: number[] = [];
      for (const netns of await own()) {
        started.push(
          ...(await run(["netns", "pids", netns])).split(/\s+/).filter(Boolean).map(Number),
        );
      }
      assert.ok(started.length >= 6 + 6 + 2, `its processes: ${started}`);
      interrupted.kill("SIGINT");
      assert.equal((await interrupted.status).code, 130, `the interrupted run printed\n${printed}`);
      await reading;
      assert.deepEqual(await own(), []);
      // A process killed a moment ago may stay a zombie until init reaps it.
      const running = (child: number) => {
        try {
          return !/^\d+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${child}/stat`));
        } catch {
          return false;
        }
      };
      let left = started;
      await pollUntil(() => (left = started.filter(running)).length === 0, { timeoutMs: 5_000 });
      assert.deepEqual(left, [], "no process of the interrupted run is left");

      const json = await Deno.makeTempFile({ prefix: "lpsim-test-", suffix: ".json" });
      const short = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", _MAIN, "--calm=10", `--json=${json}`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const table = new TextDecoder().decode(short.stdout);
      assert.equal(short.code, 0, table + new TextDecoder().decode(short.stderr).slice(-4000));
      const results: ScenarioResult[] = JSON.parse(await Deno.readTextFile(json));
      await Deno.remove(json);
      assert.deepEqual(results.map((r) => [r.fault, r.atLeastOnce]), [["kill-master", true], [
        "sigstop",
        false,
      ]]);
      for (const result of results) {
        // At least 100 messages/s over the 10 s + fault + 10 s of load.
        assert.ok(result.acknowledged + result.uncertain >= 100 * 25, JSON.stringify(result));
        assert.deepEqual(
          result.lost,
          [],
          `${result.fault}: nothing lost (${result.loggedLost} logged)`,
        );
        assert.equal(result.duplicatesUnmarked, 0, `${result.fault}: no unmarked duplicate`);
        assert.ok(
          result.wake.after.count > 0 && result.wake.after.p50 < 1000,
          JSON.stringify(result.wake),
        );
      }
      assert.match(table, /^\| kill-master \| at-least-once \| \d+ \/ \d+ \| 0 \|/m);
      assert.deepEqual(
        (await simNamespaces()).filter((name) => !staleNamespaces([name], () => false).length),
        [],
      );
    },
  ),
  ignore: !_canSimulate || !_runsAlone,
});
