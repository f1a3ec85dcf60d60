/**
 * The commands a load worker takes on stdin and the replies it writes on
 * stdout, one JSON object per line.
 *
 * @module
 */

/** How a wake message is published. */
export type PublishSpec =
  | {
    /** A plain-client `LPUSH <keyPrefix><uid> <message>` on a raw RESP socket. */
    kind: "redis";
    /** Redis port on 127.0.0.1. */
    port: number;
    /** List key prefix. */
    keyPrefix: string;
  }
  | {
    /** An HTTP `POST <path><uid>` with the message as body (Nchan's publisher). */
    kind: "http";
    /** Publisher port on 127.0.0.1. */
    port: number;
    /** Path and query up to the uid, e.g. `/publish?uid=`. */
    path: string;
  };

/** Opens `count` polls and holds them. */
export interface OpenCommand {
  op: "open";
  /** Server address (loopback). */
  host: string;
  /** Server port. */
  port: number;
  /** Path and query up to the uid, e.g. `/?uid=`. */
  path: string;
  /** Uids are `<uidPrefix><index>`. */
  uidPrefix: string;
  /**
   * Server-Sent Events streams rather than polls: each stays open, and a
   * wake is timed to the first event that carries the message.
   */
  stream?: boolean;
  /** Number of polls to open. */
  count: number;
  /** Source addresses, used in turn. */
  localAddresses: string[];
  /** Most connects in flight at once. */
  maxPending: number;
  /** Gives up on connects still pending after this long. */
  timeoutMs: number;
}

/**
 * Publishes messages one after another, each to the uid of a held poll of
 * this worker, waiting for each delivery before the next, and times each.
 * The run stays in the worker, so no message between the coordinator and
 * the worker falls within or between the timed wakes.
 */
export interface FireCommand {
  op: "fire";
  /** Index of the held poll each message goes to; one that is gone is replaced by another. */
  indexes: number[];
  /** The messages, in order. */
  messages: string[];
  /** How to publish. */
  publish: PublishSpec;
  /** Gives up on a delivery after this long. */
  timeoutMs: number;
}

/** Asks for counters. */
export interface StatsCommand {
  op: "stats";
}

/** Closes every connection and exits. */
export interface CloseCommand {
  op: "close";
}

/** Any command, with the request id the reply carries back. */
export type WorkerCommand =
  & (OpenCommand | FireCommand | StatsCommand | CloseCommand)
  & { rid: number };

/** Reply to {@linkcode OpenCommand}. */
export interface OpenReply {
  /** Connections made and request written. */
  opened: number;
  /** Connects that failed or timed out. */
  errors: number;
  /** Time from first connect to last, in ms. */
  ms: number;
}

/** Reply to {@linkcode FireCommand}: one {@linkcode FireReply} per message. */
export interface FireRunReply {
  /** In the order of the messages. */
  replies: FireReply[];
}

/** How one message of a {@linkcode FireCommand} went. */
export interface FireReply {
  /** Publish to last byte of the poll's response, in ms; absent on error. */
  ms?: number;
  /** Publish to the publisher's acknowledgement, in ms. */
  ackMs?: number;
  /** What went wrong. */
  error?: string;
}

/** Reply to {@linkcode StatsCommand}. */
export interface StatsReply {
  /** Polls open and waiting. */
  held: number;
  /** Of those, the ones whose response head has arrived (early headers). */
  headers: number;
  /** Connect failures, resets and closes while held. */
  errors: number;
  /** Responses that came while nothing was published for them, by status. */
  unexpected: Record<string, number>;
}

/** Reply to {@linkcode CloseCommand}. */
export interface CloseReply {
  /** Connections closed. */
  closed: number;
}
