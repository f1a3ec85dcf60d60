/**
 * `deno task cli <command>`: the project's command line, one entry for
 * every command (`deno task serve` is `deno task cli serve`).
 *
 * - `serve`: the server; `serve --help` lists every setting.
 * - `sign <uid> [--exp <seconds from now>]`: the `sign` (and `exp`) query parameters of a poll.
 * - `publish <uid> [message | -]`: one message, to Redis or (`--url`) to a server.
 * - `doctor`: checks the Redis of `REDIS_URL`, with a verdict.
 * - `secret`: a new secret for `SIGN_SECRET` or `PUBLISH_TOKEN`.
 *
 * Exit codes: 0 done, 1 failed, 2 bad usage or setting, 3 doctor: usable
 * with warnings (see {@linkcode EXIT}).
 *
 * @module
 */
import { ConfigError } from "../src/server/config.ts";
import { type CliCommand, EXIT, UsageError } from "./cli_command.ts";
import { DOCTOR_COMMAND } from "./cli_doctor.ts";
import { PUBLISH_COMMAND } from "./cli_publish.ts";
import { SECRET_COMMAND } from "./cli_secret.ts";
import { SIGN_COMMAND } from "./cli_sign.ts";
import { serveOnDeno } from "./serve.ts";

/** `serve`: the server, whose `--help` is its settings table. */
const SERVE_COMMAND: CliCommand = {
  name: "serve",
  usage: "[--<setting> <value>]...",
  summary: "serve long polls; --help lists every setting, its variable and default",
  async run(args) {
    await serveOnDeno(args);
    return EXIT.ok;
  },
};

const COMMANDS = [SERVE_COMMAND, SIGN_COMMAND, PUBLISH_COMMAND, DOCTOR_COMMAND, SECRET_COMMAND];

/** The CLI's usage: every command, and the exit codes. */
function _usage(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return [
    "Usage: deno task cli <command> [arguments]",
    "",
    ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    "",
    "Run deno task cli <command> --help for its arguments.",
    "Exit codes: 0 done, 1 failed, 2 bad usage or setting, 3 doctor: usable with warnings.",
  ].join("\n");
}

/** Runs the command of `args`; resolves the exit code. */
async function _main(args: readonly string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    console.log(_usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (command === undefined) {
    console.error(
      `Cannot run "${name}": it is not a command; the commands are ${
        COMMANDS.map((candidate) => candidate.name).join(", ")
      } (deno task cli --help)`,
    );
    return EXIT.usage;
  }
  if (command !== SERVE_COMMAND && rest.some((arg) => arg === "--help" || arg === "-h")) {
    console.log(`Usage: deno task cli ${command.name} ${command.usage}\n\n${command.summary}`);
    return EXIT.ok;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof ConfigError)) throw error;
    console.error(error.message);
    return EXIT.usage;
  }
}

Deno.exitCode = await _main(Deno.args);
