// Signs a uid for the browser and pushes a message for it, with node-redis.
//
//   npm ci --prefix examples/node     # once: node-redis (@redis/client), as the server uses
//   SIGN_SECRET=... [REDIS_URL=redis://127.0.0.1:6379] [KEY_PREFIX=Q/MSG] \
//     node examples/node/publish.mjs <uid> <message> [<seconds until the signature expires>]
//
// Prints the query the page polls with: uid=42&sign=<hex>, or uid=42&exp=<unix seconds>&sign=<hex>.
import { createHmac } from "node:crypto";
import process from "node:process";
import { createClient } from "@redis/client";

function fail(message, code = 2) {
  console.error(message);
  process.exit(code);
}

/** The signature the server checks: hex HMAC-SHA256 of the uid, or of uid + "\n" + exp. */
export function signUid(secret, uid, exp) {
  const text = exp === undefined ? uid : `${uid}\n${exp}`;
  return createHmac("sha256", secret).update(text).digest("hex");
}

const args = process.argv.slice(2);
if (args.length < 2 || args.length > 3) {
  fail("Usage: publish.mjs <uid> <message> [<seconds until the signature expires>]");
}
const [uid, message, ttl] = args;
// A list while a secret rotates: the first one signs.
const secret = (process.env.SIGN_SECRET ?? "").split(",")[0];
if (secret === "") fail("Cannot sign: SIGN_SECRET is not set");
// deno-lint-ignore no-control-regex
if (uid === "" || Buffer.byteLength(uid) > 256 || /[\x00-\x1f\x7f-\x9f]/.test(uid)) {
  fail(`Cannot sign "${uid}": a uid is 1 to 256 bytes with no control characters`);
}
if (message === "") fail("Cannot publish: the message is empty");
let exp;
if (ttl !== undefined) {
  if (!/^[1-9][0-9]{0,8}$/.test(ttl)) {
    fail(`Cannot sign: "${ttl}" is not a whole number of seconds above 0`);
  }
  exp = Math.floor(Date.now() / 1000) + Number(ttl);
}

const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const client = createClient({ url, socket: { connectTimeout: 2000, reconnectStrategy: false } });
client.on("error", () => {}); // the failed command below says what went wrong
try {
  await client.connect();
  // LPUSH Q/MSG<uid> <message>; the server pops the oldest first.
  await client.lPush(`${process.env.KEY_PREFIX ?? "Q/MSG"}${uid}`, message);
  await client.close();
} catch (error) {
  fail(`Cannot publish: Redis at "${url}" refused or is unreachable: ${error.message}`, 1);
}

const query = new URLSearchParams({ uid });
if (exp !== undefined) query.set("exp", String(exp));
query.set("sign", signUid(secret, uid, exp));
console.log(query.toString());
