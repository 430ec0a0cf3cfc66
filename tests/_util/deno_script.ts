/**
 * Runs a TypeScript snippet in a child Deno process, for checks that need a
 * process of their own (whether it exits, or V8 flags such as
 * `--expose-gc`).
 *
 * @module
 */

/** Options of {@linkcode runDenoScript}. */
export interface DenoScriptOptions {
  /**
   * Flags for V8 (`--v8-flags=...`).
   * @default {[]}
   */
  v8Flags?: string[];
  /**
   * The child is killed after this many milliseconds.
   * @default {10000}
   */
  timeoutMs?: number;
}

/**
 * Runs `source` with `deno eval` and returns its standard output. Throws
 * when the child exits with an error or has to be killed at the timeout.
 *
 * @example
 * ```ts
 * import { runDenoScript } from "./deno_script.ts";
 * import assert from "node:assert/strict";
 * assert.equal(await runDenoScript("console.log(6 * 7)"), "42\n");
 * ```
 *
 * @param source The script.
 * @param options V8 flags and the time limit.
 * @returns What the script printed.
 */
export async function runDenoScript(
  source: string,
  options: DenoScriptOptions = {},
): Promise<string> {
  const { v8Flags = [], timeoutMs = 10_000 } = options;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      ...(v8Flags.length > 0 ? [`--v8-flags=${v8Flags.join(",")}`] : []),
      source,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const { code, signal, stdout } = await child.output();
    if (signal !== null) {
      throw new Error(`the script did not exit within ${timeoutMs} ms`);
    }
    if (code !== 0) throw new Error(`the script exited with code ${code}`);
    return new TextDecoder().decode(stdout);
  } finally {
    clearTimeout(killer);
  }
}
