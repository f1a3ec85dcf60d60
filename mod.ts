/**
 * Long-polling delivery of per-user messages, as a Web-standard fetch
 * handler. Producers `LPUSH` to a per-user list (or call `publish`); each
 * poll takes the oldest message, or is held until one arrives, on the
 * schedule of the original Tornado service (15 s doubling up to 900 s), and
 * then answers the stop code `{"stop":1}`.
 *
 * This entry point holds the core and the in-memory store. The Redis store
 * lives in `./redis`, so users of the core never load `npm:redis`.
 *
 * @example
 * ```ts
 * import { createLongPollHandler, MemoryStore } from "./mod.ts";
 *
 * const store = new MemoryStore();
 * const handler = createLongPollHandler({ store, minWait: 0.05, maxWait: 0.1 });
 *
 * const poll = handler(new Request("http://localhost/?uid=42"));
 * await store.publish("42", '{"hi":1}');
 * console.log(await (await poll).text()); // {"hi":1}
 * ```
 *
 * @module
 */
export type { Clock } from "./src/clock.ts";
export { createLongPollHandler, type DrainOptions, type LongPollHandler } from "./src/handler.ts";
export { createLogger, type LogFields, type Logger, type LoggerOptions } from "./src/logger.ts";
export { MemoryPresence, type Presence, type PresenceInfo } from "./src/presence.ts";
export { Metrics } from "./src/metrics.ts";
export type { LongPollOptions } from "./src/options.ts";
export type { ParamNames } from "./src/protocol.ts";
export type { Secrets } from "./src/secret_list.ts";
export {
  HmacSigner,
  type HmacSignerOptions,
  SignatureError,
  type VerifySignature,
} from "./src/signature.ts";
export { StoreError, type StoreErrorKind } from "./src/store_failure.ts";
export { MemoryStore, type MemoryStoreOptions } from "./src/store/memory.ts";
export type { HistoryOptions } from "./src/store/history_options.ts";
export type { MessageLimitOptions, SetAside, SetAsideReason } from "./src/store/message_limits.ts";
export type { QueueLimitOptions } from "./src/store/queue_limits.ts";
export type {
  LeasedMessage,
  MessageStore,
  StreamEntry,
  StreamRead,
  StreamReadOptions,
  TakeOptions,
  Waiter,
} from "./src/store/types.ts";
