/**
 * The command-line entry: parses argv, starts the gateway (and for `demo` the
 * built-in backend), prints one line when listening and event lines on
 * stderr, and handles SIGINT/SIGTERM with a graceful drain. The only module
 * that uses `console` and `Deno.exit`.
 *
 * @module
 */

import { helpText, type LogSettings, parseArgs } from "./args.ts";
import { ConfigError } from "../errors.ts";
import { createGateway } from "../server/gateway.ts";
import { startDemoBackend } from "../demo/demo_backend.ts";
import { formatEvent } from "../observability/log.ts";
import type { GatewayOptions } from "../config/config.ts";
import type { GatewayEvent } from "../observability/events.ts";

/** The wsgate version. */
export const VERSION = "0.1.0";

/**
 * Runs the CLI with `args` and resolves with the exit status.
 *
 * @example Print the version
 * ```ts ignore
 * const status = await runCli(["--version"]);
 * ```
 *
 * @param args The arguments without the program name.
 * @returns The process exit status.
 */
export async function runCli(args: readonly string[]): Promise<number> {
  let command;
  try {
    command = parseArgs(args);
  } catch (error) {
    if (error instanceof ConfigError) {
      // deno-lint-ignore no-console
      console.error(`wsgate: ${error.problems.join("\nwsgate: ")}`);
      return 2;
    }
    throw error;
  }
  switch (command.kind) {
    case "help":
      // deno-lint-ignore no-console
      console.log(helpText(VERSION));
      return 0;
    case "version":
      // deno-lint-ignore no-console
      console.log(`wsgate ${VERSION}`);
      return 0;
    case "demo": {
      const backend = startDemoBackend();
      const options: GatewayOptions = {
        ...command.options,
        demoPage: true,
        routes: [{ path: "/echo", target: `127.0.0.1:${backend.addr.port}` }],
      };
      try {
        return await serve(options, command.log, true);
      } finally {
        await backend.close();
      }
    }
    case "run":
      return await serve(command.options, command.log, false);
  }
}

async function serve(
  options: GatewayOptions,
  log: LogSettings,
  isDemo: boolean,
): Promise<number> {
  const onEvent = (event: GatewayEvent) => {
    const line = formatEvent(event, { format: log.format, level: log.level });
    // deno-lint-ignore no-console
    if (line !== undefined) console.error(line);
  };
  let gateway;
  try {
    gateway = createGateway({ ...options, onEvent });
  } catch (error) {
    if (error instanceof ConfigError) {
      // deno-lint-ignore no-console
      console.error(`wsgate: ${error.problems.join("\nwsgate: ")}`);
      return 2;
    }
    throw error;
  }
  let addr;
  try {
    addr = await gateway.listen();
  } catch (error) {
    // deno-lint-ignore no-console
    console.error(
      `wsgate: --listen: cannot listen on ${options.hostname}:${options.port}: ${
        (error as Error).message
      }`,
    );
    return 1;
  }
  const host = addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  // deno-lint-ignore no-console
  console.log(
    `wsgate listening on ws://${host}:${addr.port}` +
      (isDemo ? ` (demo page: http://${host}:${addr.port}/)` : ""),
  );
  const stopped = Promise.withResolvers<void>();
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals > 1) Deno.exit(1);
    stopped.resolve();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  await stopped.promise;
  onEvent({ type: "warning", message: "shutting down: draining sessions" });
  await gateway.close();
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  return 0;
}
