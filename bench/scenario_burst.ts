/**
 * The burst scenario: 1,000 messages wait for one uid, and one client that
 * long-polls in a loop (one keep-alive connection, `fetch` in the bench
 * process) takes them all. Ours is read once one message per poll and once
 * with `max=32` (JSON arrays of up to 32); Nchan one message per request, as
 * its long-poll protocol goes (`Last-Modified` and `Etag` sent back as
 * `If-Modified-Since` and `If-None-Match`). Timed from the first poll to the
 * last message; every message must arrive once and in order.
 *
 * @module
 */
import { RespClient } from "./resp_client.ts";
import { type RigOptions, startRig } from "./rig.ts";
import type { BenchTarget } from "./target.ts";

/** Messages in a burst. */
export const BURST_MESSAGES = 1_000;
/** `max=` of the batched read. */
export const BURST_MAX = 32;
/** The uid (or Nchan channel) of the burst. */
const UID = "burst0";
/** Gives up on a read after this long. */
const TIMEOUT_MS = 30_000;

/** How a burst was read. */
export type BurstMode = "one" | "batch";

/** Figures of one burst read. */
export interface BurstResult {
  /** Name of the target. */
  name: string;
  /** One message per poll, or `max=` batches. */
  mode: BurstMode;
  /** Messages in the burst. */
  messages: number;
  /** Wall time from the first poll to the last message, in ms. */
  ms: number;
  /** Polls made. */
  polls: number;
  /** Messages missing, repeated or out of order, and failed polls. */
  errors: number;
  /** What the check found, in words. */
  check: string;
}

/** Options of {@linkcode runBurst}: where the target runs, and the reads to time. */
export interface BurstOptions extends RigOptions {
  /** The reads to time: ours takes both, Nchan only `"one"`. */
  modes: readonly BurstMode[];
  /** Prints progress. */
  log: (line: string) => void;
}

/**
 * Starts the target on a fresh Redis and, for each mode, queues a burst and
 * times its read. Stops everything after.
 *
 * @example
 * ```ts ignore
 * import { runBurst } from "./scenario_burst.ts";
 * const [one, batch] = await runBurst({ group, dir, start, modes: ["one", "batch"], log: console.log });
 * console.log(one.ms, batch.polls);
 * ```
 */
export async function runBurst(options: BurstOptions): Promise<BurstResult[]> {
  await using rig = await startRig(options);
  const results: BurstResult[] = [];
  for (const mode of options.modes) {
    const uid = `${UID}-${mode}`;
    await _queueBurst(rig.target, uid);
    const result = await _readBurst(rig.target, uid, mode);
    options.log(
      `  ${result.name}, ${mode === "one" ? "one per poll" : `max=${BURST_MAX}`}: ${
        result.ms.toFixed(0)
      } ms, ${result.polls} polls, errors ${result.errors}; ${result.check}`,
    );
    results.push(result);
  }
  return results;
}

/** The burst's messages, oldest first. */
function _messages(): string[] {
  return Array.from({ length: BURST_MESSAGES }, (_, i) => `{"n":${i}}`);
}

/** Ours: `LPUSH`es of 100 messages, pipelined; Nchan: one `POST` each, in order. */
async function _queueBurst(target: BenchTarget, uid: string): Promise<void> {
  const messages = _messages();
  const { publish } = target;
  if (publish.kind === "redis") {
    const redis = await RespClient.connect({ port: publish.port });
    try {
      const commands: string[][] = [];
      for (let i = 0; i < messages.length; i += 100) {
        commands.push(["LPUSH", `${publish.keyPrefix}${uid}`, ...messages.slice(i, i + 100)]);
      }
      const replies = await redis.pipeline(commands);
      const refused = replies.find((reply) => typeof reply !== "number");
      if (refused !== undefined) {
        throw new Error(`Cannot queue the burst: LPUSH answered ${JSON.stringify(refused)}`);
      }
    } finally {
      redis.close();
    }
    return;
  }
  for (const message of messages) {
    const response = await fetch(
      `http://127.0.0.1:${publish.port}${publish.path}${encodeURIComponent(uid)}`,
      { method: "POST", body: message },
    );
    await response.body?.cancel();
    if (response.status >= 300) {
      throw new Error(`Cannot publish the burst to "${uid}": answered ${response.status}`);
    }
  }
}

/** Polls in a loop until every message is in, then checks them. */
async function _readBurst(target: BenchTarget, uid: string, mode: BurstMode): Promise<BurstResult> {
  const base = `http://127.0.0.1:${target.port}${target.pollPath}${encodeURIComponent(uid)}`;
  const url = mode === "batch" ? `${base}&max=${BURST_MAX}` : base;
  const received: string[] = [];
  const headers: Record<string, string> = {};
  let polls = 0;
  let failed = 0;
  const signal = AbortSignal.timeout(TIMEOUT_MS);
  const started = performance.now();
  while (received.length < BURST_MESSAGES && !signal.aborted) {
    polls++;
    let response: Response;
    try {
      response = await fetch(url, { headers, signal });
    } catch {
      failed++;
      break;
    }
    const body = await response.text();
    if (response.status !== 200) {
      failed++;
      continue;
    }
    // Nchan's long-poll protocol: the next request names the message last read.
    const modified = response.headers.get("last-modified");
    const etag = response.headers.get("etag");
    if (modified !== null) headers["If-Modified-Since"] = modified;
    if (etag !== null) headers["If-None-Match"] = etag;
    if (mode === "one") received.push(body);
    else received.push(...(JSON.parse(body) as unknown[]).map((value) => JSON.stringify(value)));
  }
  const ms = performance.now() - started;
  const wrong = _wrong(received);
  const errors = wrong + failed;
  return {
    name: target.name,
    mode,
    messages: BURST_MESSAGES,
    ms,
    polls,
    errors,
    check: errors === 0
      ? `all ${BURST_MESSAGES} arrived once, in order`
      : `${received.length} received, ${wrong} missing, repeated or out of order, ${failed} polls failed`,
  };
}

/** Messages missing, repeated or out of place against the burst. */
function _wrong(received: readonly string[]): number {
  const expected = _messages();
  let wrong = Math.abs(received.length - expected.length);
  for (let i = 0; i < Math.min(received.length, expected.length); i++) {
    if (received[i] !== expected[i]) wrong++;
  }
  return wrong;
}
