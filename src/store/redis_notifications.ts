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
  #restored = 0;

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

  /** How many times the flags were found turned off and turned back on. */
  get restored(): number {
    return this.#restored;
  }

  /**
   * Checks that the flags are still on, on every node, and turns them back
   * on where someone turned them off, with a warning. Resolves true when it
   * had to, since pushes made meanwhile were not heard. Does nothing in mode
   * `"off"` or where CONFIG is refused.
   */
  async check(nodes: readonly ConfigurableNode[]): Promise<boolean> {
    if (this.#options.mode === "off" || !this.#on) return false;
    let before: string[];
    try {
      before = await _ensureListEvents(nodes);
    } catch {
      return false; // a node is away: the next check will tell
    }
    if (before.length === 0) return false;
    this.#restored++;
    this.#options.onWarning(
      `Keyspace notifications were turned off on Redis ("notify-keyspace-events" was ` +
        `${before.map((flags) => `"${flags}"`).join(", ")}); turned them back on. ` +
        `Plain LPUSH producers were heard only on the backoff schedule meanwhile`,
    );
    return true;
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
      await _ensureListEvents(nodes);
      this.#on = true;
    } catch (error) {
      this.#on = false;
      if (this.#warned) return;
      this.#warned = true;
      this.#options.onWarning(
        `Cannot turn on keyspace notifications: ${_configProblem(messageOf(error))}. ` +
          `Plain LPUSH producers will be heard only on the backoff schedule; ` +
          `add "notify-keyspace-events El" to the Redis config to wake polls at once`,
      );
    }
  }
}

/** Adds the list-push flags on every node; resolves the flags of the nodes that lacked them. */
async function _ensureListEvents(nodes: readonly ConfigurableNode[]): Promise<string[]> {
  const changed: string[] = [];
  for (const node of nodes) {
    const current = (await node.configGet("notify-keyspace-events"))["notify-keyspace-events"] ??
      "";
    const wanted = _withListEvents(current);
    if (wanted === current) continue;
    await node.configSet("notify-keyspace-events", wanted);
    changed.push(current);
  }
  return changed;
}

/** Adds the flags for list-push key-event notifications to `flags`. */
function _withListEvents(flags: string): string {
  let wanted = flags;
  if (!wanted.includes("E")) wanted += "E";
  if (!wanted.includes("l") && !wanted.includes("A")) wanted += "l";
  return wanted;
}

/** A refused CONFIG, named as such: managed Redis services often disable it. */
function _configProblem(message: string): string {
  return /unknown command|NOPERM|not allowed|disabled/i.test(message) && /CONFIG/i.test(message)
    ? `CONFIG is refused, as many managed Redis services do (${message.trim()})`
    : message;
}
