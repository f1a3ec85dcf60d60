/**
 * Keyspace notifications for list pushes: turning them on where CONFIG is
 * allowed, and saying so where it is not.
 *
 * @module
 */
import { messageOf } from "./redis_connection.ts";

/** A node whose configuration can be read and set. */
export interface ConfigurableNode {
  /** `CONFIG GET parameter`. */
  configGet(parameter: string): Promise<Record<string, string>>;
  /** `CONFIG SET parameter value`. */
  configSet(parameter: string, value: string): Promise<unknown>;
}

/** Options of {@linkcode NotificationSettings}. */
export interface NotificationSettingsOptions {
  /** `"auto"` turns the flags on; `"off"` leaves Redis alone. */
  readonly mode: "auto" | "off";
  /** Where the warning goes when CONFIG is refused. */
  readonly onWarning: (message: string) => void;
}

/**
 * Adds the flags for list-push key-event notifications (`E` and `l`) to
 * those a node has, never removing any, and warns once when a node refuses.
 *
 * @example
 * ```ts
 * import { NotificationSettings } from "./redis_notifications.ts";
 * let flags = "Kx";
 * const node = {
 *   configGet: () => Promise.resolve({ "notify-keyspace-events": flags }),
 *   configSet: (_: string, value: string) => Promise.resolve(flags = value),
 * };
 * const settings = new NotificationSettings({ mode: "auto", onWarning: console.warn });
 * await settings.apply([node]);
 * console.log(flags, settings.on); // KxEl true
 * ```
 */
export class NotificationSettings {
  readonly #options: NotificationSettingsOptions;
  #on = false;
  #applied = false;
  #warned = false;

  /** Changes nothing yet: see {@linkcode NotificationSettings.apply}. */
  constructor(options: NotificationSettingsOptions) {
    this.#options = options;
  }

  /** True once the flags are known to be on, on every node. */
  get on(): boolean {
    return this.#on;
  }

  /** True once {@linkcode NotificationSettings.apply} has finished once, either way. */
  get applied(): boolean {
    return this.#applied;
  }

  /** Turns the flags on, on every node (nothing in mode `"off"`). */
  async apply(nodes: readonly ConfigurableNode[]): Promise<void> {
    try {
      if (this.#options.mode === "auto") await this.#turnOn(nodes);
    } finally {
      this.#applied = true;
    }
  }

  async #turnOn(nodes: readonly ConfigurableNode[]): Promise<void> {
    try {
      for (const node of nodes) {
        const current = (await node.configGet("notify-keyspace-events"))[
          "notify-keyspace-events"
        ] ?? "";
        const wanted = _withListEvents(current);
        if (wanted !== current) await node.configSet("notify-keyspace-events", wanted);
      }
      this.#on = true;
    } catch (error) {
      this.#on = false;
      if (this.#warned) return;
      this.#warned = true;
      this.#options.onWarning(
        `Cannot turn on keyspace notifications: ${messageOf(error)}. ` +
          `Plain LPUSH producers will be heard only on the backoff schedule; ` +
          `add "notify-keyspace-events El" to the Redis config to wake polls at once`,
      );
    }
  }
}

/** Adds the flags for list-push key-event notifications to `flags`. */
function _withListEvents(flags: string): string {
  let wanted = flags;
  if (!wanted.includes("E")) wanted += "E";
  if (!wanted.includes("l") && !wanted.includes("A")) wanted += "l";
  return wanted;
}
