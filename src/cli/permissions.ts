/**
 * The Deno permissions a run needs, derived from its configuration, and the
 * check at start that turns each missing one into a line naming the
 * `--allow-*` flag and the feature that needs it, instead of a `NotCapable`
 * stack trace (or one error per session) later.
 *
 * @module
 */

import type { RunConfig } from "./args.ts";

/** One permission a feature needs. */
export interface PermissionNeed {
  /** What to query, for example `{ name: "write", path: "rec" }`. */
  descriptor: Deno.PermissionDescriptor;
  /** The flag that grants it, for example `--allow-write`. */
  flag: string;
  /** The feature that needs it, for example `route "/chat" to record sessions into "rec"`. */
  feature: string;
}

const FLAGS: Readonly<Record<string, string>> = {
  net: "--allow-net",
  read: "--allow-read",
  write: "--allow-write",
  env: "--allow-env",
};

/**
 * Lists the permissions `config` needs: net to listen (and reach backends),
 * read for `--static`, `--cert`, `--key`, `--ticket-secret-file`, token files
 * and the worker module of `--workers`, write for a route's `record`
 * directory, env for `--ticket-secret-env`.
 *
 * @example
 * ```ts
 * import { permissionNeeds } from "./permissions.ts";
 * import { buildRunConfig, parseArgs } from "./args.ts";
 * import assert from "node:assert/strict";
 * const command = parseArgs(["--target", "127.0.0.1:9000", "--ticket-secret-env", "S"]);
 * if (command.kind !== "run") throw new Error("unreachable");
 * const needs = permissionNeeds(buildRunConfig(command.flags, undefined, false));
 * assert.deepEqual(needs.map((need) => need.flag), ["--allow-net", "--allow-env"]);
 * ```
 *
 * @param config The run configuration.
 * @param workerModule The worker module's URL (read when `--workers` > 1).
 * @returns The needs, in a stable order.
 */
export function permissionNeeds(
  config: RunConfig,
  workerModule: URL = new URL("./worker_main.ts", import.meta.url),
): PermissionNeed[] {
  const { options, cli } = config;
  const needs: PermissionNeed[] = [];
  const add = (descriptor: Deno.PermissionDescriptor, feature: string) =>
    needs.push({ descriptor, flag: FLAGS[descriptor.name]!, feature });
  const read = (path: string, feature: string) =>
    add({ name: "read", path }, `${feature} ${JSON.stringify(path)}`);
  if (options.unixSocket !== undefined) {
    const socket = options.unixSocket;
    read(socket, "--listen on the Unix socket");
    add(
      { name: "write", path: socket },
      `--listen on the Unix socket ${JSON.stringify(socket)}`,
    );
    add({ name: "net" }, "reaching the backends");
  } else {
    const host = `${options.hostname ?? "127.0.0.1"}:${options.port ?? 8080}`;
    add(
      { name: "net", host },
      `listening on ${host} and reaching the backends`,
    );
  }
  if (options.staticDir !== undefined) read(options.staticDir, "--static");
  if (options.tls !== undefined) {
    if (options.tls.certFile !== "") read(options.tls.certFile, "--cert");
    if (options.tls.keyFile !== "") read(options.tls.keyFile, "--key");
  }
  if (cli.ticketSecretFile !== undefined) {
    read(cli.ticketSecretFile, "--ticket-secret-file");
  }
  for (const route of options.routes ?? []) {
    const path = JSON.stringify(route.path);
    if (route.tokens !== undefined) {
      read(route.tokens, `route ${path} to read its token file`);
    }
    if (route.recordDir !== undefined) {
      add(
        { name: "write", path: route.recordDir },
        `route ${path} to record sessions into ${
          JSON.stringify(route.recordDir)
        }`,
      );
    }
  }
  if (cli.workers !== 1 && workerModule.protocol === "file:") {
    read(workerModule.pathname, "--workers to load its worker module");
  }
  if (cli.ticketSecretEnv !== undefined) {
    add(
      { name: "env", variable: cli.ticketSecretEnv },
      `--ticket-secret-env to read ${JSON.stringify(cli.ticketSecretEnv)}`,
    );
  }
  return needs;
}

/**
 * The needs whose permission is not granted, one line each:
 * `--allow-write: needed for route "/chat" to record sessions into "rec" (run deno with --allow-write)`.
 * Querying never prompts.
 *
 * @example
 * ```ts
 * import { missingPermissions } from "./permissions.ts";
 * import assert from "node:assert/strict";
 * const lines = missingPermissions(
 *   [{ descriptor: { name: "env", variable: "S" }, flag: "--allow-env", feature: "--ticket-secret-env to read \"S\"" }],
 *   () => "prompt",
 * );
 * assert.deepEqual(lines, ['--allow-env: needed for --ticket-secret-env to read "S" (run deno with --allow-env)']);
 * ```
 *
 * @param needs What the run needs.
 * @param query The permission state of a descriptor.
 * @returns One line per missing permission.
 */
export function missingPermissions(
  needs: readonly PermissionNeed[],
  query: (descriptor: Deno.PermissionDescriptor) => Deno.PermissionState = (
    descriptor,
  ) => Deno.permissions.querySync(descriptor).state,
): string[] {
  return needs
    .filter((need) => query(need.descriptor) !== "granted")
    .map((need) =>
      `${need.flag}: needed for ${need.feature} (run deno with ${need.flag})`
    );
}
