/**
 * An error with the HTTP answer it deserves. The handler turns these into
 * `{"error": message}` responses at one boundary.
 *
 * @example
 * ```ts
 * import { HttpError } from "./http_error.ts";
 * const error = new HttpError(400, 'Cannot poll: "uid" is missing');
 * console.log(error.status); // 400
 * ```
 */
export class HttpError extends Error {
  /** The HTTP status code. */
  readonly status: number;
  /** Extra headers for the answer, such as `Retry-After` or `Allow`. */
  readonly headers: Record<string, string> | undefined;

  /** Creates the error. */
  constructor(status: number, message: string, headers?: Record<string, string>) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.headers = headers;
  }
}

/**
 * Shortens a value quoted in an error message, so a hostile 10 KB value
 * does not come back whole.
 *
 * @example
 * ```ts
 * import { clip } from "./http_error.ts";
 * console.log(clip("x".repeat(100), 8)); // xxxxxxxx…
 * ```
 */
export function clip(text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/**
 * The 503 answered when the message store fails or does not answer, with
 * `Retry-After`. The failure itself is reported apart.
 *
 * @example
 * ```ts
 * import { storeUnavailable } from "./http_error.ts";
 * const error = storeUnavailable("publish", "1");
 * console.log(error.status, error.message); // 503 Cannot publish: the message store is unavailable
 * ```
 */
export function storeUnavailable(action: "poll" | "publish", retryAfter: string): HttpError {
  return new HttpError(503, `Cannot ${action}: the message store is unavailable`, {
    "Retry-After": retryAfter,
  });
}
