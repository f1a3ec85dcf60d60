/**
 * The client host's program: `--users` users, each a long-poll loop of the
 * shipped client (`createLongPollClient`, one poll per user, no tab
 * sharing) through the load balancer. It records every answer as it came
 * off the wire (id, time, `X-Redelivered`) and every message the client
 * handed to the app, prints `polling` once every user has started, and on
 * SIGTERM stops and writes {@linkcode ClientLog} as JSON to `--out`.
 *
 * Run: `deno run -A sim/clients.ts --url=http://10.77.0.11/ --users=2000 --secret=… --out=c.json`
 *
 * @module
 */
import { parseArgs } from "node:util";
import { HmacSigner } from "../mod.ts";
import { createLongPollClient, type LongPollClient } from "../src/client/long_poll_client.ts";

/** What the users got: `[id, unix ms, redelivered 0|1]` per answer or per message. */
export interface ClientLog {
  /** Each answer that carried a message, as it came off the wire. */
  wire: [number, number, number][];
  /** Each message the client handed to the app (`onMessage`). */
  app: [number, number, number][];
}

if (import.meta.main) {
  const { values: args } = parseArgs({
    args: Deno.args,
    options: {
      url: { type: "string" },
      out: { type: "string" },
      secret: { type: "string" },
      users: { type: "string", default: "2000" },
    },
  });
  const log: ClientLog = { wire: [], app: [] };
  const signer = new HmacSigner({ secret: String(args.secret) });
  const recordWire = async (response: Response) => {
    if (response.status !== 200 || response.headers.get("X-Stop") === "true") return;
    const body = await response.text();
    try {
      const redelivered = response.headers.get("X-Redelivered") === "true" ? 1 : 0;
      log.wire.push([JSON.parse(body).id, Date.now(), redelivered]);
    } catch {
      // not one of the producer's messages
    }
  };
  const clients: LongPollClient[] = [];
  for (let user = 0; user < Number(args.users); user++) {
    const uid = String(user);
    const client = createLongPollClient({
      url: String(args.url),
      uid,
      sign: await signer.sign(uid),
      shareTabs: false,
      fetch: async (request) => {
        const response = await fetch(request);
        recordWire(response.clone()).catch(() => {});
        return response;
      },
      onMessage: (message, info) => {
        log.app.push([JSON.parse(message).id, Date.now(), info.redelivered ? 1 : 0]);
      },
      onEnd: (reason, detail) => console.error(`user ${uid} ended: ${reason} ${detail ?? ""}`),
    });
    client.start();
    clients.push(client);
  }
  console.log("polling");
  Deno.addSignalListener("SIGTERM", async () => {
    for (const client of clients) client.stop();
    await Deno.writeTextFile(String(args.out), JSON.stringify(log));
    console.log(`got ${log.wire.length} on the wire, ${log.app.length} in the app`);
    Deno.exit(0);
  });
}
