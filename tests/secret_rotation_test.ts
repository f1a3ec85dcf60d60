/**
 * Rotating SIGN_SECRET and PUBLISH_TOKEN: a comma-separated list, current
 * first, accepts a signature or token by any of them, so processes that are
 * mid-rotation all answer the same client. Real server processes for the
 * settings; the signer's own tests are in signature_test.ts.
 */
import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../src/server/config.ts";
import { hmac } from "../testing/hmac.ts";
import { startServe } from "../testing/serve_process.ts";
import { testSecret } from "../testing/secrets.ts";

const [S_NEW, S_OLD, S_OTHER] = ["s-new", "s-old", "s-other"].map(testSecret);
const [T_NEW, T_OLD, T_OTHER] = ["t-new", "t-old", "t-other"].map(testSecret);

async function publish(origin: string, token: string, uid: string): Promise<number> {
  const response = await fetch(`${origin}/publish?uid=${uid}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
    body: `{"to":"${uid}"}`,
  });
  await response.body?.cancel();
  return response.status;
}

/** A poll signed with `secret`: its status and body. */
async function poll(origin: string, secret: string, uid: string): Promise<[number, string]> {
  const response = await fetch(`${origin}/?uid=${uid}&sign=${hmac(secret, uid)}&wait=0.2`);
  return [response.status, await response.text()];
}

Deno.test("secret rotation: processes mid-rotation all accept the old signature and token", async () => {
  // Step 1 of a rotation: the first process already has the new secret in
  // front; the second does not yet. The backend still signs with the old one.
  const [rotated, notYet, done] = await Promise.all([
    startServe({ SIGN_SECRET: `${S_NEW},${S_OLD}`, PUBLISH_TOKEN: `${T_NEW},${T_OLD}` }),
    startServe({ SIGN_SECRET: S_OLD, PUBLISH_TOKEN: T_OLD }),
    startServe({ SIGN_SECRET: S_NEW, PUBLISH_TOKEN: T_NEW }),
  ]);
  await using _rotated = rotated;
  await using _notYet = notYet;
  await using _done = done;
  assert.match(rotated.output(), /signatures: checked \(HMAC-SHA256, 2 secrets, the first signs\)/);
  assert.match(rotated.output(), /publish: on \(bearer token, 2 tokens\)/);

  // The rotated process lets either token in, and no other.
  assert.equal(await publish(rotated.origin, T_OLD, "a"), 202);
  assert.equal(await publish(rotated.origin, T_NEW, "b"), 202);
  assert.equal(await publish(rotated.origin, T_OTHER, "c"), 401);
  assert.equal(await publish(rotated.origin, `${T_NEW},${T_OLD}`, "c"), 401);
  assert.equal(await publish(notYet.origin, T_OLD, "a"), 202);
  assert.equal(await publish(done.origin, T_OLD, "a"), 401);

  // A poll signed with the old secret gets its message from both processes
  // mid-rotation, as alternate polls behind nginx would.
  assert.deepEqual(await poll(rotated.origin, S_OLD, "a"), [200, '{"to":"a"}']);
  assert.deepEqual(await poll(notYet.origin, S_OLD, "a"), [200, '{"to":"a"}']);
  // The new secret verifies where it is listed, and only there.
  assert.deepEqual(await poll(rotated.origin, S_NEW, "b"), [200, '{"to":"b"}']);
  assert.equal((await poll(notYet.origin, S_NEW, "b"))[0], 403);
  // Once the rotation is done, the old secret is refused.
  assert.equal((await poll(done.origin, S_OLD, "a"))[0], 403);
  assert.equal((await poll(rotated.origin, S_OTHER, "a"))[0], 403);
});

Deno.test("secret rotation: an empty secret in the list is refused, without echoing it", () => {
  for (
    const [variable, value] of [["SIGN_SECRET", `${S_NEW},,${S_OLD}`], [
      "PUBLISH_TOKEN",
      `${T_NEW}, ${T_OLD}`,
    ]]
  ) {
    assert.throws(() => loadConfig([], { [variable]: value }), (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(
        error.message,
        `Cannot read "${variable}": expected a secret, or a comma-separated list of them, ` +
          `none empty and none with spaces around it, got ${value.length} characters`,
      );
      return true;
    });
  }
  assert.deepEqual(loadConfig([], { SIGN_SECRET: `${S_NEW},${S_OLD}` }).secret, [S_NEW, S_OLD]);
});

Deno.test("secrets: one shorter than 32 bytes is refused, with how to make one", () => {
  const short = "s".repeat(31);
  for (
    const [variable, value] of [
      ["SIGN_SECRET", "s3"],
      ["SIGN_SECRET", `${S_NEW},${short}`],
      ["PUBLISH_TOKEN", short],
    ]
  ) {
    assert.throws(() => loadConfig([], { [variable]: value }), (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(
        error.message,
        `Cannot read "${variable}": expected secrets of at least 32 bytes each (make one with ` +
          `"deno task cli secret" or "openssl rand -hex 32"), got ${value.length} characters`,
      );
      return true;
    });
  }
  // 32 bytes, counted in UTF-8: 16 two-byte characters are enough.
  assert.deepEqual(loadConfig([], { PUBLISH_TOKEN: "é".repeat(16) }).publishToken, [
    "é".repeat(16),
  ]);
  assert.deepEqual(loadConfig([], { PUBLISH_TOKEN: short + "s" }).publishToken, [short + "s"]);
});
