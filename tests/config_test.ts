import assert from "node:assert/strict";
import { SETTINGS } from "../src/server/settings.ts";
import { ConfigError, loadConfig } from "../src/server/config.ts";
import { TEST_SECRET, testSecret } from "../testing/secrets.ts";

Deno.test("config: with nothing set, the defaults of the README's settings table", () => {
  const config = loadConfig([], {});
  assert.equal(config.port, 8888);
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.redisUrl, undefined);
  assert.equal(config.keyPrefix, "Q/MSG");
  assert.equal(config.secret, undefined);
  assert.equal(config.publishToken, undefined);
  assert.equal(config.minWait, 15);
  assert.equal(config.maxWait, 900);
  assert.equal(config.stopCode, '{"stop":1}');
  assert.equal(config.maxBodyBytes, 65536);
  assert.deepEqual(config.corsOrigins, []);
  assert.equal(config.earlyHeaders, false);
});

Deno.test("config: every documented variable is a setting", () => {
  const variables = SETTINGS.map((setting) => setting.variable);
  for (
    const variable of [
      "PORT",
      "HOST",
      "REDIS_URL",
      "KEY_PREFIX",
      "SIGN_SECRET",
      "PUBLISH_TOKEN",
      "MIN_WAIT",
      "MAX_WAIT",
      "STOP_CODE",
    ]
  ) {
    assert.ok(variables.includes(variable), `${variable} is missing`);
  }
  assert.equal(new Set(variables).size, variables.length, "no variable twice");
  assert.ok(!variables.includes("HOSTNAME"), "HOSTNAME is the machine's name, not ours");
});

Deno.test("config: environment variables override the defaults", () => {
  const config = loadConfig([], {
    PORT: "9000",
    HOST: "0.0.0.0",
    REDIS_URL: "redis://127.0.0.1:6380",
    KEY_PREFIX: "msg:",
    SIGN_SECRET: TEST_SECRET,
    PUBLISH_TOKEN: testSecret("token"),
    MIN_WAIT: "0.2",
    MAX_WAIT: "0.5",
    STOP_CODE: "{'stop':1}",
    MAX_BODY_BYTES: "1024",
    CORS_ORIGINS: "https://a.example, https://b.example,",
    EARLY_HEADERS: "true",
  });
  assert.equal(config.port, 9000);
  assert.equal(config.host, "0.0.0.0");
  assert.equal(config.redisUrl, "redis://127.0.0.1:6380");
  assert.equal(config.keyPrefix, "msg:");
  assert.deepEqual(config.secret, [TEST_SECRET]);
  assert.deepEqual(config.publishToken, [testSecret("token")]);
  assert.equal(config.minWait, 0.2);
  assert.equal(config.maxWait, 0.5);
  assert.equal(config.stopCode, "{'stop':1}");
  assert.equal(config.maxBodyBytes, 1024);
  assert.deepEqual(config.corsOrigins, ["https://a.example", "https://b.example"]);
  assert.equal(config.earlyHeaders, true);
});

Deno.test("config: flags override environment variables", () => {
  const config = loadConfig(
    ["--port", "7000", "--redis-url=redis://flag:6379", "--min-wait", "1", "--stop-code", "STOP"],
    { PORT: "9000", REDIS_URL: "redis://env:6379", MIN_WAIT: "2", MAX_WAIT: "3" },
  );
  assert.equal(config.port, 7000);
  assert.equal(config.redisUrl, "redis://flag:6379");
  assert.equal(config.minWait, 1);
  assert.equal(config.maxWait, 3, "from the environment, no flag given");
  assert.equal(config.stopCode, "STOP");
});

Deno.test("config: HOSTNAME from the shell does not change the listen address", () => {
  assert.equal(loadConfig([], { HOSTNAME: "build-box-7" }).host, "127.0.0.1");
});

Deno.test("config: booleans read the usual spellings", () => {
  for (const text of ["1", "true", "TRUE", "yes", "on"]) {
    assert.equal(loadConfig([], { EARLY_HEADERS: text }).earlyHeaders, true, text);
  }
  for (const text of ["0", "false", "no", "off"]) {
    assert.equal(loadConfig([], { EARLY_HEADERS: text }).earlyHeaders, false, text);
  }
});

Deno.test("config: bad values are refused with the source and the value in the message", () => {
  const cases: [string[], Record<string, string>, string][] = [
    [
      [],
      { PORT: "eighty" },
      'Cannot read "PORT": expected a whole number from 0 to 65535, got "eighty"',
    ],
    [
      [],
      { PORT: "70000" },
      'Cannot read "PORT": expected a whole number from 0 to 65535, got "70000"',
    ],
    [["--port=-1"], {}, 'Cannot read "--port": expected a whole number from 0 to 65535, got "-1"'],
    [[], { MIN_WAIT: "0" }, 'Cannot read "MIN_WAIT": expected a number above 0, got "0"'],
    [[], { MIN_WAIT: "" }, 'Cannot read "MIN_WAIT": expected a number above 0, got ""'],
    [[], { MAX_WAIT: "-5" }, 'Cannot read "MAX_WAIT": expected a number of at least 0, got "-5"'],
    [
      ["--presence-linger=soon"],
      {},
      'Cannot read "--presence-linger": expected a number of at least 0, got "soon"',
    ],
    [
      [],
      { REDIS_URL: "" },
      'Cannot read "REDIS_URL": expected a redis:// or rediss:// URL, or a comma-separated list of cluster nodes, got ""',
    ],
    [
      [],
      { EARLY_HEADERS: "maybe" },
      'Cannot read "EARLY_HEADERS": expected true or false, got "maybe"',
    ],
    [
      [],
      { EARLY_HEADERS: "true", AT_LEAST_ONCE: "true" },
      'Cannot read "EARLY_HEADERS": it cannot be combined with "AT_LEAST_ONCE", as early headers cannot carry "X-Ack-Id"',
    ],
    [
      [],
      { MAX_BODY_BYTES: "0" },
      'Cannot read "MAX_BODY_BYTES": expected a whole number from 1 to 2147483648, got "0"',
    ],
  ];
  for (const [args, env, message] of cases) {
    assert.throws(() => loadConfig(args, env), { name: "ConfigError", message });
  }
});

Deno.test("config: unknown flags and positionals are refused", () => {
  assert.throws(() => loadConfig(["--prot", "80"], {}), (error) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /^Cannot read flags: .*--prot/);
    return true;
  });
  assert.throws(() => loadConfig(["serve"], {}), ConfigError);
});
