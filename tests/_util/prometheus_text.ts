/**
 * A shape check for the Prometheus text exposition format, shared by the
 * metrics suites.
 *
 * @module
 */

import assert from "node:assert/strict";

const SAMPLE_LINE =
  /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*",?)*\})? (-?[0-9.e+]+|NaN|[+-]Inf)$/;

/**
 * Asserts that `text` ends with a newline and every line is a `# HELP` or
 * `# TYPE` comment or a well-formed sample line.
 *
 * @param text The exposition text.
 *
 * @example A counter
 * ```ts
 * import { assertWellFormed } from "./prometheus_text.ts";
 * import assert from "node:assert/strict";
 * assertWellFormed('# TYPE c counter\nc{a="1"} 2\n');
 * assert.throws(() => assertWellFormed("c 1"));
 * ```
 */
export function assertWellFormed(text: string): void {
  assert.ok(text.endsWith("\n"));
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue;
    assert.match(line, SAMPLE_LINE);
  }
}
