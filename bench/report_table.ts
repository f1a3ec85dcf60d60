/**
 * One markdown table of the report: ours (and, on Deno, ours with early
 * headers) beside Nchan, with the ratios, and the formatting of its cells.
 *
 * @module
 */

/** Numbers of one row: ours, ours with early headers, Nchan. */
export type Cells = [ours?: number, early?: number, nchan?: number];

/** Text cells of one row, ratios included. */
export interface TextCells {
  ours: string;
  early?: string;
  nchan: string;
  /** ours/Nchan. */
  ratio: string;
  /** early/Nchan. */
  earlyRatio?: string;
}

/** How a row of numbers is shown. */
export interface RowOptions {
  /** The goal, in words. @default {""} */
  target?: string;
  /** Digits after the point. @default {1} */
  digits?: number;
}

/**
 * A table under construction.
 *
 * @example
 * ```ts
 * import { ComparisonTable } from "./report_table.ts";
 * const table = new ComparisonTable(false);
 * table.row("RSS per held poll (KiB)", [19.5, undefined, 13], { target: "≤ 1.2×" });
 * console.log(table.render()[2]); // | RSS per held poll (KiB) | 19.5 | 13.0 | 1.50× | ≤ 1.2× |
 * ```
 */
export class ComparisonTable {
  readonly #early: boolean;
  readonly #rows: string[] = [];

  /** `early`: whether the table has the early-headers columns. */
  constructor(early: boolean) {
    this.#early = early;
  }

  /** Adds a row of numbers; the ratios are computed. */
  row(figure: string, cells: Cells, options: RowOptions = {}): void {
    const [ours, early, nchan] = cells;
    const digits = options.digits ?? 1;
    this.text(figure, {
      ours: formatNumber(ours, digits),
      early: formatNumber(early, digits),
      nchan: formatNumber(nchan, digits),
      ratio: formatRatio(ours, nchan),
      earlyRatio: formatRatio(early, nchan),
    }, options.target);
  }

  /** Adds a row of text cells as they are. */
  text(figure: string, cells: TextCells, target = ""): void {
    const columns = this.#early
      ? [cells.ours, cells.early ?? "", cells.nchan, cells.ratio, cells.earlyRatio ?? ""]
      : [cells.ours, cells.nchan, cells.ratio];
    this.#rows.push(`| ${[figure, ...columns, target].join(" | ")} |`);
  }

  /** Whether no row was added. */
  get empty(): boolean {
    return this.#rows.length === 0;
  }

  /** The header and the rows. */
  render(): string[] {
    return this.#early
      ? [
        "| figure | ours | early | Nchan | ours/Nchan | early/Nchan | target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        ...this.#rows,
      ]
      : [
        "| figure | ours | Nchan | ours/Nchan | target |",
        "| --- | ---: | ---: | ---: | --- |",
        ...this.#rows,
      ];
  }
}

/**
 * A number with `digits` digits and thousands separators; "" when absent,
 * "n/a" when not a number.
 *
 * @example
 * ```ts
 * import { formatNumber } from "./report_table.ts";
 * console.log(formatNumber(65123.4, 0), formatNumber(NaN, 1)); // 65,123 n/a
 * ```
 */
export function formatNumber(value: number | undefined, digits: number): string {
  if (value === undefined) return "";
  if (Number.isNaN(value)) return "n/a";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/**
 * `a / b` as "0.46×"; "" when either is absent.
 *
 * @example
 * ```ts
 * import { formatRatio } from "./report_table.ts";
 * console.log(formatRatio(30, 65), formatRatio(0, 0)); // 0.46× =
 * ```
 */
export function formatRatio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || Number.isNaN(a) || Number.isNaN(b)) return "";
  if (b === 0) return a === 0 ? "=" : "";
  return `${(a / b).toFixed(2)}×`;
}

/**
 * A count as "10k" when it is whole thousands.
 *
 * @example
 * ```ts
 * import { formatCount } from "./report_table.ts";
 * console.log(formatCount(19_000), formatCount(1_500)); // 19k 1500
 * ```
 */
export function formatCount(n: number): string {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : `${Math.round(n)}`;
}
