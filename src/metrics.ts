import { Histogram } from "./histogram.ts";
import { type End, ENDS } from "./outcome.ts";
/** How one counter of {@linkcode Metrics} is exported. */
export interface MetricSpec {
  /** The property of {@linkcode Metrics} that holds the value. */
  readonly key: MetricKey;
  /** The Prometheus name. */
  readonly name: string;
  /** `counter` or `gauge`. */
  readonly type: "counter" | "gauge";
  /** The `# HELP` text. */
  readonly help: string;
}

/** The numeric properties of {@linkcode Metrics}: one per exported metric. */
export type MetricKey = {
  [K in keyof Metrics]: Metrics[K] extends number ? K : never;
}[keyof Metrics];

/**
 * The server's counters, rendered in Prometheus text format by
 * {@linkcode Metrics.render}. Every numeric property is listed in
 * {@linkcode METRIC_SPECS}, so none is counted and never shown.
 *
 * @example
 * ```ts
 * import { Metrics } from "./metrics.ts";
 * const metrics = new Metrics();
 * metrics.delivered++;
 * console.log(metrics.render().includes("longpoll_delivered_total 1")); // true
 * ```
 */
export class Metrics {
  /** Polls held right now, Server-Sent Events streams included. */
  held = 0;
  /** Server-Sent Events streams open right now (stream delivery). */
  streams = 0;
  /** Messages sent as Server-Sent Events (stream delivery). */
  eventsSent = 0;
  /** Polls answered with a message. */
  delivered = 0;
  /** Polls answered with the stop code because the hold ran out. */
  timeouts = 0;
  /** Polls answered with the stop code because the server is draining. */
  drained = 0;
  /** Popped messages put back because their client had gone. */
  pushedBack = 0;
  /** Polls whose client left before an answer. */
  abandoned = 0;
  /** Polls replaced by a newer poll of the same uid. */
  superseded = 0;
  /** At-least-once: messages delivered again after an unacknowledged lease. */
  redelivered = 0;
  /** Messages accepted by `POST /publish`. */
  published = 0;
  /** Store failures seen while polling. */
  storeErrors = 0;
  /** Messages dropped from the old end of a queue over `QUEUE_MAX`. */
  trimmed = 0;
  /** Messages the store took and could not put back: logged one by one. */
  lost = 0;
  /** Messages set aside instead of delivered (too large, or not UTF-8): logged one by one. */
  setAside = 0;
  /** Times keyspace notifications were found turned off on Redis and turned back on. */
  notificationsRestored = 0;
  /** Error answers, by status code. */
  readonly errors: Map<number, number> = new Map();
  /**
   * Seconds from the store's wake of a held poll to its answer with a message.
   * @ignore
   */
  readonly wakeLatency: Histogram = new Histogram(LATENCY_BOUNDS);
  /**
   * Seconds from a poll's first pop to the answer of its store, for every first pop.
   * @ignore
   */
  readonly storeRoundTrip: Histogram = new Histogram(LATENCY_BOUNDS);
  /**
   * Seconds a poll was held, by how its hold ended.
   * @ignore
   */
  readonly holdDuration: ReadonlyMap<End, Histogram> = new Map(
    (Object.keys(ENDS) as End[]).map((end) => [end, new Histogram(HOLD_BOUNDS)]),
  );

  /** Counts one error answer with `status`. */
  countError(status: number): void {
    this.errors.set(status, (this.errors.get(status) ?? 0) + 1);
  }

  /** Renders every counter in Prometheus text exposition format. */
  render(): string {
    const lines: string[] = [];
    for (const { key, name, type, help } of METRIC_SPECS) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${this[key]}`);
    }
    lines.push(
      "# HELP longpoll_errors_total Error answers by status code.",
      "# TYPE longpoll_errors_total counter",
    );
    for (const [status, count] of [...this.errors].sort((a, b) => a[0] - b[0])) {
      lines.push(`longpoll_errors_total{code="${status}"} ${count}`);
    }
    lines.push(
      ..._histogramHead("longpoll_wake_latency_seconds", "From a store's wake to the answer."),
      ...this.wakeLatency.render("longpoll_wake_latency_seconds"),
      ..._histogramHead("longpoll_store_round_trip_seconds", "A poll's first pop, to its reply."),
      ...this.storeRoundTrip.render("longpoll_store_round_trip_seconds"),
      ..._histogramHead("longpoll_hold_duration_seconds", "How long polls were held, by end."),
    );
    for (const [end, histogram] of this.holdDuration) {
      lines.push(...histogram.render("longpoll_hold_duration_seconds", `end="${end}"`));
    }
    return lines.join("\n") + "\n";
  }
}

/**
 * How each numeric property of {@linkcode Metrics} is exported.
 *
 * @example
 * ```ts
 * import { METRIC_SPECS } from "./metrics.ts";
 * console.log(METRIC_SPECS.find((spec) => spec.key === "held")?.name); // longpoll_held_polls
 * ```
 */
export const METRIC_SPECS: readonly MetricSpec[] = [
  { key: "held", name: "longpoll_held_polls", type: "gauge", help: "Polls held open right now." },
  {
    key: "streams",
    name: "longpoll_streams",
    type: "gauge",
    help: "Server-Sent Events streams open right now.",
  },
  _counter("eventsSent", "longpoll_events_sent_total", "Messages sent as Server-Sent Events."),
  _counter("delivered", "longpoll_delivered_total", "Polls answered with a message."),
  _counter(
    "timeouts",
    "longpoll_timeouts_total",
    "Polls answered with the stop code after the full hold.",
  ),
  _counter(
    "drained",
    "longpoll_drained_total",
    "Polls answered with the stop code during shutdown.",
  ),
  _counter(
    "pushedBack",
    "longpoll_pushed_back_total",
    "Popped messages returned to the head of their list.",
  ),
  _counter("abandoned", "longpoll_abandoned_total", "Polls whose client left before the answer."),
  _counter(
    "superseded",
    "longpoll_superseded_total",
    "Polls replaced by a newer poll of the same uid.",
  ),
  _counter(
    "redelivered",
    "longpoll_redelivered_total",
    "At-least-once messages delivered again after their lease ran out.",
  ),
  _counter("published", "longpoll_published_total", "Messages accepted by POST /publish."),
  _counter("storeErrors", "longpoll_store_errors_total", "Store operations that failed."),
  _counter("trimmed", "longpoll_trimmed_total", "Messages dropped over QUEUE_MAX."),
  _counter("lost", "longpoll_lost_total", "Messages taken that could not be put back."),
  _counter(
    "setAside",
    "longpoll_set_aside_total",
    "Messages set aside instead of delivered: over MAX_MESSAGE_BYTES, or not UTF-8.",
  ),
  _counter(
    "notificationsRestored",
    "longpoll_notifications_restored_total",
    "Times keyspace notifications were found off on Redis and turned back on.",
  ),
];

/** Bucket bounds of latencies, in seconds: 0.1 ms to 2.5 s. */
const LATENCY_BOUNDS = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
];

/** Bucket bounds of hold durations, in seconds: up to the default hold of 945 s. */
const HOLD_BOUNDS = [0.01, 0.1, 1, 5, 15, 45, 105, 225, 465, 945, 1800];

function _histogramHead(name: string, help: string): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
}

function _counter(key: MetricKey, name: string, help: string): MetricSpec {
  return { key, name, type: "counter", help };
}
