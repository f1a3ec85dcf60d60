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
