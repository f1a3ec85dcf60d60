/**
 * A secret that may be rotated: one, or a list with the current one first
 * and the previous ones after it, still accepted while clients move over.
 *
 * @example
 * ```ts
 * import type { Secrets } from "./secret_list.ts";
 * const rotating: Secrets = ["new-secret", "old-secret"];
 * ```
 */
export type Secrets = string | readonly string[];

/**
 * `secrets` as a list, current first; throws a TypeError naming `name` when
 * the list is empty or holds an empty secret.
 *
 * @example
 * ```ts
 * import { secretList } from "./secret_list.ts";
 * console.log(secretList("secret", "s3cret")); // [ "s3cret" ]
 * try {
 *   secretList("secret", ["new", ""]);
 * } catch (error) {
 *   console.log((error as Error).message); // Cannot use "secret": it holds an empty secret
 * }
 * ```
 */
export function secretList(name: string, secrets: Secrets): readonly string[] {
  const list = typeof secrets === "string" ? [secrets] : [...secrets];
  if (list.length === 0) throw new TypeError(`Cannot use "${name}": the list is empty`);
  if (list.some((secret) => typeof secret !== "string" || secret === "")) {
    throw new TypeError(`Cannot use "${name}": it holds an empty secret`);
  }
  return Object.freeze(list);
}
