/**
 * A load-client process: holds polls on raw HTTP/1.1 sockets, publishes and
 * times wake-ups. The coordinator
 * (`load_client.ts`) drives it with JSON lines on stdin; see
 * `worker_protocol.ts`. One process stays under the 20,000 open files limit.
 *
 * @module
 */
import net from "node:net";
import { type HttpResponse, HttpResponseParser } from "../testing/http_response.ts";
import { RespClient } from "./resp_client.ts";
import type {
  CloseReply,
  FireCommand,
  FireReply,
  FireRunReply,
  OpenCommand,
  OpenReply,
  PublishSpec,
  StatsReply,
  WorkerCommand,
} from "./worker_protocol.ts";

interface _Poll {
  socket: net.Socket;
  parser: HttpResponseParser;
  /** A Server-Sent Events stream: what it received since its last wake was fired. */
  stream?: { head: boolean; text: string; onEvent: ((text: string) => void) | undefined };
  uid: string;
  generation: number;
  state: "connecting" | "held" | "fired" | "dead";
  firedAt: number;
  onAnswer: ((response: HttpResponse) => void) | undefined;
}

interface _Target {
  host: string;
  port: number;
  path: string;
  localAddress: string;
  stream: boolean;
}

const polls: _Poll[] = [];
const targets: _Target[] = [];
let errors = 0;
const unexpected: Record<string, number> = {};
let closing = false;

const redisClients = new Map<number, RespClient>();
const DECODER = new TextDecoder();
/** What a poll whose connection failed answers. */
const _DROPPED: HttpResponse = {
  status: 0,
  headers: new Headers(),
  body: new Uint8Array(0),
  close: true,
  complete: false,
};
const httpPublishers = new Map<number, _HttpPublisher>();

function _request(target: _Target, uid: string): string {
  // Nchan's EventSource subscriber wants the Accept header of an EventSource.
  const accept = target.stream ? "Accept: text/event-stream\r\n" : "";
  return `GET ${target.path}${encodeURIComponent(uid)} HTTP/1.1\r\nHost: bench\r\n${accept}\r\n`;
}

function _openPoll(target: _Target, uid: string, onSettled: (ok: boolean) => void): _Poll {
  const socket = net.connect({
    host: target.host,
    port: target.port,
    localAddress: target.localAddress,
  });
  const poll: _Poll = {
    socket,
    parser: new HttpResponseParser(),
    uid,
    generation: 0,
    state: "connecting",
    firedAt: 0,
    onAnswer: undefined,
  };
  socket.setNoDelay(true);
  socket.on("connect", () => {
    poll.state = "held";
    socket.write(_request(target, uid));
    onSettled(true);
  });
  if (target.stream) {
    poll.stream = { head: false, text: "", onEvent: undefined };
    socket.on("data", (bytes: Uint8Array) => _streamData(poll, bytes));
  } else {socket.on("data", (bytes: Uint8Array) => {
      let responses: HttpResponse[];
      try {
        responses = poll.parser.feed(bytes);
      } catch {
        _fail(poll, "parse");
        return;
      }
      for (const response of responses) {
        if (poll.state === "fired" && poll.onAnswer !== undefined) {
          const onAnswer = poll.onAnswer;
          poll.onAnswer = undefined;
          onAnswer(response);
        } else {
          unexpected[response.status] = (unexpected[response.status] ?? 0) + 1;
          poll.state = "dead";
          socket.destroy();
        }
      }
    });}
  socket.on("error", () => {
    if (poll.state === "connecting") onSettled(false);
    _fail(poll, "error");
  });
  socket.on("close", () => _fail(poll, "close"));
  return poll;
}

/** Bytes of a stream: its head must be a 200; a fired wake waits for its message in them. */
function _streamData(poll: _Poll, bytes: Uint8Array): void {
  const stream = poll.stream!;
  const text = DECODER.decode(bytes, { stream: true });
  if (!stream.head) {
    stream.head = true;
    const status = Number(text.slice(9, 12));
    if (status !== 200) {
      unexpected[status] = (unexpected[status] ?? 0) + 1;
      poll.state = "dead";
      poll.socket.destroy();
      return;
    }
  }
  if (stream.onEvent === undefined) return;
  stream.text += text;
  stream.onEvent(stream.text);
}

function _fail(poll: _Poll, _why: string): void {
  if (poll.state === "dead" || closing) {
    poll.state = "dead";
    return;
  }
  if (poll.state !== "connecting") errors++;
  poll.state = "dead";
  poll.socket.destroy();
  const onAnswer = poll.onAnswer;
  poll.onAnswer = undefined;
  onAnswer?.(_DROPPED);
  poll.stream?.onEvent?.("");
}

async function _open(command: OpenCommand): Promise<OpenReply> {
  const started = performance.now();
  const deadline = started + command.timeoutMs;
  let pending = 0;
  let opened = 0;
  let failed = 0;
  let wake: (() => void) | undefined;
  const settled = (ok: boolean) => {
    pending--;
    if (ok) opened++;
    else failed++;
    wake?.();
  };
  const waitForRoom = (limit: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (pending <= limit || performance.now() > deadline) {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
      };
      const timer = setTimeout(() => {
        wake = undefined;
        resolve();
      }, Math.max(0, deadline - performance.now()));
      wake = check;
      check();
    });
  for (let i = 0; i < command.count && performance.now() < deadline; i++) {
    if (pending >= command.maxPending) await waitForRoom(command.maxPending - 1);
    const target: _Target = {
      host: command.host,
      port: command.port,
      path: command.path,
      localAddress: command.localAddresses[i % command.localAddresses.length],
      stream: command.stream === true,
    };
    targets.push(target);
    pending++;
    polls.push(_openPoll(target, `${command.uidPrefix}${i}`, settled));
  }
  await waitForRoom(0);
  return { opened, errors: failed + pending, ms: performance.now() - started };
}

/**
 * Publishes `message` to a held stream's uid and times it to the first
 * bytes that carry it (`data: <message>`); the stream stays open on its uid.
 */
async function _fireStream(command: FireCommand, poll: _Poll, message: string): Promise<FireReply> {
  const stream = poll.stream!;
  poll.state = "fired";
  stream.text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const seen = new Promise<boolean>((resolve) => {
    stream.onEvent = (text) => {
      if (text === "" || text.includes(`data: ${message}`)) resolve(text !== "");
    };
    timer = setTimeout(() => resolve(false), command.timeoutMs);
  });
  const started = performance.now();
  let ackMs: number | undefined;
  try {
    await _publish(command.publish, poll.uid, message);
    ackMs = performance.now() - started;
  } catch (error) {
    clearTimeout(timer);
    stream.onEvent = undefined;
    poll.state = "held";
    return { error: `publish: ${(error as Error).message}` };
  }
  const delivered = await seen;
  const ms = performance.now() - started;
  clearTimeout(timer);
  stream.onEvent = undefined;
  stream.text = "";
  if (!delivered) {
    _fail(poll, "timeout");
    return { error: "no event in time", ackMs };
  }
  poll.state = "held";
  return { ms, ackMs };
}

/** Tries before a message whose poll is gone gives up: each try picks another poll. */
const FIRE_TRIES = 6;

async function _fireRun(command: FireCommand): Promise<FireRunReply> {
  const replies: FireReply[] = [];
  for (let i = 0; i < command.messages.length; i++) {
    let index = command.indexes[i];
    let reply = await _fire(command, index, command.messages[i]);
    for (let tries = 1; tries < FIRE_TRIES && reply.error === "not held"; tries++) {
      index = Math.floor(Math.random() * polls.length);
      reply = await _fire(command, index, command.messages[i]);
    }
    replies.push(reply);
  }
  return { replies };
}

async function _fire(command: FireCommand, index: number, message: string): Promise<FireReply> {
  const poll = polls[index];
  if (poll === undefined || poll.state !== "held") return { error: "not held" };
  if (poll.stream !== undefined) return await _fireStream(command, poll, message);
  const target = targets[index];
  poll.state = "fired";
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ackMs: number | undefined;
  const answered = new Promise<HttpResponse | undefined>((resolve) => {
    poll.onAnswer = resolve;
    timer = setTimeout(() => resolve(undefined), command.timeoutMs);
  });
  const started = performance.now();
  try {
    await _publish(command.publish, poll.uid, message);
    ackMs = performance.now() - started;
  } catch (error) {
    clearTimeout(timer);
    poll.onAnswer = undefined;
    poll.state = "held";
    return { error: `publish: ${(error as Error).message}` };
  }
  const response = await answered;
  const ms = performance.now() - started;
  clearTimeout(timer);
  if (response === undefined) {
    poll.onAnswer = undefined;
    _fail(poll, "timeout");
    return { error: "no answer in time", ackMs };
  }
  const body = DECODER.decode(response.body);
  if (response.status !== 200 || body !== message) {
    if ((poll.state as string) !== "dead") _fail(poll, "wrong answer");
    return { error: `answer ${response.status} "${body.slice(0, 60)}"`, ackMs };
  }
  // Poll again on the same connection with a fresh uid, so the count held stays put.
  poll.generation++;
  poll.uid = `${poll.uid.split("~")[0]}~${poll.generation}`;
  if (response.close) {
    const next = _openPoll(target, poll.uid, () => {});
    polls[index] = next;
  } else {
    poll.state = "held";
    poll.socket.write(_request(target, poll.uid));
  }
  return { ms, ackMs };
}

async function _publish(spec: PublishSpec, uid: string, message: string): Promise<void> {
  if (spec.kind === "redis") {
    let client = redisClients.get(spec.port);
    if (client === undefined) {
      client = await RespClient.connect({ port: spec.port });
      redisClients.set(spec.port, client);
    }
    const reply = await client.command(["LPUSH", `${spec.keyPrefix}${uid}`, message]);
    if (typeof reply !== "number") throw new Error(`LPUSH answered ${JSON.stringify(reply)}`);
    return;
  }
  let publisher = httpPublishers.get(spec.port);
  if (publisher === undefined) {
    publisher = await _HttpPublisher.connect(spec.port);
    httpPublishers.set(spec.port, publisher);
  }
  const response = await publisher.post(`${spec.path}${encodeURIComponent(uid)}`, message);
  if (response.status >= 300) throw new Error(`publisher answered ${response.status}`);
}

/** A keep-alive HTTP connection for POSTs, one at a time. */
class _HttpPublisher {
  readonly #conn: Deno.TcpConn;
  readonly #parser = new HttpResponseParser();
  readonly #buffer = new Uint8Array(16 * 1024);
  readonly #encoder = new TextEncoder();

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  static async connect(port: number): Promise<_HttpPublisher> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new _HttpPublisher(conn);
  }

  async post(path: string, body: string): Promise<HttpResponse> {
    const bytes = this.#encoder.encode(body);
    // A loopback Host: ours opens `/publish` on the in-memory store to local requests only.
    const head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${bytes.length}\r\n\r\n`;
    await this.#conn.write(this.#encoder.encode(head + body));
    for (let round = 0; round < 10_000; round++) {
      const n = await this.#conn.read(this.#buffer);
      if (n === null) throw new Error("publisher closed the connection");
      const done = this.#parser.feed(this.#buffer.subarray(0, n));
      if (done.length > 0) return done[0];
    }
    throw new Error("publisher answer never ended");
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // closed
    }
  }
}

function _stats(): StatsReply {
  let held = 0;
  let headers = 0;
  for (const poll of polls) {
    if (poll.state !== "held") continue;
    held++;
    if (poll.parser.headersSeen) headers++;
  }
  return { held, headers, errors, unexpected };
}

function _close(): CloseReply {
  closing = true;
  let closed = 0;
  for (const poll of polls) {
    if (poll.state !== "dead") closed++;
    poll.state = "dead";
    poll.socket.destroy();
  }
  for (const client of redisClients.values()) client.close();
  for (const publisher of httpPublishers.values()) publisher.close();
  return { closed };
}

async function _handle(command: WorkerCommand): Promise<unknown> {
  switch (command.op) {
    case "open":
      return await _open(command);
    case "fire":
      return await _fireRun(command);
    case "stats":
      return _stats();
    case "close":
      return _close();
  }
}

function _reply(rid: number, body: unknown): void {
  console.log(JSON.stringify({ rid, ...(body as object) }));
}

async function _main(): Promise<void> {
  const decoder = new TextDecoder();
  let text = "";
  const inFlight = new Set<Promise<void>>();
  for await (const chunk of Deno.stdin.readable) {
    text += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = text.indexOf("\n")) >= 0) {
      const line = text.slice(0, newline);
      text = text.slice(newline + 1);
      if (line.trim() === "") continue;
      const command = JSON.parse(line) as WorkerCommand;
      const task = _handle(command).then(
        (body) => _reply(command.rid, body),
        (error) => _reply(command.rid, { error: `worker: ${(error as Error).message}` }),
      ).then(() => {
        inFlight.delete(task);
        if (command.op === "close") Deno.exit(0);
      });
      inFlight.add(task);
    }
  }
  // stdin closed: the coordinator is gone, so go too.
  _close();
  Deno.exit(0);
}

if (import.meta.main) await _main();
