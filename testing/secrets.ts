/**
 * Secrets long enough for the server (`SIGN_SECRET` and `PUBLISH_TOKEN`
 * need 32 bytes each), shared by the tests that start one.
 *
 * @module
 */

/**
 * A `SIGN_SECRET` or `PUBLISH_TOKEN` the server accepts: 32 bytes or more.
 *
 * @example
 * ```ts
 * import { TEST_SECRET } from "./secrets.ts";
 * console.log(new TextEncoder().encode(TEST_SECRET).length >= 32); // true
 * ```
 */
export const TEST_SECRET = "test-secret-of-at-least-32-bytes-0123456789";

/**
 * {@linkcode TEST_SECRET} told apart by `name`, for tests that need several
 * (a rotation, a publish token beside a signing secret).
 *
 * @example
 * ```ts
 * import { testSecret } from "./secrets.ts";
 * console.log(testSecret("old") !== testSecret("new")); // true
 * ```
 */
export function testSecret(name: string): string {
  return `${name}-${TEST_SECRET}`;
}
