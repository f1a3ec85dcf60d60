/**
 * The producer host's program: plain `LPUSH Q/MSG<uid>` to Redis at a
 * steady rate, each message `{"id":<n>,"t":<unix ms>}` to a random user, and
 * `WAIT 1 <ms>` after each push, so a push counts as acknowledged only once
 * a replica has it (a master killed with an acknowledged, unreplicated push
 * would lose it in Redis itself, not in the app). It prints `producing`
 * once connected, and writes {@linkcode ProducerLog} as JSON to `--out` when
 * it gets SIGTERM.
 *
 * Run: `deno run -A sim/producer.ts --redis=<REDIS_URL> --rate=120 --users=2000 --out=p.json`, or
 * with `--sentinels=<ip:port,…> --name=mymaster` instead of `--redis` to follow the primary
 * the Sentinels name.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createClient, createCluster } from "redis";

/** What the producer did, by message id. */
export interface ProducerLog {
  /** `[id, uid number, unix ms]` of each push a replica acknowledged. */
  acked: [number, number, number][];
  /** The same of pushes that failed or timed out, or that no replica acknowledged: they may or may not be in Redis. */
  uncertain: [number, number, number][];
}

/** A push that takes longer is given up (and counted uncertain). */
const _PUSH_TIMEOUT_MS = 2_000;

if (import.meta.main) {
  const { values: args } = parseArgs({
    args: Deno.args,
    options: {
      redis: { type: "string" },
      sentinels: { type: "string" },
      name: { type: "string", default: "mymaster" },
      out: { type: "string" },
      rate: { type: "string", default: "120" },
      users: { type: "string", default: "2000" },
    },
  });
  const { send } = args.sentinels === undefined
    ? await _connect(String(args.redis).split(","))
    : await _connectBySentinels(args.sentinels.split(","), args.name);
  const log: ProducerLog = { acked: [], uncertain: [] };
  const push = async (id: number) => {
    const user = Math.floor(Math.random() * Number(args.users));
    const key = `Q/MSG${user}`;
    const t = Date.now();
    try {
      const replicas = await _withTimeout(Promise.all([
        send(key, ["LPUSH", key, JSON.stringify({ id, t })]),
        send(key, ["WAIT", "1", "1000"]),
      ]));
      if (Number(replicas[1]) >= 1) log.acked.push([id, user, t]);
      else log.uncertain.push([id, user, t]);
    } catch {
      log.uncertain.push([id, user, t]);
    }
  };
  console.log("producing");
  const started = performance.now();
  const pending: Promise<void>[] = [];
  let stopping = false;
  Deno.addSignalListener("SIGTERM", () => stopping = true);
  for (let id = 0; !stopping;) {
    const due = Math.floor((performance.now() - started) / 1000 * Number(args.rate));
    while (id < due) pending.push(push(id++));
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await Promise.all(pending);
  await Deno.writeTextFile(String(args.out), JSON.stringify(log));
  // No close: a cluster client may wait for a killed node; exiting closes every socket.
  console.log(`produced ${log.acked.length} acknowledged, ${log.uncertain.length} uncertain`);
  Deno.exit(0);
}

/** A cluster client for several URLs, else a plain one; `send` goes to the node of `key`. */
async function _connect(urls: string[]) {
  const defaults = { disableOfflineQueue: true, socket: { connectTimeout: 1000 } };
  if (urls.length > 1) {
    const cluster = createCluster({ rootNodes: urls.map((url) => ({ url })), defaults });
    cluster.on("error", () => {});
    await cluster.connect();
    return {
      send: (key: string, args: string[]) =>
        cluster.sendCommand(key, false, args) as Promise<unknown>,
    };
  }
  const client = createClient({ url: urls[0], ...defaults });
  client.on("error", () => {});
  await client.connect();
  return {
    send: (_key: string, args: string[]) => client.sendCommand(args) as Promise<unknown>,
  };
}

/**
 * A client of the primary the Sentinels at `addresses` name; on an error it
 * asks them again (once at a time) and moves to the primary they name.
 */
async function _connectBySentinels(addresses: string[], name: string) {
  const defaults = { disableOfflineQueue: true, socket: { connectTimeout: 1000 } };
  let client: { sendCommand(args: string[]): Promise<unknown>; destroy(): void } | undefined;
  let asking: Promise<void> | undefined;
  const ask = () =>
    asking ??= (async () => {
      for (const address of addresses) {
        const sentinel = createClient({ url: `redis://${address}`, ...defaults });
        sentinel.on("error", () => {});
        try {
          await sentinel.connect();
          const [host, port] = await sentinel.sendCommand([
            "SENTINEL",
            "GET-MASTER-ADDR-BY-NAME",
            name,
          ]) as string[];
          const next = createClient({ url: `redis://${host}:${port}`, ...defaults });
          next.on("error", () => {});
          await next.connect();
          const previous = client;
          client = next;
          previous?.destroy();
          return;
        } catch {
          // ask the next Sentinel
        } finally {
          sentinel.destroy();
        }
      }
    })().finally(() => asking = undefined);
  await ask();
  return {
    send: async (_key: string, args: string[]) => {
      try {
        if (client === undefined) throw new Error("Cannot push: no primary known");
        return await client.sendCommand(args) as unknown;
      } catch (error) {
        ask();
        throw error;
      }
    },
  };
}

function _withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("Cannot push: timed out")), _PUSH_TIMEOUT_MS);
    }),
  ]);
}
