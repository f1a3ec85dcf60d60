/**
 * The browser client as a global, for a page that loads it with a plain
 * `<script>` tag: `deno task build:client` bundles this file into the
 * server's `GET /client.global.js`, which sets `LongPoll` on the page's
 * global object to `{ createLongPollClient, exponentialBackoff }`.
 *
 * @module
 */
import { createLongPollClient, exponentialBackoff } from "./long_poll_client.ts";

(globalThis as { LongPoll?: unknown }).LongPoll = Object.freeze({
  createLongPollClient,
  exponentialBackoff,
});
