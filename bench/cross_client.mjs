/**
 * A second load client for the held and wake scenarios, to cross-check the
 * bench's own (`load_worker.ts`): plain JavaScript for Node, on `node:http`
 * (Node's own HTTP parser) and `node:net`, sharing no code with the bench.
 *
 * Usage: `node bench/cross_client.mjs '<config JSON>'`, where the config is
 * `{ port, pollPath, count, uidPrefix, publish }` and `publish` is
 * `{ kind: "redis", port, keyPrefix }` or `{ kind: "http", port, path }`.
 *
 * It opens `count` polls (uid `<uidPrefix><i>`), one connection each, and
 * prints `{"opened":<n>,"errors":<n>}` once every request is written. Then it
 * reads commands on stdin, one per line:
 * - `wake <n>`: n times, publishes a message to a held poll picked at random
 *   and times it from the start of the publish to the last byte of the
 *   poll's answer, one after another; the woken poll polls again with a
 *   fresh uid. Prints `{"samples":[ms...],"errors":<n>,"errorSamples":[...]}`.
 * - `quit`: closes everything and exits.
 *
 * @module
 */
import http from "node:http";
import net from "node:net";
import process from "node:process";
import readline from "node:readline";

const config = JSON.parse(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
/** @type {{ uid: string, generation: number, state: string, onAnswer?: Function }[]} */
const polls = [];
let unasked = 0;

/** Sends the poll's GET; calls `written` once the request is on the wire. */
function poll(entry, written) {
  const request = http.get({
    host: "127.0.0.1",
    port: config.port,
    path: `${config.pollPath}${encodeURIComponent(entry.uid)}`,
    agent,
  });
  entry.state = "held";
  request.on("finish", () => written(true));
  request.on("error", (error) => {
    entry.state = "dead";
    written(false);
    entry.onAnswer?.({ status: 0, body: String(error) });
  });
  request.on("response", (response) => {
    const chunks = [];
    response.on("data", (chunk) => chunks.push(chunk));
    response.on("end", () => {
      const answer = { status: response.statusCode, body: Buffer.concat(chunks).toString() };
      if (entry.onAnswer === undefined) {
        unasked++;
        entry.state = "dead";
        return;
      }
      const onAnswer = entry.onAnswer;
      entry.onAnswer = undefined;
      onAnswer(answer);
    });
  });
}

/**
 * Opens every poll, at most `maxPending` whose request is not yet written at
 * a time (so that no burst overflows a listen queue and turns into SYN
 * retransmits); resolves with the counts once each is written or failed.
 */
function openAll(maxPending = 128) {
  return new Promise((resolve) => {
    let opened = 0;
    let errors = 0;
    let pending = 0;
    let next = 0;
    const more = () => {
      while (pending < maxPending && next < config.count) {
        const entry = { uid: `${config.uidPrefix}${next++}`, generation: 0, state: "new" };
        polls.push(entry);
        pending++;
        let settled = false;
        poll(entry, (ok) => {
          if (settled) return;
          settled = true;
          pending--;
          if (ok) opened++;
          else errors++;
          if (opened + errors === config.count) resolve({ opened, errors });
          else more();
        });
      }
    };
    more();
  });
}

/** A Redis connection that sends commands and reads integer or error replies in order. */
function connectRedis(port) {
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.setNoDelay(true);
  const waiting = [];
  let text = "";
  socket.on("data", (chunk) => {
    text += chunk.toString();
    let end;
    while ((end = text.indexOf("\r\n")) >= 0) {
      const line = text.slice(0, end);
      text = text.slice(end + 2);
      waiting.shift()?.(line);
    }
  });
  return (args) =>
    new Promise((resolve) => {
      waiting.push(resolve);
      const parts = args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
      socket.write(`*${args.length}\r\n${parts.join("")}`);
    });
}

const publisherAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const redisCommand = config.publish.kind === "redis" ? connectRedis(config.publish.port) : null;

/** Publishes `message` for `uid`; resolves with an error text, or undefined when accepted. */
function publish(uid, message) {
  if (redisCommand !== null) {
    return redisCommand(["LPUSH", `${config.publish.keyPrefix}${uid}`, message]).then((line) =>
      line.startsWith(":") ? undefined : `LPUSH answered ${line}`
    );
  }
  return new Promise((resolve) => {
    const request = http.request({
      method: "POST",
      host: "127.0.0.1",
      port: config.publish.port,
      path: `${config.publish.path}${encodeURIComponent(uid)}`,
      agent: publisherAgent,
      headers: { "content-type": "application/json" },
    }, (response) => {
      response.resume();
      response.on(
        "end",
        () => resolve(response.statusCode < 300 ? undefined : `publisher ${response.statusCode}`),
      );
    });
    request.on("error", (error) => resolve(`publisher: ${error.message}`));
    request.end(message);
  });
}

/** Times one wake of a held poll picked at random. */
async function wakeOne(n) {
  const held = polls.filter((entry) => entry.state === "held");
  if (held.length === 0) return { error: "no poll is held" };
  const entry = held[Math.floor(Math.random() * held.length)];
  const message = JSON.stringify({ cross: n, at: Date.now() });
  let timer;
  const answered = new Promise((resolve) => {
    entry.onAnswer = resolve;
    timer = setTimeout(() => resolve(undefined), 10_000);
  });
  const started = performance.now();
  const refused = await publish(entry.uid, message);
  if (refused !== undefined) {
    clearTimeout(timer);
    entry.onAnswer = undefined;
    return { error: refused };
  }
  const answer = await answered;
  const ms = performance.now() - started;
  clearTimeout(timer);
  if (answer === undefined) {
    entry.onAnswer = undefined;
    entry.state = "dead";
    return { error: "no answer within 10 s" };
  }
  if (answer.status !== 200 || answer.body !== message) {
    entry.state = "dead";
    return { error: `answer ${answer.status} ${answer.body.slice(0, 60)}` };
  }
  entry.generation++;
  entry.uid = `${entry.uid.split("~")[0]}~${entry.generation}`;
  poll(entry, () => {});
  return { ms };
}

async function wake(count) {
  const samples = [];
  const errorSamples = [];
  let errors = 0;
  for (let i = 0; i < count; i++) {
    const result = await wakeOne(i);
    if (result.ms !== undefined) samples.push(Math.round(result.ms * 1000) / 1000);
    else {
      errors++;
      if (errorSamples.length < 3) errorSamples.push(result.error);
    }
  }
  return { samples, errors: errors + unasked, errorSamples };
}

console.log(JSON.stringify(await openAll()));
for await (const line of readline.createInterface({ input: process.stdin })) {
  const [command, argument] = line.trim().split(" ");
  if (command === "wake") console.log(JSON.stringify(await wake(Number(argument))));
  if (command === "quit") break;
}
agent.destroy();
publisherAgent.destroy();
process.exit(0);
