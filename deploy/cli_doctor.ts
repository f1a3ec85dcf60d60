/**
 * `deno task cli doctor`: checks the Redis of `REDIS_URL` (or the primary
 * the Sentinels of `REDIS_SENTINELS` name) before going live, and ends with a verdict and its exit code: 0 ready, 3 usable with
 * warnings, 1 not usable.
 *
 * @module
 */
import { createClient } from "redis";
import { OPTION_SPECS } from "../src/option_defaults.ts";
import { describeRedis, redisLocation } from "../src/server/redis_location.ts";
import { readSetting } from "../src/server/config.ts";
import { RedisDiagnosis } from "../src/store/redis_diagnosis.ts";
import { askSentinel, nodeUrl, sentinelAddress } from "../src/store/redis_sentinel.ts";
import { type CliCommand, EXIT, readCommandArgs, UsageError } from "./cli_command.ts";

/** The oldest Redis the store's scripts run on (`LMOVE`). */
const MIN_VERSION = [6, 2] as const;
/** PINGs timed for the round trip. */
const PINGS = 5;
/** Keys of the prefix looked at, at most, for their type. */
const TYPED_KEYS = 20;
/** SCAN rounds, at most, looking for keys of the prefix. */
const SCAN_ROUNDS = 20;

/** What the doctor found: lines to print, warnings, and a reason it can't be used. */
interface _Findings {
  readonly lines: [string, string][];
  readonly warnings: string[];
  failure?: string;
}

/** The one method of a node-redis client the doctor uses. */
interface _Client {
  sendCommand(args: string[]): Promise<unknown>;
}

/**
 * The `doctor` command.
 *
 * @example
 * ```ts ignore
 * import { DOCTOR_COMMAND } from "./cli_doctor.ts";
 * const code = await DOCTOR_COMMAND.run(["--redis-url", "redis://127.0.0.1:6379"]);
 * ```
 */
export const DOCTOR_COMMAND: CliCommand = {
  name: "doctor",
  usage: "[--redis-url <url>] [--key-prefix <prefix>]",
  summary: "check REDIS_URL before going live: version, mode, keyspace notifications, " +
    "round trip, prefix in use; ends with a verdict",
  async run(args) {
    const { flags, positionals } = readCommandArgs("doctor", args, {
      "redis-url": "string",
      "key-prefix": "string",
    });
    if (positionals.length > 0) {
      throw new UsageError(`Cannot run "doctor": it takes no arguments, got "${positionals[0]}"`);
    }
    const env = Deno.env.toObject();
    const redis = {
      redisUrl: readSetting("redisUrl", { flag: flags["redis-url"] as string | undefined, env }),
      redisSentinels: readSetting("redisSentinels", { env }),
      sentinelName: readSetting("sentinelName", { env }) ?? OPTION_SPECS.sentinelName.defaultValue,
    };
    const location = redisLocation(redis);
    if (location === undefined) {
      throw new UsageError(
        'Cannot run "doctor": "REDIS_URL" is not set; set it, or pass --redis-url',
      );
    }
    const keyPrefix = readSetting("keyPrefix", {
      flag: flags["key-prefix"] as string | undefined,
      env,
    }) ?? OPTION_SPECS.keyPrefix.defaultValue;
    const notifications = readSetting("redisNotifications", { env });
    const findings: _Findings = { lines: [], warnings: [] };
    console.log(`Redis at ${describeRedis(redis)}`);
    const primary = "sentinels" in location
      ? await _askSentinels(location.sentinels, redis.sentinelName, findings)
      : undefined;
    const url = "nodes" in location ? location.nodes[0] : location.url ?? "redis://127.0.0.1";
    const client = createClient({
      url: primary === undefined ? url : nodeUrl(url, primary),
      socket: { reconnectStrategy: false, connectTimeout: 3_000 },
    });
    client.on("error", () => {}); // the failed connect says why
    if (findings.failure === undefined) {
      try {
        await client.connect();
      } catch (error) {
        const diagnosis = new RedisDiagnosis(() => {});
        diagnosis.connectionFailed(error);
        findings.failure = diagnosis.reason;
      }
    }
    if (findings.failure === undefined) {
      try {
        await _examine(client, findings, {
          cluster: "nodes" in location,
          keyPrefix,
          notifications,
        });
      } catch (error) {
        findings.failure = `Redis refused a check: ${(error as Error).message}`;
      } finally {
        client.destroy();
      }
    }
    return _report(findings);
  },
};

/**
 * Asks each Sentinel for the primary of `name`, with a line each; resolves
 * the primary the first one names, or notes the failure when none does.
 */
async function _askSentinels(
  sentinels: readonly string[],
  name: string,
  findings: _Findings,
): Promise<{ host: string; port: number } | undefined> {
  const named = new Set<string>();
  let primary: { host: string; port: number } | undefined;
  for (const address of sentinels) {
    try {
      const answer = await askSentinel(sentinelAddress(address), name);
      if (answer === undefined) {
        findings.lines.push([`sentinel ${address}`, `knows no primary named "${name}"`]);
        continue;
      }
      named.add(`${answer.host}:${answer.port}`);
      primary ??= answer;
      const state = answer.settled ? "" : " (it sees it down, or fails it over)";
      findings.lines.push([`sentinel ${address}`, `names ${answer.host}:${answer.port}${state}`]);
    } catch (error) {
      findings.lines.push([`sentinel ${address}`, `unreachable (${(error as Error).message})`]);
      findings.warnings.push(`Sentinel ${address} does not answer: the others must make a quorum`);
    }
  }
  if (primary === undefined) {
    findings.failure = findings.warnings.length === sentinels.length
      ? "no Sentinel answers; check REDIS_SENTINELS"
      : `no Sentinel names a primary "${name}"; check REDIS_SENTINEL_NAME`;
  } else if (named.size > 1) {
    findings.warnings.push(`the Sentinels name different primaries (${[...named].join(", ")})`);
  }
  return primary;
}

async function _examine(
  client: _Client,
  findings: _Findings,
  expected: { cluster: boolean; keyPrefix: string; notifications: "auto" | "off" },
): Promise<void> {
  const info = _fields(String(await client.sendCommand(["INFO", "server"])));
  const version = info.get("redis_version") ?? "unknown";
  findings.lines.push(["version", version]);
  const [major, minor] = version.split(".").map(Number);
  if (!(major > MIN_VERSION[0] || (major === MIN_VERSION[0] && minor >= MIN_VERSION[1]))) {
    findings.failure = `Redis ${version} is too old: the store needs ${
      MIN_VERSION.join(".")
    } or later`;
  }
  const mode = info.get("redis_mode") === "cluster" ? "cluster" : "single";
  findings.lines.push(["mode", mode]);
  if ((mode === "cluster") !== expected.cluster) {
    findings.failure ??= mode === "cluster"
      ? "Redis is a cluster node: list the cluster's nodes in REDIS_URL, comma-separated"
      : "REDIS_URL lists several nodes, but Redis is not a cluster: give its one URL";
  }
  if (mode === "cluster") {
    const state = _fields(String(await client.sendCommand(["CLUSTER", "INFO"])));
    if (state.get("cluster_state") !== "ok") {
      findings.failure ??= `the cluster's state is "${state.get("cluster_state")}", not "ok"`;
    }
  }
  findings.lines.push(["round trip", await _roundTrip(client)]);
  await _notifications(client, findings, expected.notifications);
  await _prefix(client, findings, expected.keyPrefix);
}

async function _roundTrip(client: _Client): Promise<string> {
  const times: number[] = [];
  for (let i = 0; i < PINGS; i++) {
    const start = performance.now();
    await client.sendCommand(["PING"]);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return `${times[Math.floor(PINGS / 2)].toFixed(2)} ms (median of ${PINGS} PINGs)`;
}

async function _notifications(
  client: _Client,
  findings: _Findings,
  mode: "auto" | "off",
): Promise<void> {
  const name = "notify-keyspace-events";
  let flags: string;
  try {
    flags = _configValue(await client.sendCommand(["CONFIG", "GET", name]), name);
  } catch (error) {
    findings.lines.push([name, `unknown: CONFIG is refused (${(error as Error).message})`]);
    findings.warnings.push(
      `Cannot read "${name}": CONFIG is refused, as on many managed Redis services. Set it to ` +
        '"El" in the provider\'s settings, or plain LPUSH producers are heard only on the ' +
        "backoff schedule",
    );
    return;
  }
  const on = flags.includes("E") && (flags.includes("l") || flags.includes("A"));
  if (on) {
    findings.lines.push([name, `"${flags}": list pushes are heard`]);
  } else if (mode === "auto") {
    findings.lines.push([
      name,
      `"${flags}": the server adds "El" at start (REDIS_NOTIFICATIONS=auto)`,
    ]);
  } else {
    findings.lines.push([name, `"${flags}": list pushes are not heard`]);
    findings.warnings.push(
      `"${name}" lacks "El" and REDIS_NOTIFICATIONS is off: plain LPUSH producers are heard ` +
        "only on the backoff schedule",
    );
  }
}

async function _prefix(client: _Client, findings: _Findings, keyPrefix: string): Promise<void> {
  const pattern = `${keyPrefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
  const keys: string[] = [];
  let cursor = "0";
  for (let round = 0; round < SCAN_ROUNDS; round++) {
    const [next, found] = await client.sendCommand([
      "SCAN",
      cursor,
      "MATCH",
      pattern,
      "COUNT",
      "1000",
    ]) as [string, string[]];
    keys.push(...found);
    cursor = next;
    if (cursor === "0") break;
  }
  const more = cursor === "0" ? "" : " or more";
  findings.lines.push([
    `prefix "${keyPrefix}"`,
    keys.length === 0
      ? "not in use: no key starts with it"
      : `in use: ${keys.length}${more} key${keys.length === 1 && more === "" ? "" : "s"}`,
  ]);
  for (const key of keys.slice(0, TYPED_KEYS)) {
    const type = String(await client.sendCommand(["TYPE", key]));
    if (type !== "list") {
      findings.warnings.push(
        `"${key}" holds a ${type}, not a list: polls of its uid fail until it is removed, ` +
          "or choose another KEY_PREFIX",
      );
    }
  }
}

/** Prints the findings and the verdict; resolves the exit code. */
function _report(findings: _Findings): number {
  const width = Math.max(0, ...findings.lines.map(([label]) => label.length));
  for (const [label, value] of findings.lines) console.log(`  ${label.padEnd(width)}  ${value}`);
  for (const warning of findings.warnings) console.log(`Warning: ${warning}`);
  if (findings.failure !== undefined) {
    console.log(`Verdict: not usable: ${findings.failure}`);
    return EXIT.failure;
  }
  if (findings.warnings.length > 0) {
    const count = findings.warnings.length;
    console.log(`Verdict: usable, with ${count} warning${count === 1 ? "" : "s"}`);
    return EXIT.warnings;
  }
  console.log("Verdict: ready");
  return EXIT.ok;
}

/** The `name:value` lines of an INFO reply. */
function _fields(text: string): Map<string, string> {
  return new Map(
    text.split(/\r?\n/).filter((line) => line.includes(":")).map((line) => {
      const at = line.indexOf(":");
      return [line.slice(0, at), line.slice(at + 1).trim()] as [string, string];
    }),
  );
}

/** The value of `name` in a CONFIG GET reply: a list of names and values (RESP2), or a map (RESP3). */
function _configValue(reply: unknown, name: string): string {
  if (Array.isArray(reply)) return String(reply[reply.indexOf(name) + 1] ?? "");
  if (reply instanceof Map) return String(reply.get(name) ?? "");
  return String((reply as Record<string, unknown>)[name] ?? "");
}
