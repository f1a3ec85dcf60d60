/**
 * The options of the Redis store.
 *
 * @module
 */

import type { QueueLimitOptions } from "./queue_limits.ts";
import type { MessageLimitOptions } from "./message_limits.ts";

/**
 * Options of `RedisStore`. With `queueTtlSeconds` or `queueMax`,
 * `publish` applies them in the same script as its push, and for plain
 * `LPUSH` producers each store that hears the keyspace notification does
 * (one `EXPIRE`, and an `LTRIM` where needed, per store per push); with
 * `notifications: "off"` they apply to `publish` only. The limits applied
 * are those in force for the key prefix, the same for every process on it
 * (see `queueLimitsCheckMs`). A message set aside
(see `maxMessageBytes`) goes to a list beside its uid's, `{Q/MSG42}\x1faside`
 * (readable with `asideOf`), and is noted in `{Q/MSG}\x1faside-index`; both
 * keep the last 100.
 */
export interface RedisStoreOptions extends QueueLimitOptions, MessageLimitOptions {
  /**
   * Where Redis is: `redis://[user:pass@]host:port[/db]`.
   * @default {"redis://127.0.0.1:6379"}
   */
  url?: string;
  /**
   * Redis Cluster: the URLs of some of its nodes (the rest are discovered).
   * When given, `url` is ignored; credentials come from the first URL.
   * Keyspace notifications are heard from every master.
   */
  nodes?: readonly string[];
  /**
   * Redis Sentinel: the `host:port` of some of its Sentinels (the rest are
   * discovered). Commands go to the primary they name for `sentinelName`
   * and follow it through a failover; `url`, if given, supplies only the
   * user name, password and database of the primary and its replicas.
   * Sentinels that ask for a password are not supported. Not with `nodes`.
   */
  sentinels?: readonly string[];
  /**
   * With `sentinels`, the name the Sentinels monitor the primary under.
   * @default {"mymaster"}
   */
  sentinelName?: string;
  /**
   * List key of a uid = prefix + uid.
   * @default {"Q/MSG"}
   */
  keyPrefix?: string;
  /**
   * Pub/sub channel on which `publish` announces a uid, so waiters wake even
   * with keyspace notifications off.
   * @default {keyPrefix + ":wake"}
   */
  wakeChannel?: string;
  /**
   * Wake on keyspace notifications, so a plain `LPUSH` by any producer wakes
   * waiters at once. `"auto"` turns the needed flags on with `CONFIG SET`
   * (adding to those already set) and warns when it can't; `"off"` relies on
   * the wake channel and the hold's backoff schedule.
   * @default {"auto"}
   */
  notifications?: "auto" | "off";
  /**
   * With `notifications: "auto"`, how often to check that the flags are
   * still on, in milliseconds: an operator who turns them off is answered
   * by turning them back on, with a warning, counted in
   * `notificationsRestored`, and every held uid checks again.
   * @default {30000}
   */
  notificationsCheckMs?: number;
  /**
   * How often to read the queue limits in force for the prefix, in
   * milliseconds. They are kept in Redis (`{<prefix>}\x1flimits`, a hash of
   * `ttl` and `max`, 0 for off): the first store to connect with
   * `queueTtlSeconds` or `queueMax` writes them, and every store on the
   * prefix applies them, so a change made there with `HSET` reaches every
   * process within this time. A store given other limits applies those in
   * force and reports them in `queueLimitsConflict`.
   * @default {30000}
   */
  queueLimitsCheckMs?: number;
  /**
   * Every Redis call not answered within this many milliseconds fails, so
   * a poll gets 503 in time; what Redis does late is undone or kept (a late
   * pop's message is pushed back, a late lease released).
   * @default {1500}
   */
  commandTimeoutMs?: number;
  /**
   * Called each time a message that a timed-out pop brought back late is
   * at the head of its queue again. The handler counts the push-backs it
   * makes itself; count these with them (e.g. in `pushed_back_total`).
   * Such a push-back is retried, with a backoff up to 2 s, until Redis
   * takes it or the store closes.
   * @default {a function that does nothing}
   */
  onPushedBack?: (uid: string) => void;
  /**
   * Called when such a message could not be put back before the store
   * closed: it is no longer in Redis, and `message` is its only copy. It is
   * also reported through `onWarning`.
   * @default {a function that does nothing}
   */
  onLost?: (uid: string, message: string, error: unknown) => void;
  /**
   * Where warnings go, such as "CONFIG is not allowed".
   * @default {console.warn}
   */
  onWarning?: (message: string) => void;
}
