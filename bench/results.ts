/**
 * The figures of one bench run, as the report and the chart read them.
 *
 * @module
 */
import type { NotifyCost } from "./notify_cost.ts";
import type { HeldRun } from "./scenario_held.ts";
import type { CrossResult } from "./cross_check.ts";
import type { BurstResult } from "./scenario_burst.ts";
import type { HitResult } from "./scenario_hit.ts";
import type { IdleResult } from "./idle.ts";
import { type Runtime, RUNTIME_LABELS } from "./runtime.ts";
import type { ScaleResult } from "./scenario_scale.ts";

/** Everything one `deno task bench` run measured. */
export interface BenchResults {
  /** ISO date and time of the start. */
  date: string;
  /** The command that was run. */
  command: string;
  /** Logical CPUs. */
  cores: number;
  /** CPU model. */
  cpu: string;
  /** The commit measured, and whether the tree had changes. */
  code: string;
  /** `deno --version`, first line. */
  denoVersion: string;
  /** nginx and Nchan versions, when present. */
  peerVersion?: string;
  /** Why Nchan did not run, when it did not. */
  nchanMissing?: string;
  /** Sizes used, in words. */
  sizes: string;
  /** Wall time of the whole run, in s. */
  durationSeconds: number;
  /** The runtimes ours ran on: which, through which task, and their versions. */
  runtimes: { runtime: Runtime; task: string; version: string }[];
  /** Why a runtime asked for did not run. */
  runtimesMissing: string[];
  /** Held and wake sweeps: ours on each runtime (and with early headers on Deno), Nchan. */
  held: HeldRun[];
  /** Hit runs (wrk): ours and Nchan on one uid and on many; Deno hello world and the bare pop. */
  hit: HitResult[];
  /** The held and wake figures again, from a second, independent client. */
  cross: CrossResult[];
  /** Why the cross-check did not run, when it did not. */
  crossMissing?: string;
  /** Scale runs: ours on Deno, Nchan. */
  scale: ScaleResult[];
  /** Why the peer's scale run did not finish, when it did not. */
  scaleFailed?: string;
  /** Bursts of 1,000 messages to one uid: ours on each runtime one per poll and batched, Nchan. */
  burst?: BurstResult[];
  /** Server-Sent Events streams held and woken: ours on each runtime, Nchan's EventSource. */
  sse?: HeldRun[];
  /** Why the SSE scenario did not run, when it did not. */
  sseMissing?: string;
  /** Idle RSS at start-up and settled, per server (with the held scenario). */
  idle?: IdleResult[];
  /** Redis CPU spent on keyspace notifications (wake scenario). */
  notify?: NotifyCost;
}

/** Names of the peers, as the scenarios report them. */
export const NAMES = {
  nchan: "Nchan",
  nchanMemory: "Nchan, memory store",
  nchanEvents: "Nchan EventSource, memory store",
} as const;

/**
 * The name of ours holding Server-Sent Events streams on a runtime
 * (`DELIVERY=stream`, in-memory store).
 *
 * @example
 * ```ts
 * import { sseName } from "./results.ts";
 * console.log(sseName("bun")); // ours on Bun, SSE (DELIVERY=stream, memory store)
 * ```
 */
export function sseName(runtime: Runtime): string {
  return `ours on ${RUNTIME_LABELS[runtime]}, SSE (DELIVERY=stream, memory store)`;
}

/** The reference servers: the ceiling (hello world) and the floors (bare pop, bare hold). */
export type ReferenceKind = "hello" | "bare" | "hold";

const _REFERENCE_LABELS: Record<ReferenceKind, string> = {
  hello: "hello world",
  bare: "bare node-redis pop",
  hold: "bare hold",
};

/**
 * The name of a reference server on a runtime, as the scenarios report it.
 *
 * @example
 * ```ts
 * import { referenceName } from "./results.ts";
 * console.log(referenceName("hold", "bun")); // bare hold on Bun
 * ```
 */
export function referenceName(kind: ReferenceKind, runtime: Runtime): string {
  return `${_REFERENCE_LABELS[kind]} on ${RUNTIME_LABELS[runtime]}`;
}

/**
 * The name of the embedded default on a runtime: `mod.ts`'s handler on a
 * `MemoryStore` (`bench/memory_server.ts`).
 *
 * @example
 * ```ts
 * import { embeddedName } from "./results.ts";
 * console.log(embeddedName("deno")); // ours embedded on Deno, memory store
 * ```
 */
export function embeddedName(runtime: Runtime): string {
  return `ours embedded on ${RUNTIME_LABELS[runtime]}, memory store`;
}

/**
 * The name of ours on a runtime, as the scenarios report it.
 *
 * @example
 * ```ts
 * import { oursName } from "./results.ts";
 * console.log(oursName("bun"), "/", oursName("deno", true)); // ours on Bun / ours on Deno, early headers
 * ```
 */
export function oursName(runtime: Runtime, early = false): string {
  return `ours on ${RUNTIME_LABELS[runtime]}${early ? ", early headers" : ""}`;
}
