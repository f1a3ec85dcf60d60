/**
 * Leader election over a `BroadcastChannel`, where the Web Locks API is
 * missing. The leader says so every 150 ms. A tab claims the lead when it
 * starts, when the leader says it leaves (a closing tab does, on
 * `pagehide`), or after 400 ms without a word from it (a crashed tab),
 * each after a random delay of up to 100 ms; it takes the lead unless,
 * within 150 ms, a leader answers or another claims with a smaller id. A
 * tab that hears a claim waits for its outcome. A live leader answers
 * every claim at once, so a leader whose timers a background tab slows
 * down keeps the lead. Two leaders that hear each other settle it: the
 * larger id steps down.
 *
 * @module
 */
import type { LeadershipOptions } from "./leadership_options.ts";

/** How often the leader says it leads, in milliseconds. */
const BEAT_MS = 150;
/** Silence after which a follower claims the lead, in milliseconds. */
const SILENCE_MS = 400;
/** How long a claim waits for an objection, in milliseconds. */
const CLAIM_MS = 150;
/** Most random delay added before a claim, in milliseconds. */
const JITTER_MS = 100;

type _Signal = { type: "beat" | "claim" | "leave"; id: string };

/**
 * Runs for the lead of the group `options.name` among the candidates that
 * share a `BroadcastChannel`.
 *
 * @example
 * ```ts
 * import { leadWithChannel } from "./channel_leadership.ts";
 * const stop = new AbortController();
 * const { promise, resolve } = Promise.withResolvers<boolean>();
 * leadWithChannel({
 *   name: "example channel election",
 *   signal: stop.signal,
 *   lead: (lost, takeover) => {
 *     resolve(takeover);
 *     return new Promise((done) => lost.addEventListener("abort", () => done()));
 *   },
 * });
 * console.log(await promise); // false
 * stop.abort();
 * ```
 */
export function leadWithChannel(options: LeadershipOptions): void {
  const { signal } = options;
  if (signal.aborted) return;
  const id = Math.random().toString(36).slice(2) + Date.now().toString(36);
  const channel = new BroadcastChannel(`${options.name} election`);
  let state: "follower" | "candidate" | "leader" = "candidate";
  let heardLeader = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let beats: ReturnType<typeof setInterval> | undefined;
  let lost: AbortController | undefined;

  const post = (type: _Signal["type"]) => channel.postMessage({ type, id } satisfies _Signal);
  const after = (ms: number, next: () => void) => {
    clearTimeout(timer);
    timer = setTimeout(next, ms);
  };
  // Claims come after a random delay, so that of the tabs that notice the
  // same silence at once, one claims first and the others follow it.
  const follow = (ms = SILENCE_MS) => {
    state = "follower";
    after(ms + Math.random() * JITTER_MS, claim);
  };
  const claim = () => {
    state = "candidate";
    post("claim");
    after(CLAIM_MS, lead);
  };
  const stepDown = () => {
    clearInterval(beats);
    lost?.abort();
    lost = undefined;
    follow();
  };
  const lead = () => {
    state = "leader";
    clearTimeout(timer);
    post("beat");
    beats = setInterval(() => post("beat"), BEAT_MS);
    const current = lost = new AbortController();
    options.lead(current.signal, heardLeader).catch(() => {}).finally(() => {
      if (lost !== current || signal.aborted) return;
      // It gave up the lead on its own.
      post("leave");
      stepDown();
    });
  };

  channel.onmessage = (event: MessageEvent) => {
    const { type, id: from } = (event.data ?? {}) as Partial<_Signal>;
    if (typeof from !== "string" || from === id) return;
    if (type === "beat") {
      heardLeader = true;
      if (state !== "leader") follow();
      else if (from < id) stepDown();
      else post("beat"); // the other one steps down
    } else if (type === "claim") {
      if (state === "leader") post("beat");
      else if (state === "follower" || from < id) follow(); // its claim goes first
    } else if (type === "leave") {
      heardLeader = true;
      if (state === "follower") follow(0);
    }
  };
  const leave = () => {
    if (state !== "leader") return;
    post("leave");
    stepDown();
  };
  globalThis.addEventListener?.("pagehide", leave);
  signal.addEventListener("abort", () => {
    leave();
    clearTimeout(timer);
    globalThis.removeEventListener?.("pagehide", leave);
    channel.close();
  }, { once: true });
  follow(0);
}
