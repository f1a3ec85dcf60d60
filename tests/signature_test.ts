import assert from "node:assert/strict";
import { HmacSigner, SignatureError } from "../mod.ts";
import { hmac as reference } from "../testing/hmac.ts";

const NOW = 1_700_000_000_000;

async function refusal(
  promise: Promise<unknown>,
): Promise<{ status: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SignatureError, `expected a SignatureError, got ${error}`);
    return { status: error.status, message: error.message };
  }
  assert.fail("expected the signature to be refused");
}

Deno.test("signature: sign is the lowercase hex HMAC-SHA256 of the uid", async () => {
  const signer = new HmacSigner({ secret: "key" });
  // The well-known test vector of HMAC-SHA256.
  assert.equal(
    await signer.sign("The quick brown fox jumps over the lazy dog"),
    "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
  );
  const other = new HmacSigner({ secret: "s3cret" });
  for (const uid of ["42", "ü/é:42", "a".repeat(256)]) {
    assert.equal(await other.sign(uid), reference("s3cret", uid));
  }
});

Deno.test("signature: with exp, the signed text is uid, a line feed, then exp", async () => {
  const signer = new HmacSigner({ secret: "s3cret" });
  assert.equal(await signer.sign("42", 1_700_000_600), reference("s3cret", "42\n1700000600"));
  assert.notEqual(await signer.sign("42", 1_700_000_600), await signer.sign("42"));
});

Deno.test("signature: a valid sign verifies, uppercase hex too", async () => {
  const signer = new HmacSigner({ secret: "s3cret" });
  const sign = reference("s3cret", "42");
  await signer.verify("42", sign);
  await signer.verify("42", sign.toUpperCase());
});

Deno.test("signature: a sign for another uid or another secret does not match", async () => {
  const signer = new HmacSigner({ secret: "s3cret" });
  const expected = { status: 403, message: 'Cannot verify signature: "sign" does not match' };
  assert.deepEqual(await refusal(signer.verify("43", reference("s3cret", "42"))), expected);
  assert.deepEqual(await refusal(signer.verify("42", reference("other", "42"))), expected);
  assert.deepEqual(await refusal(signer.verify("42", "0".repeat(64))), expected);
});

Deno.test("signature: a missing or empty sign is refused", async () => {
  const signer = new HmacSigner({ secret: "s3cret" });
  const expected = { status: 403, message: 'Cannot verify signature: "sign" is missing' };
  assert.deepEqual(await refusal(signer.verify("42", null)), expected);
  assert.deepEqual(await refusal(signer.verify("42", "")), expected);
});

Deno.test("signature: a sign of the wrong length or not hex is refused", async () => {
  const signer = new HmacSigner({ secret: "s3cret" });
  const sign = reference("s3cret", "42");
  const expected = { status: 403, message: 'Cannot verify signature: "sign" is not 64 hex digits' };
  for (
    const bad of [
      sign.slice(0, 63),
      sign + "0",
      sign.slice(0, 40),
      "z".repeat(64),
      `${sign.slice(0, 62)}g0`,
      ` ${sign.slice(1)}`,
    ]
  ) {
    assert.deepEqual(await refusal(signer.verify("42", bad)), expected, bad);
  }
});

Deno.test("signature: exp is honoured until it passes, on the injected clock", async () => {
  let now = NOW;
  const signer = new HmacSigner({ secret: "s3cret", now: () => now });
  const exp = NOW / 1000 + 60;
  const sign = reference("s3cret", `42\n${exp}`);
  await signer.verify("42", sign, String(exp));
  now = exp * 1000 - 1;
  await signer.verify("42", sign, String(exp));
  now = exp * 1000;
  assert.deepEqual(await refusal(signer.verify("42", sign, String(exp))), {
    status: 403,
    message: 'Cannot verify signature: "exp" has passed',
  });
});

Deno.test("signature: a sign made with exp does not verify without it, nor with another exp", async () => {
  const signer = new HmacSigner({ secret: "s3cret", now: () => NOW });
  const exp = NOW / 1000 + 60;
  const sign = reference("s3cret", `42\n${exp}`);
  const expected = { status: 403, message: 'Cannot verify signature: "sign" does not match' };
  assert.deepEqual(await refusal(signer.verify("42", sign)), expected);
  assert.deepEqual(await refusal(signer.verify("42", sign, String(exp + 1))), expected);
  assert.deepEqual(
    await refusal(signer.verify("42", reference("s3cret", "42"), String(exp))),
    expected,
  );
});

Deno.test("signature: an exp that is not a whole number is a 400", async () => {
  const signer = new HmacSigner({ secret: "s3cret", now: () => NOW });
  for (const exp of ["soon", "", "1.5", "-1", "1e12", " 1700000600", "0x10", "1".repeat(13)]) {
    assert.deepEqual(await refusal(signer.verify("42", reference("s3cret", "42"), exp)), {
      status: 400,
      message: 'Cannot verify signature: "exp" is not a whole number of unix seconds ' +
        "(at most 10 digits, no leading zero)",
    }, JSON.stringify(exp));
  }
});

Deno.test("signature: exp has one spelling: leading zeros, signs and 11 digits are a 400", async () => {
  const signer = new HmacSigner({ secret: "s3cret", now: () => NOW });
  const exp = NOW / 1000 + 60;
  const sign = reference("s3cret", `42\n${exp}`);
  await signer.verify("42", sign, String(exp));
  for (const spelling of [`0${exp}`, `00${exp}`, `+${exp}`, "0".repeat(11), `1${"0".repeat(10)}`]) {
    assert.deepEqual(await refusal(signer.verify("42", sign, spelling)), {
      status: 400,
      message: 'Cannot verify signature: "exp" is not a whole number of unix seconds ' +
        "(at most 10 digits, no leading zero)",
    }, spelling);
  }
});

Deno.test("signature: a uid holding a C1 control character is neither signed nor verified", async () => {
  const signer = new HmacSigner({ secret: "s3cret", now: () => NOW });
  for (const uid of ["a\u0085b", "a\u009bb", "\u0080", "\u009f"]) {
    await assert.rejects(signer.sign(uid), TypeError, JSON.stringify(uid));
    assert.deepEqual(await refusal(signer.verify(uid, reference("s3cret", uid))), {
      status: 400,
      message: 'Cannot verify signature: "uid" holds control characters',
    }, JSON.stringify(uid));
  }
  // Latin-1 letters just past C1 still sign.
  assert.equal(await signer.sign("\u00a0\u00e9"), reference("s3cret", "\u00a0\u00e9"));
});

Deno.test("signature: a uid that ends in :<digits> cannot pass for a shorter uid with exp", async () => {
  const signer = new HmacSigner({ secret: "s3cret", now: () => NOW });
  const exp = NOW / 1000 + 60;
  assert.notEqual(await signer.sign(`a:${exp}`), await signer.sign("a", exp));
  const expected = { status: 403, message: 'Cannot verify signature: "sign" does not match' };
  // A permanent signature of "a:<exp>" is no time-limited one of "a"…
  assert.deepEqual(
    await refusal(signer.verify("a", await signer.sign(`a:${exp}`), String(exp))),
    expected,
  );
  // …and a time-limited one of "a" is no permanent one of "a:<exp>".
  assert.deepEqual(await refusal(signer.verify(`a:${exp}`, await signer.sign("a", exp))), expected);
});

Deno.test("signature: a uid with a line feed is neither signed nor verified", async () => {
  const signer = new HmacSigner({ secret: "s3cret", now: () => NOW });
  const exp = NOW / 1000 + 60;
  await assert.rejects(signer.sign(`a\n${exp}`), {
    name: "TypeError",
    message: 'Cannot sign: "uid" holds control characters',
  });
  assert.deepEqual(await refusal(signer.verify(`a\n${exp}`, await signer.sign("a", exp))), {
    status: 400,
    message: 'Cannot verify signature: "uid" holds control characters',
  });
});

Deno.test("signature: while rotating, the first secret signs and a sign by any verifies", async () => {
  const signer = new HmacSigner({ secret: ["new", "old", "older"], now: () => NOW });
  assert.equal(await signer.sign("42"), reference("new", "42"));
  assert.equal(await signer.sign("42", 1_700_000_600), reference("new", "42\n1700000600"));
  for (const secret of ["new", "old", "older"]) {
    await signer.verify("42", reference(secret, "42"));
    await signer.verify("42", reference(secret, "42\n1700000600"), "1700000600");
  }
  const expected = { status: 403, message: 'Cannot verify signature: "sign" does not match' };
  assert.deepEqual(await refusal(signer.verify("42", reference("other", "42"))), expected);
  assert.deepEqual(await refusal(signer.verify("43", reference("old", "42"))), expected);
  // One secret in a list is the same as that secret alone.
  assert.equal(await new HmacSigner({ secret: ["new"] }).sign("42"), reference("new", "42"));
});

Deno.test("signature: every secret is checked, whichever matches, so the time tells nothing", async () => {
  const signer = new HmacSigner({ secret: ["new", "old", "older"] });
  const subtle = crypto.subtle;
  const verify = subtle.verify;
  let checks = 0;
  subtle.verify = (...args: Parameters<SubtleCrypto["verify"]>) => {
    checks++;
    return verify.apply(subtle, args);
  };
  try {
    for (const secret of ["new", "old", "older", "other"]) {
      checks = 0;
      await signer.verify("42", reference(secret, "42")).catch(() => {});
      assert.equal(checks, 3, `a sign by "${secret}" made ${checks} checks`);
    }
  } finally {
    subtle.verify = verify;
  }
});

Deno.test("signature: an empty list of secrets, or an empty secret in it, is refused", () => {
  assert.throws(() => new HmacSigner({ secret: [] }), {
    name: "TypeError",
    message: 'Cannot use "secret": the list is empty',
  });
  assert.throws(() => new HmacSigner({ secret: ["new", ""] }), {
    name: "TypeError",
    message: 'Cannot use "secret": it holds an empty secret',
  });
});
