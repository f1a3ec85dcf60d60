/**
 * Extra facts of a log line, such as counts.
 *
 * @example
 * ```ts
 * import { createLogger, type LogFields } from "@longpoll/redis-longpoll";
 * const fields: LogFields = { failed: 3 };
 * createLogger({ write: (_level, line) => console.log(line) }).info("Store back", fields); // Store back failed=3
 * ```
 */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * Where the server's lines go: one call per line, with a level.
 *
 * @example
 * ```ts
 * import type { Logger } from "./logger.ts";
 * const lines: string[] = [];
 * const logger: Logger = {
 *   info: (message) => lines.push(message),
 *   warn: (message) => lines.push(message),
 *   error: (message) => lines.push(message),
 * };
 * logger.info("hello");
 * console.log(lines); // [ "hello" ]
 * ```
 */
export interface Logger {
  /** Something worth knowing: start, stop, a store back. */
  info(message: string, fields?: LogFields): void;
  /** Something wrong that the server rides out: a store unreachable. */
  warn(message: string, fields?: LogFields): void;
  /** Something that should not happen: a bug. */
  error(message: string, fields?: LogFields): void;
}

/**
 * Options of {@linkcode createLogger}.
 *
 * @example
 * ```ts
 * import { createLogger, type LoggerOptions } from "@longpoll/redis-longpoll";
 * const options: LoggerOptions = { format: "json", write: () => {} };
 * createLogger(options).warn("Cannot reach the message store");
 * ```
 */
export interface LoggerOptions {
  /**
   * `text`: the message, warnings and errors prefixed, fields as
   * `key=value`; `json`: one JSON object per line with `time`, `level`,
   * `msg` and the fields.
   * @default {"text"}
   */
  format?: "text" | "json";
  /**
   * Where a finished line goes, by level.
   * @default {console.log for info, console.warn for warn, console.error for error}
   */
  write?: (level: "info" | "warn" | "error", line: string) => void;
  /**
   * Current time in milliseconds, for `time` in JSON lines.
   * @default {Date.now}
   */
  now?: () => number;
}

/**
 * Makes a {@linkcode Logger} writing text or JSON lines. Each call writes
 * exactly one line: in text, control characters are escaped, and a field
 * that is not a plain word is quoted as JSON.
 *
 * @example
 * ```ts
 * import { createLogger } from "./logger.ts";
 * const json = createLogger({ format: "json", now: () => 0, write: (_level, line) => console.log(line) });
 * json.warn("Cannot reach the message store", { failed: 3 });
 * // {"time":"1970-01-01T00:00:00.000Z","level":"warn","msg":"Cannot reach the message store","failed":3}
 * const text = createLogger({ write: (_level, line) => console.log(line) });
 * text.warn("Cannot reach the message store", { failed: 3 });
 * // WARNING: Cannot reach the message store failed=3
 * text.error("Cannot put back a message: it is lost", { message: "a\nERROR: forged" });
 * // ERROR: Cannot put back a message: it is lost message="a\nERROR: forged"
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const write = options.write ?? _console;
  const now = options.now ?? Date.now;
  const line = options.format === "json"
    ? (level: "info" | "warn" | "error", message: string, fields?: LogFields) =>
      write(
        level,
        _escapeControls(
          JSON.stringify({ time: new Date(now()).toISOString(), level, msg: message, ...fields }),
        ),
      )
    : (level: "info" | "warn" | "error", message: string, fields?: LogFields) =>
      write(level, `${_PREFIX[level]}${_escapeControls(message)}${_textFields(fields)}`);
  return {
    info: (message, fields) => line("info", message, fields),
    warn: (message, fields) => line("warn", message, fields),
    error: (message, fields) => line("error", message, fields),
  };
}

const _PREFIX = { info: "", warn: "WARNING: ", error: "ERROR: " } as const;

function _textFields(fields: LogFields | undefined): string {
  if (fields === undefined) return "";
  return Object.entries(fields)
    .map(([key, value]) => ` ${key}=${_textValue(value)}`)
    .join("");
}

/**
 * A field's value in a text line: a plain word as it is; any other string
 * (a message body, a uid, a stack) quoted as JSON, so a space cannot forge
 * another field and a line break cannot forge another line.
 */
function _textValue(value: unknown): string {
  if (typeof value !== "string") return _escapeControls(JSON.stringify(value) ?? String(value));
  return _PLAIN_WORD.test(value) ? value : _escapeControls(JSON.stringify(value));
}

const _PLAIN_WORD = /^[^\s"=\\\p{Cc}\u2028\u2029]+$/u;

/**
 * `text` with every control character (C0, DEL, C1) and U+2028/U+2029 as a
 * `\uXXXX` escape: text that comes from a request or a message, such as a
 * uid in a line, cannot break the line or colour the terminal.
 */
function _escapeControls(text: string): string {
  return text.replace(
    _CONTROLS,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

// deno-lint-ignore no-control-regex -- finding control characters is the point
const _CONTROLS = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/g;

function _console(level: "info" | "warn" | "error", line: string): void {
  if (level === "info") console.log(line);
  else if (level === "warn") console.warn(line);
  else console.error(line);
}
