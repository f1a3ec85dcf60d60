/**
 * Redis tests need a `redis-server` binary. Where it is missing they are
 * skipped with one line saying so; `REQUIRE_REDIS=1` turns that skip into a
 * failure.
 *
 * @module
 */
import { canRun } from "./can_run.ts";

/** True when a `redis-server` binary can be run. */
export const haveRedis: boolean = await canRun("redis-server");

const required = Deno.env.get("REQUIRE_REDIS") === "1";
if (!haveRedis && required) {
  throw new Error("Cannot run Redis tests: REQUIRE_REDIS=1 but redis-server is not on PATH");
}

let skipped = 0;
/**
 * Test options that skip the test where `redis-server` is missing, and count
 * the skip for one clear line at the end.
 */
export function redisTest(
  name: string,
  fn: (t: Deno.TestContext) => Promise<void>,
): Deno.TestDefinition {
  if (!haveRedis && skipped++ === 0) {
    // Test files register their tests synchronously, so by the next task the
    // count covers every Redis test of this module graph.
    setTimeout(() => {
      console.log(
        `Skipping ${skipped} Redis tests: redis-server is not on PATH ` +
          `(install it, or set REQUIRE_REDIS=1 to fail instead)`,
      );
    }, 0);
  }
  return { name, fn, ignore: !haveRedis, sanitizeOps: false, sanitizeResources: false };
}
