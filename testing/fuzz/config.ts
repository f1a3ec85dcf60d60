/**
 * The settings the fuzz tests share: the seed, the servers' token, secret,
 * origins and limits, and the protocol's patterns, written out again rather
 * than imported.
 *
 * @module
 */

/**
 * The seed of the run, from `FUZZ_SEED` or random, printed once so a failure
 * can be rerun.
 */
export const SEED: number = _seedFromEnv();
/** The publish token of every fuzzed server. */
export const TOKEN = "fuzz-token";
/** The signing secret of the signed server (B). */
export const SECRET = "fuzz-secret";
/** The CORS origins the servers allow. */
export const ALLOWED = ["http://allowed.test", "https://also-allowed.test:8443"];
/** The stop code the servers answer a poll that ran out with. */
export const STOP = '{"stop":1}';
/** The JSONP stop answer's second argument, after its first. */
export const STOP_MARK = ',{"stop":true}';
/** The largest publish body the servers take, in bytes. */
export const MAX_BODY = 4096;
/** The callback pattern of the protocol, written out again rather than imported. */
export const CALLBACK_PATTERN = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;
/** Callbacks of that pattern the protocol refuses: a reserved word first, or a name that evaluates. */
export const REFUSED_CALLBACK = /^(import|new|this)(\.|$)|(^|\.)(eval|constructor|write)(\.|$)/;
/** Every status the protocol may answer. */
export const STATUSES = new Set([200, 202, 204, 400, 401, 403, 404, 405, 409, 413, 414, 503]);
/** UTF-8, for bodies and signatures. */
export const ENCODER = new TextEncoder();

console.log(`fuzz seed: ${SEED} (rerun with FUZZ_SEED=${SEED})`);

function _seedFromEnv(): number {
  const fromEnv = Deno.env.get("FUZZ_SEED");
  if (fromEnv !== undefined && fromEnv !== "") {
    const seed = Number(fromEnv);
    if (!Number.isInteger(seed)) {
      throw new Error(`Cannot fuzz: FUZZ_SEED must be an integer, got "${fromEnv}"`);
    }
    return seed >>> 0;
  }
  return crypto.getRandomValues(new Uint32Array(1))[0];
}
