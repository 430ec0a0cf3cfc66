/**
 * The `--v8-flags=...` of `deno task start`, so benchmarks run the gateway
 * (or a bare relay compared with it) the way the project's own launch
 * command does.
 *
 * @module
 */

const DENO_JSON = new URL("../deno.json", import.meta.url).pathname;

/**
 * Reads the start task's V8 flags from deno.json.
 * @returns The `--v8-flags=...` words, or none.
 */
export function startTaskV8Flags(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(DENO_JSON));
  const start = String(config.tasks?.start ?? "");
  return start.split(/\s+/).filter((word) => word.startsWith("--v8-flags="));
}
