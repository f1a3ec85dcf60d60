/**
 * Running a script by its SHA-1 (`EVALSHA`), so each call sends 40 bytes
 * instead of the script, and falling back to `EVAL` (which caches it
 * again) when Redis answers `NOSCRIPT`: after a restart, a `SCRIPT FLUSH`,
 * or on a cluster node that has not run it yet.
 *
 * @module
 */
import { messageOf, type RedisCommands } from "./redis_connection.ts";

const _shas = new Map<string, Promise<string>>();

/**
 * Runs `script` with `options` by its SHA-1, and by its text when Redis
 * does not have it cached.
 *
 * @example
 * ```ts
 * import { evalCached } from "./redis_eval_sha.ts";
 * const cached = new Set<string>();
 * const client = {
 *   evalSha: (sha1: string) =>
 *     cached.has(sha1) ? Promise.resolve("by sha") : Promise.reject(new Error("NOSCRIPT No matching script")),
 *   eval: async (script: string) => {
 *     const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(script));
 *     cached.add([...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join(""));
 *     return "by text";
 *   },
 * };
 * const options = { keys: [], arguments: [] };
 * console.log(await evalCached(client, "return 1", options)); // by text
 * console.log(await evalCached(client, "return 1", options)); // by sha
 * ```
 */
export async function evalCached(
  client: Pick<RedisCommands, "eval" | "evalSha">,
  script: string,
  options: { keys: string[]; arguments: string[] },
): Promise<unknown> {
  let sha1 = _shas.get(script);
  if (sha1 === undefined) _shas.set(script, sha1 = _sha1Of(script));
  try {
    return await client.evalSha(await sha1, options);
  } catch (error) {
    if (!messageOf(error).startsWith("NOSCRIPT")) throw error;
    return await client.eval(script, options);
  }
}

async function _sha1Of(script: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(script));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}
