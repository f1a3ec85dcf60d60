/**
 * Settings whose seconds become timers: a value beyond the longest runtime
 * timer (2^31 - 1 ms, 24.8 days) must not make the idle server spin. A real
 * server process, its CPU time read from /proc.
 */
import assert from "node:assert/strict";
import { startServe } from "../testing/serve_process.ts";
import { sleep } from "../testing/wait_until.ts";

/** CPU time (user + system) of process `pid` so far, in clock ticks (10 ms). */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

Deno.test({
  name: "long timers: LEASE of 29 days holds a message in flight with the server idle",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    await using server = await startServe({ AT_LEAST_ONCE: "true", LEASE: "2500000" });
    const published = await fetch(`${server.origin}/publish?uid=u1`, {
      method: "POST",
      body: '{"n":1}',
    });
    assert.equal(published.status, 202, await published.text());
    const poll = await fetch(`${server.origin}/?uid=u1`);
    assert.equal(poll.status, 200);
    assert.equal(await poll.text(), '{"n":1}');
    assert.ok(poll.headers.get("x-ack-id"), "the message is leased");
    // The lease's timer is armed now; the server has nothing else to do.
    await sleep(200);
    const before = await cpuTicks(server.process.pid);
    await sleep(2000);
    const used = (await cpuTicks(server.process.pid)) - before;
    assert.ok(used <= 5, `the idle server used ${used * 10} ms of CPU in 2 s`);
    const metrics = await (await fetch(`${server.origin}/metrics`)).text();
    assert.match(metrics, /longpoll_delivered_total 1\b/);
  },
});
