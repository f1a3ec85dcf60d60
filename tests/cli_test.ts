/**
 * The command line, run as a user runs it: `deploy/cli.ts` in a process of
 * its own, against a real redis-server and a real server, bad input
 * included.
 */
import assert from "node:assert/strict";
import { SETTINGS } from "../src/server/settings.ts";
import { runCli } from "../testing/cli_run.ts";
import { freePort } from "../testing/free_port.ts";
import { waitUntilHeld } from "../testing/held_polls.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { startRedisServer } from "../testing/redis_server.ts";
import { TEST_SECRET, testSecret } from "../testing/secrets.ts";
import { startServe } from "../testing/serve_process.ts";

const COMMANDS = ["serve", "sign", "publish", "doctor", "secret"];
const TOKEN = testSecret("token");

Deno.test("cli: no command, or an unknown one, lists the commands", async () => {
  const none = await runCli([]);
  assert.equal(none.code, 2);
  for (const command of COMMANDS) assert.match(none.stdout, new RegExp(`^  ${command} `, "m"));
  assert.match(none.stdout, /Exit codes: 0 done, 1 failed, 2 bad usage or setting, 3 doctor/);
  assert.equal((await runCli(["--help"])).code, 0);
  const unknown = await runCli(["srve"]);
  assert.equal(unknown.code, 2);
  assert.equal(
    unknown.stderr.trim(),
    `Cannot run "srve": it is not a command; the commands are ${
      COMMANDS.join(", ")
    } (deno task cli --help)`,
  );
});

Deno.test("cli: serve --help lists every setting as the code's table and the README's do", async () => {
  const help = await runCli(["serve", "--help"]);
  assert.equal(help.code, 0, help.stderr);
  const fromHelp = help.stdout.split("\n").filter((line) => /^ {2}--/.test(line))
    .map((line) => line.trim().split(/\s{2,}/));
  const fromCode = SETTINGS.map((setting) => [
    `--${setting.variable.toLowerCase().replaceAll("_", "-")}`,
    setting.variable,
    setting.defaultText,
    setting.meaning,
  ]);
  assert.deepEqual(fromHelp, fromCode);
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const fromReadme = readme.split("\n").filter((line) => /^\|\s*`[A-Z_]+`\s*\|\s*`--/.test(line))
    .map((row) =>
      row.split("|").slice(1, 5).map((cell) => cell.trim().replace(/^`([^`]*)`$/, "$1"))
    )
    .map(([variable, flag, defaultText, meaning]) => [flag, variable, defaultText, meaning]);
  assert.deepEqual(fromReadme, fromCode);
});

Deno.test("cli: serve refuses an unknown flag, listing the valid ones", async () => {
  const run = await runCli(["serve", "--prot", "80"]);
  assert.equal(run.code, 2);
  assert.match(
    run.stderr,
    /^Cannot read flags: "--prot" is not a flag; the flags are --port, --host, /,
  );
  for (const setting of SETTINGS) {
    assert.ok(run.stderr.includes(`--${setting.variable.toLowerCase().replaceAll("_", "-")}`));
  }
  assert.match(run.stderr, /, --help\n$/);
});

Deno.test("cli: serve refuses a short SIGN_SECRET or PUBLISH_TOKEN, with how to make one", async () => {
  const envs: Record<string, string>[] = [{ SIGN_SECRET: "s3" }, {
    PUBLISH_TOKEN: `${TOKEN},short`,
  }];
  for (const env of envs) {
    const run = await runCli(["serve"], { env: { ...env, PORT: String(freePort()) } });
    assert.equal(run.code, 2, run.stdout);
    assert.match(
      run.stderr,
      /^Cannot read "(SIGN_SECRET|PUBLISH_TOKEN)": expected secrets of at least 32 bytes each \(make one with "deno task cli secret" or "openssl rand -hex 32"\), got \d+ characters\n$/,
    );
    assert.doesNotMatch(run.stdout + run.stderr, /listening/);
  }
});

Deno.test("cli: secret prints 32 random bytes in hex, each time others", async () => {
  const [first, second] = await Promise.all([runCli(["secret"]), runCli(["secret"])]);
  assert.equal(first.code, 0);
  assert.match(first.stdout, /^[0-9a-f]{64}\n$/);
  assert.notEqual(first.stdout, second.stdout);
  const extra = await runCli(["secret", "now"]);
  assert.equal(extra.code, 2);
  assert.equal(extra.stderr.trim(), 'Cannot run "secret": it takes no arguments, got "now"');
});

Deno.test("cli: sign's query parameters are accepted by a real server", async () => {
  const secret = (await runCli(["secret"])).stdout.trim();
  await using server = await startServe({ SIGN_SECRET: secret, MIN_WAIT: "0.2", MAX_WAIT: "0.2" });
  const publish = (uid: string, message: string) =>
    fetch(`${server.origin}/publish?uid=${uid}`, { method: "POST", body: message })
      .then((response) => response.text());
  const poll = async (query: string) => {
    const response = await fetch(`${server.origin}/?${query}`);
    return [response.status, await response.text()];
  };
  const plain = await runCli(["sign", "42"], { env: { SIGN_SECRET: secret } });
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /^sign=[0-9a-f]{64}\n$/);
  await publish("42", "plain");
  assert.deepEqual(await poll(`uid=42&${plain.stdout.trim()}`), [200, "plain"]);

  const before = Math.floor(Date.now() / 1000);
  const expiring = await runCli(["sign", "é 7", "--exp", "60", "--sign-secret", secret]);
  assert.equal(expiring.code, 0, expiring.stderr);
  const exp = Number(/&exp=(\d+)\n$/.exec(expiring.stdout)?.[1]);
  assert.ok(exp >= before + 60 && exp <= Math.floor(Date.now() / 1000) + 60, expiring.stdout);
  await publish(encodeURIComponent("é 7"), "expiring");
  const query = `uid=${encodeURIComponent("é 7")}&${expiring.stdout.trim()}`;
  assert.deepEqual(await poll(query), [200, "expiring"]);
  // Signed for another uid, or by another secret: refused.
  assert.equal((await poll(`uid=43&${plain.stdout.trim()}`))[0], 403);
  const other = await runCli(["sign", "42"], { env: { SIGN_SECRET: testSecret("other") } });
  assert.equal((await poll(`uid=42&${other.stdout.trim()}`))[0], 403);
});

Deno.test("cli: sign refuses bad input with a clear line and exit code 2", async () => {
  const env = { SIGN_SECRET: TEST_SECRET };
  const cases: [string[], Record<string, string>, string][] = [
    [["sign"], env, 'Cannot sign: "uid" is missing'],
    [["sign", ""], env, 'Cannot sign: "uid" is empty'],
    [["sign", "a\nb"], env, 'Cannot sign: "uid" holds control characters'],
    [["sign", "42", "43"], env, 'Cannot sign: it takes one uid, got also "43"'],
    [
      ["sign", "42", "--exp", "soon"],
      env,
      'Cannot sign: "--exp" expects whole seconds from now, from 1 to 315360000, got "soon"',
    ],
    [
      ["sign", "42", "--exp", "0"],
      env,
      'Cannot sign: "--exp" expects whole seconds from now, from 1 to 315360000, got "0"',
    ],
    [
      ["sign", "42", "--exp"],
      env,
      `Cannot run "sign": Option '--exp <value>' argument missing; the flags are --exp, --sign-secret, --help`,
    ],
    [
      ["sign", "42", "--expires", "60"],
      env,
      'Cannot run "sign": "--expires" is not a flag; the flags are --exp, --sign-secret, --help',
    ],
    [
      ["sign", "42"],
      {},
      'Cannot sign: "SIGN_SECRET" is not set; set it, or pass --sign-secret, as the server has it',
    ],
    [
      ["sign", "42"],
      { SIGN_SECRET: "s3cret" },
      'Cannot read "SIGN_SECRET": expected secrets of at least 32 bytes each (make one with ' +
      '"deno task cli secret" or "openssl rand -hex 32"), got 6 characters',
    ],
  ];
  for (const [args, caseEnv, message] of cases) {
    const run = await runCli(args, { env: caseEnv });
    assert.deepEqual([run.code, run.stderr.trim(), run.stdout], [2, message, ""], args.join(" "));
  }
});

Deno.test(redisTest("cli: publish to Redis wakes a held poll, as /publish does", async () => {
  await using redis = await startRedisServer();
  // Notifications off: only the wake of the publish script can answer the poll at once.
  await using server = await startServe({
    REDIS_URL: redis.url,
    REDIS_NOTIFICATIONS: "off",
    MIN_WAIT: "60",
    MAX_WAIT: "60",
  });
  const poll = fetch(`${server.origin}/?uid=42`).then((response) => response.text());
  await waitUntilHeld([server], 1);
  const started = performance.now();
  const run = await runCli(["publish", "42", '{"hi":1}'], { env: { REDIS_URL: redis.url } });
  assert.deepEqual([run.code, run.stdout, run.stderr], [0, 'published to "Q/MSG42"\n', ""]);
  assert.equal(await poll, '{"hi":1}');
  assert.ok(performance.now() - started < 10_000);

  // From standard input, with `-` or nothing, byte for byte; under another prefix.
  const env = { REDIS_URL: redis.url, KEY_PREFIX: "msg:" };
  assert.equal((await runCli(["publish", "7", "-"], { env, stdin: "line 1\nline 2\n" })).code, 0);
  assert.equal((await runCli(["publish", "7"], { env, stdin: "é" })).code, 0);
  assert.equal(await redis.cli("LRANGE", "msg:7", "0", "-1"), "é\nline 1\nline 2");
}));

Deno.test(redisTest("cli: publish to a server's /publish, with its token", async () => {
  await using redis = await startRedisServer();
  await using server = await startServe({ REDIS_URL: redis.url, PUBLISH_TOKEN: TOKEN });
  const ok = await runCli(["publish", "42", "via http", "--url", `${server.origin}/`], {
    env: { PUBLISH_TOKEN: TOKEN },
  });
  assert.deepEqual([ok.code, ok.stdout, ok.stderr], [0, '{"published":true}\n', ""]);
  assert.equal(await redis.cli("LRANGE", "Q/MSG42", "0", "-1"), "via http");
  const wrong = await runCli([
    "publish",
    "42",
    "lost?",
    "--url",
    server.origin,
    "--token",
    testSecret("wrong"),
  ]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /^Cannot publish: the server answered 401: \{"error":/);
  const away = await runCli(["publish", "42", "m", "--url", `http://127.0.0.1:${freePort()}`]);
  assert.equal(away.code, 1);
  assert.match(away.stderr, /^Cannot publish: cannot reach "http:\/\/127\.0\.0\.1:\d+" \(/);
  assert.equal(await redis.cli("LLEN", "Q/MSG42"), "1", "nothing else was published");
}));

Deno.test("cli: publish refuses bad input, and an unreachable Redis, with a clear line", async () => {
  const port = freePort();
  const redisEnv = { REDIS_URL: `redis://127.0.0.1:${port}` };
  const cases: [string[], Record<string, string>, string | Uint8Array, number, RegExp][] = [
    [["publish"], redisEnv, "", 2, /^Cannot publish: "uid" is missing$/],
    [["publish", "42", "-"], redisEnv, "", 2, /^Cannot publish: the message is empty$/],
    [
      ["publish", "42"],
      redisEnv,
      new Uint8Array([0xff, 0xfe]),
      2,
      /^Cannot publish: the message on standard input is not UTF-8$/,
    ],
    [
      ["publish", "42", "a", "b"],
      redisEnv,
      "",
      2,
      /^Cannot publish: it takes a uid and one message, got also "b"; quote the message$/,
    ],
    [
      ["publish", "42", "m", "--to", "x"],
      redisEnv,
      "",
      2,
      /^Cannot run "publish": "--to" is not a flag; the flags are --url, --token, --redis-url, --key-prefix, --help$/,
    ],
    [
      ["publish", "42", "m"],
      {},
      "",
      2,
      /^Cannot publish: "REDIS_URL" is not set; set it \(or pass --redis-url\)/,
    ],
    [
      ["publish", "42", "m", "--url", "127.0.0.1:8888"],
      {},
      "",
      2,
      /^Cannot publish: "--url" expects an http:\/\/ or https:\/\/ URL, got "127\.0\.0\.1:8888"$/,
    ],
    [
      ["publish", "42", "m"],
      redisEnv,
      "",
      1,
      new RegExp(
        `^Cannot publish: Redis at redis://127\\.0\\.0\\.1:${port} is not ready: Cannot connect to Redis: nothing listens there`,
        "m",
      ),
    ],
  ];
  for (const [args, env, stdin, code, message] of cases) {
    const run = await runCli(args, { env, stdin });
    assert.equal(run.code, code, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr.trim(), message);
    assert.equal(run.stdout, "");
  }
});

Deno.test(
  redisTest("cli: doctor reports on a real Redis, with a verdict and its exit code", async () => {
    await using redis = await startRedisServer();
    const version = /redis_version:(\S+)/.exec(await redis.cli("INFO", "server"))![1];
    const env = { REDIS_URL: redis.url };
    const fresh = await runCli(["doctor"], { env });
    assert.equal(fresh.code, 0, fresh.stdout + fresh.stderr);
    const lines = fresh.stdout.trim().split("\n");
    assert.equal(lines[0], `Redis at ${redis.url}`);
    assert.match(fresh.stdout, new RegExp(`^  version +${version.replaceAll(".", "\\.")}$`, "m"));
    assert.match(fresh.stdout, /^ {2}mode +single$/m);
    assert.match(fresh.stdout, /^ {2}round trip +\d+\.\d\d ms \(median of 5 PINGs\)$/m);
    assert.match(
      fresh.stdout,
      /^ {2}notify-keyspace-events +"": the server adds "El" at start \(REDIS_NOTIFICATIONS=auto\)$/m,
    );
    assert.match(fresh.stdout, /^ {2}prefix "Q\/MSG" +not in use: no key starts with it$/m);
    assert.equal(lines.at(-1), "Verdict: ready");

    await redis.cli("CONFIG", "SET", "notify-keyspace-events", "KEl");
    await redis.cli("LPUSH", "Q/MSG1", "m");
    await redis.cli("LPUSH", "other", "m");
    const used = await runCli(["doctor"], { env });
    assert.equal(used.code, 0);
    const flags = (await redis.cli("CONFIG", "GET", "notify-keyspace-events")).split("\n")[1];
    assert.match(
      used.stdout,
      new RegExp(`^  notify-keyspace-events +"${flags}": list pushes are heard$`, "m"),
    );
    assert.match(used.stdout, /^ {2}prefix "Q\/MSG" +in use: 1 key$/m);

    // A key of the prefix that is no list: usable, with a warning.
    await redis.cli("SET", "Q/MSG2", "x");
    const warned = await runCli(["doctor"], { env });
    assert.equal(warned.code, 3);
    assert.match(warned.stdout, /^Warning: "Q\/MSG2" holds a string, not a list: /m);
    assert.match(warned.stdout, /\nVerdict: usable, with 1 warning\n$/);

    // Several URLs, but no cluster: not usable.
    const notCluster = await runCli(["doctor", "--redis-url", `${redis.url},${redis.url}`]);
    assert.equal(notCluster.code, 1);
    assert.match(notCluster.stdout, /^ {2}mode +single$/m);
    assert.match(
      notCluster.stdout,
      /\nVerdict: not usable: REDIS_URL lists several nodes, but Redis is not a cluster/,
    );
  }),
);

Deno.test(
  redisTest("cli: doctor warns where CONFIG is refused, as on a managed Redis", async () => {
    await using redis = await startRedisServer({ extraArgs: ["--rename-command", "CONFIG", ""] });
    const run = await runCli(["doctor"], { env: { REDIS_URL: redis.url } });
    assert.equal(run.code, 3, run.stdout);
    assert.match(
      run.stdout,
      /^ {2}notify-keyspace-events +unknown: CONFIG is refused \(ERR unknown command/m,
    );
    assert.match(
      run.stdout,
      /^Warning: Cannot read "notify-keyspace-events": CONFIG is refused, as on many managed Redis services\. Set it to "El"/m,
    );
    assert.match(run.stdout, /\nVerdict: usable, with 1 warning\n$/);
  }),
);

Deno.test("cli: doctor says why Redis can't be reached, and what is missing", async () => {
  const port = freePort();
  const away = await runCli(["doctor"], { env: { REDIS_URL: `redis://127.0.0.1:${port}` } });
  assert.equal(away.code, 1);
  assert.equal(
    away.stdout,
    `Redis at redis://127.0.0.1:${port}\nVerdict: not usable: Cannot connect to Redis: nothing ` +
      `listens there; check the URL, and that Redis runs (connect ECONNREFUSED 127.0.0.1:${port})\n`,
  );
  const hidden = await runCli(["doctor", "--redis-url", `redis://app:s3cret@127.0.0.1:${port}`]);
  assert.match(hidden.stdout, /^Redis at redis:\/\/\*\*\*@127\.0\.0\.1:\d+\n/);
  assert.doesNotMatch(hidden.stdout + hidden.stderr, /s3cret/);
  const unset = await runCli(["doctor"]);
  assert.deepEqual([unset.code, unset.stderr.trim()], [
    2,
    'Cannot run "doctor": "REDIS_URL" is not set; set it, or pass --redis-url',
  ]);
  const badUrl = await runCli(["doctor"], { env: { REDIS_URL: "localhost:6379" } });
  assert.equal(badUrl.code, 2);
  assert.match(badUrl.stderr, /^Cannot read "REDIS_URL": expected a redis:\/\/ or rediss:\/\/ URL/);
});

Deno.test("cli: the systemd unit runs the CLI's serve with the permissions of deno task serve", async () => {
  const root = new URL("../", import.meta.url);
  const tasks = JSON.parse(await Deno.readTextFile(new URL("deno.json", root))).tasks;
  const unit = await Deno.readTextFile(new URL("deploy/longpoll@.service", root));
  const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? "";
  assert.equal(tasks.serve, `${tasks.cli} serve`);
  assert.equal(
    execStart,
    tasks.serve.replace(/^deno run /, "/usr/local/bin/deno run --cached-only ") + " --port %i",
  );
  // The install step the unit's comment names is the one deploy/README.md has.
  const guide = await Deno.readTextFile(new URL("deploy/README.md", root));
  assert.doesNotMatch(unit, /deno cache/);
  assert.match(
    unit,
    /`deno install --entrypoint\n# deploy\/cli\.ts` \(deploy\/README\.md step 3\)/,
  );
  assert.match(guide, /\*\*3\. [^]*deno install --entrypoint deploy\/cli\.ts[^]*\*\*4\. /);
});
