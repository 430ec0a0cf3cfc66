/**
 * A memo for pure string parsers on the handshake path: the same few values
 * (origins, hosts, client addresses) come with every session. The memo is
 * cleared when full, so distinct values sent by clients cannot grow it.
 * Private to `security/`.
 *
 * @module
 */

/** Remembered results of one parser; `null` stands for `undefined`. */
export interface BoundedMemo<T> {
  /** Remembered results. */
  readonly results: Map<string, T | null>;
  /** How many results are kept before all are forgotten. */
  readonly limit: number;
}

/**
 * Makes an empty memo.
 * @param limit How many results to keep before forgetting all.
 * @returns The memo.
 */
export function boundedMemo<T>(limit: number): BoundedMemo<T> {
  return { results: new Map(), limit };
}

/**
 * `parse(text)`, remembered in `memo`.
 * @param memo Where results are kept.
 * @param text The input.
 * @param parse A pure function of `text`.
 * @returns What `parse(text)` returns.
 */
export function memoized<T>(
  memo: BoundedMemo<T>,
  text: string,
  parse: (text: string) => T | undefined,
): T | undefined {
  const results = memo.results;
  const known = results.get(text);
  if (known !== undefined) return known ?? undefined;
  const parsed = parse(text);
  if (results.size >= memo.limit) results.clear();
  results.set(text, parsed ?? null);
  return parsed;
}
