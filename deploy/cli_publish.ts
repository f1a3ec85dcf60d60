/**
 * `deno task cli publish <uid> [message | -]`: publishes one message, to
 * Redis with the same script as `POST /publish` (`RedisStore.publish`), or
 * with `--url` to a server's `/publish` with its token.
 *
 * @module
 */
import { DEFAULTS } from "../src/option_defaults.ts";
import { describeRedis, redisLocation } from "../src/server/redis_location.ts";
import { readSetting } from "../src/server/config.ts";
import { RedisStore } from "../src/store/redis.ts";
import { messageOf } from "../src/store/redis_connection.ts";
import { validateUid } from "../src/uid.ts";
import {
  type CliCommand,
  type CommandArgs,
  EXIT,
  readCommandArgs,
  UsageError,
} from "./cli_command.ts";

/** How long to wait for Redis to answer before giving up. */
const READY_TIMEOUT_MS = 5_000;

/**
 * The `publish` command.
 *
 * @example
 * ```ts ignore
 * import { PUBLISH_COMMAND } from "./cli_publish.ts";
 * await PUBLISH_COMMAND.run(["42", '{"hi":1}']); // to REDIS_URL
 * ```
 */
export const PUBLISH_COMMAND: CliCommand = {
  name: "publish",
  usage: "<uid> [message | -] [--redis-url <url>] [--key-prefix <prefix>] " +
    "| <uid> [message | -] --url <server> [--token <token>]",
  summary:
    "publish one message (from stdin when none or -) to REDIS_URL, or to a server's /publish",
  async run(args) {
    const { flags, positionals } = readCommandArgs("publish", args, {
      url: "string",
      token: "string",
      "redis-url": "string",
      "key-prefix": "string",
    });
    const [uid, text, extra] = positionals;
    if (extra !== undefined) {
      throw new UsageError(
        `Cannot publish: it takes a uid and one message, got also "${extra}"; quote the message`,
      );
    }
    const env = Deno.env.toObject();
    try {
      validateUid(uid ?? null, {
        maxBytes: readSetting("maxUidBytes", { env }) ?? DEFAULTS.maxUidBytes,
        action: "publish",
      });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const message = text === undefined || text === "-" ? await _stdin() : text;
    if (message === "") throw new UsageError("Cannot publish: the message is empty");
    return flags.url === undefined
      ? await _toRedis(uid, message, { flags, env })
      : await _toServer(uid, message, { flags, env });
  },
};

interface _Target {
  readonly flags: CommandArgs["flags"];
  readonly env: Record<string, string>;
}

async function _toRedis(uid: string, message: string, { flags, env }: _Target): Promise<number> {
  const redis = {
    redisUrl: readSetting("redisUrl", { flag: flags["redis-url"] as string | undefined, env }),
    redisSentinels: readSetting("redisSentinels", { env }),
    sentinelName: readSetting("sentinelName", { env }),
  };
  const location = redisLocation(redis);
  if (location === undefined) {
    throw new UsageError(
      'Cannot publish: "REDIS_URL" is not set; set it (or pass --redis-url) to publish to Redis, ' +
        "or pass --url to publish to a server",
    );
  }
  await using store = new RedisStore({
    ...location,
    keyPrefix: readSetting("keyPrefix", { flag: flags["key-prefix"] as string | undefined, env }),
    notifications: "off",
    onWarning: (warning) => console.error(warning),
  });
  if (!await store.whenReady(READY_TIMEOUT_MS)) {
    console.error(
      `Cannot publish: Redis at ${describeRedis(redis)} is not ready: ${
        store.notReadyReason ?? `it did not answer within ${READY_TIMEOUT_MS} ms`
      }`,
    );
    return EXIT.failure;
  }
  try {
    await store.publish(uid, message);
  } catch (error) {
    console.error(messageOf(error));
    return EXIT.failure;
  }
  console.log(`published to "${store.keyPrefix}${uid}"`);
  return EXIT.ok;
}

async function _toServer(uid: string, message: string, { flags, env }: _Target): Promise<number> {
  const url = flags.url as string;
  if (!/^https?:$/.test(URL.parse(url)?.protocol ?? "")) {
    throw new UsageError(
      `Cannot publish: "--url" expects an http:// or https:// URL, got "${url}"`,
    );
  }
  const token = readSetting("publishToken", { flag: flags.token as string | undefined, env })?.[0];
  const target = `${url.replace(/\/+$/, "")}/publish?uid=${encodeURIComponent(uid)}`;
  let response: Response;
  try {
    response = await fetch(target, {
      method: "POST",
      headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
      body: message,
    });
  } catch (error) {
    console.error(`Cannot publish: cannot reach "${url}" (${messageOf(error)})`);
    return EXIT.failure;
  }
  const body = (await response.text()).trim();
  if (response.status !== 202) {
    console.error(`Cannot publish: the server answered ${response.status}: ${body}`);
    return EXIT.failure;
  }
  console.log(body);
  return EXIT.ok;
}

/** Standard input, which must be UTF-8, as one message. */
async function _stdin(): Promise<string> {
  const bytes = await new Response(Deno.stdin.readable).bytes();
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError("Cannot publish: the message on standard input is not UTF-8");
  }
}
