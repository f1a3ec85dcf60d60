/**
 * Rotating SIGN_SECRET and PUBLISH_TOKEN: a comma-separated list, current
 * first, accepts a signature or token by any of them, so processes that are
 * mid-rotation all answer the same client. Real server processes for the
 * settings; the signer's own tests are in signature_test.ts.
 */
import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../src/server/settings.ts";
import { hmac } from "../testing/hmac.ts";
import { startServe } from "../testing/serve_process.ts";

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
    startServe({ SIGN_SECRET: "s-new,s-old", PUBLISH_TOKEN: "t-new,t-old" }),
    startServe({ SIGN_SECRET: "s-old", PUBLISH_TOKEN: "t-old" }),
    startServe({ SIGN_SECRET: "s-new", PUBLISH_TOKEN: "t-new" }),
  ]);
  await using _rotated = rotated;
  await using _notYet = notYet;
  await using _done = done;
  assert.match(rotated.output(), /signatures: checked \(HMAC-SHA256, 2 secrets, the first signs\)/);
  assert.match(rotated.output(), /publish: on \(bearer token, 2 tokens\)/);

  // The rotated process lets either token in, and no other.
  assert.equal(await publish(rotated.origin, "t-old", "a"), 202);
  assert.equal(await publish(rotated.origin, "t-new", "b"), 202);
  assert.equal(await publish(rotated.origin, "t-other", "c"), 401);
  assert.equal(await publish(rotated.origin, "t-new,t-old", "c"), 401);
  assert.equal(await publish(notYet.origin, "t-old", "a"), 202);
  assert.equal(await publish(done.origin, "t-old", "a"), 401);

  // A poll signed with the old secret gets its message from both processes
  // mid-rotation, as alternate polls behind nginx would.
  assert.deepEqual(await poll(rotated.origin, "s-old", "a"), [200, '{"to":"a"}']);
  assert.deepEqual(await poll(notYet.origin, "s-old", "a"), [200, '{"to":"a"}']);
  // The new secret verifies where it is listed, and only there.
  assert.deepEqual(await poll(rotated.origin, "s-new", "b"), [200, '{"to":"b"}']);
  assert.equal((await poll(notYet.origin, "s-new", "b"))[0], 403);
  // Once the rotation is done, the old secret is refused.
  assert.equal((await poll(done.origin, "s-old", "a"))[0], 403);
  assert.equal((await poll(rotated.origin, "s-other", "a"))[0], 403);
});

Deno.test("secret rotation: an empty secret in the list is refused, without echoing it", () => {
  for (
    const [variable, value] of [["SIGN_SECRET", "s-new,,s-old"], ["PUBLISH_TOKEN", "t-new, t-old"]]
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
  assert.deepEqual(loadConfig([], { SIGN_SECRET: "s-new,s-old" }).secret, ["s-new", "s-old"]);
});
