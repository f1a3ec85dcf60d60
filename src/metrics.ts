/**
 * The server's counters, rendered in Prometheus text format by
 * {@linkcode Metrics.render}.
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
  /** Polls held right now. */
  held = 0;
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
  /** Error answers, by status code. */
  readonly errors: Map<number, number> = new Map();
  /** Store failures seen while polling. */
  storeErrors = 0;

  /** Counts one error answer with `status`. */
  countError(status: number): void {
    this.errors.set(status, (this.errors.get(status) ?? 0) + 1);
  }

  /** Renders every counter in Prometheus text exposition format. */
  render(): string {
    const lines = [
      ..._metric("longpoll_held_polls", "gauge", "Polls held open right now.", this.held),
      ..._metric(
        "longpoll_delivered_total",
        "counter",
        "Polls answered with a message.",
        this.delivered,
      ),
      ..._metric(
        "longpoll_timeouts_total",
        "counter",
        "Polls answered with the stop code after the full hold.",
        this.timeouts,
      ),
      ..._metric(
        "longpoll_drained_total",
        "counter",
        "Polls answered with the stop code during shutdown.",
        this.drained,
      ),
      ..._metric(
        "longpoll_pushed_back_total",
        "counter",
        "Popped messages returned to the head of their list.",
        this.pushedBack,
      ),
      ..._metric(
        "longpoll_abandoned_total",
        "counter",
        "Polls whose client left before the answer.",
        this.abandoned,
      ),
      ..._metric(
        "longpoll_published_total",
        "counter",
        "Messages accepted by POST /publish.",
        this.published,
      ),
      ..._metric(
        "longpoll_store_errors_total",
        "counter",
        "Store operations that failed.",
        this.storeErrors,
      ),
      "# HELP longpoll_errors_total Error answers by status code.",
      "# TYPE longpoll_errors_total counter",
    ];
    for (const [status, count] of [...this.errors].sort((a, b) => a[0] - b[0])) {
      lines.push(`longpoll_errors_total{code="${status}"} ${count}`);
    }
    return lines.join("\n") + "\n";
  }
}

function _metric(name: string, type: string, help: string, value: number): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`];
}
