import { HttpError } from "./http_error.ts";
import type { ResolvedOptions } from "./options.ts";
import type { PollRequest } from "./poll_request.ts";
import { HmacSigner, SignatureError } from "./signature.ts";

/** Checks a poll's signature: resolves when it may go on, throws a 403 or 400 otherwise. */
export type Authorize = (poll: PollRequest, request: Request) => Promise<void>;

/**
 * Makes the signature check of a handler: the HMAC check with `secret`, the
 * custom `verify`, or undefined when neither is set (nothing is checked, and
 * the poll's path skips the await altogether).
 *
 * @example
 * ```ts
 * import { createAuthorize } from "./authorize.ts";
 * import { resolveOptions } from "./options.ts";
 * import { MemoryStore } from "./store/memory.ts";
 * const options = resolveOptions({ store: new MemoryStore(), secret: "s3cret" });
 * const authorize = createAuthorize(options)!;
 * const poll = {
 *   uid: "42",
 *   sign: "00",
 *   exp: null,
 *   callback: null,
 *   cors: null,
 *   ack: undefined,
 *   waitMs: undefined,
 *   max: undefined,
 *   headOnly: false,
 * };
 * await authorize(poll, new Request("http://x/?uid=42&sign=00")).catch((error) =>
 *   console.log(error.status, error.message)
 * ); // 403 Cannot verify signature: "sign" is not 64 hex digits
 * ```
 */
export function createAuthorize(options: ResolvedOptions): Authorize | undefined {
  const { verify, onError } = options;
  if (verify !== undefined) {
    return async (poll, request) => {
      let valid = false;
      try {
        valid = poll.sign !== null && await verify(poll.uid, poll.sign, new URL(request.url));
      } catch (error) {
        onError(error);
      }
      if (!valid) throw new HttpError(403, 'Cannot verify signature: "sign" was refused');
    };
  }
  if (options.secret === undefined) return undefined;
  const clock = options.clock;
  const signer = new HmacSigner({ secret: options.secret, now: () => clock.now() });
  return async (poll) => {
    try {
      await signer.verify(poll.uid, poll.sign, poll.exp);
    } catch (error) {
      if (error instanceof SignatureError) throw new HttpError(error.status, error.message);
      throw error;
    }
  };
}
