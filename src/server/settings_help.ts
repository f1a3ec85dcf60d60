/**
 * The `--help` of the serve application: every setting of
 * {@linkcode SETTINGS} with its flag, environment variable, default and
 * meaning, the same rows as the README's settings table.
 *
 * @module
 */
import { SETTINGS } from "./settings.ts";
import { flagName } from "./config.ts";

/** The columns of the help's table, in order. */
const HEADINGS = ["FLAG", "VARIABLE", "DEFAULT", "MEANING"] as const;

/**
 * The help text of `serve`: its usage, then the settings' table.
 *
 * @example
 * ```ts
 * import { settingsHelp } from "./settings_help.ts";
 * const help = settingsHelp();
 * console.log(help.split("\n")[0]); // Usage: deno task serve [--<flag> <value>]...
 * console.log(help.includes("--redis-url")); // true
 * ```
 */
export function settingsHelp(): string {
  const rows = [
    [...HEADINGS],
    ...SETTINGS.map((setting) => [
      `--${flagName(setting.variable)}`,
      setting.variable,
      setting.defaultText,
      setting.meaning,
    ]),
  ];
  const widths = HEADINGS.map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  const table = rows.map((row) =>
    "  " + row.map((cell, column) => column === 3 ? cell : cell.padEnd(widths[column])).join("  ")
  );
  return [
    "Usage: deno task serve [--<flag> <value>]...",
    "",
    "Serves long polls. Each setting comes from its flag, else its environment variable,",
    "else its default.",
    "",
    ...table,
  ].join("\n");
}
