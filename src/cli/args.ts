/**
 * Command-line parsing: argv -> a {@linkcode CliCommand}, and the merge of a
 * config file with the flags (flags win) into gateway options. Pure. Every
 * bad flag or value becomes a {@linkcode ConfigError} with one clear line
 * naming the flag, the value and what was expected.
 *
 * @module
 */

import type { GatewayOptions, RouteOptions } from "../config/config.ts";
import { applyConfigFile } from "../config/config_file.ts";
import { convertValue, EXPECTED } from "../config/settings.ts";
import {
  type CliSettingDefinition,
  type CliSettings,
  type CliSettingTargets,
  defaultCliSettings,
  SETTINGS,
} from "./cli_settings.ts";
import { ConfigError } from "../errors.ts";

export { parseByteSize, parseDurationMs } from "../config/settings.ts";

/** How the CLI prints events. */
export interface LogSettings {
  /** `text` or `json`. */
  format: CliSettings["logFormat"];
  /** The lowest level printed. */
  level: CliSettings["logLevel"];
}

/** A flag given on the command line, with its converted value. */
export interface GivenFlag {
  /** The setting. */
  setting: CliSettingDefinition;
  /** The converted value. */
  value: unknown;
}

/** What the command line asks for. */
export type CliCommand =
  | {
    kind: "help";
    /** Set for a command's own help (`ticket --help`); else the main help. */
    topic?: "ticket";
  }
  | { kind: "version" }
  | {
    kind: "run" | "demo";
    /** The `--config` file, if any. */
    configPath: string | undefined;
    /** The flags, in order. */
    flags: GivenFlag[];
    /** `--quiet`: print only the listening line, not the settings block. */
    isQuiet?: boolean;
    /**
     * `--check-targets[=true|false]`: whether to check at start that each
     * fixed target answers. Absent: only when stderr is a terminal.
     */
    isTargetCheck?: boolean;
  }
  | {
    kind: "ticket";
    /** The route claim. */
    route: string;
    /** The optional target claim. */
    target: string | undefined;
    /** Lifetime in seconds. */
    ttlSec: number;
    /** Whether to add a random `jti`. */
    withJti: boolean;
    /** Where the secret comes from. */
    secretFile: string | undefined;
    /** Where the secret comes from. */
    secretEnv: string | undefined;
  }
  | { kind: "replay"; file: string };

/** A fully built run configuration. */
export interface RunConfig {
  /** Gateway options. */
  options: GatewayOptions;
  /** CLI settings. */
  cli: CliSettings;
}

const SETTINGS_BY_FLAG = new Map(
  SETTINGS.map((setting) => [setting.flag, setting]),
);

/**
 * The help text.
 *
 * @example
 * ```ts
 * import { helpText } from "./args.ts";
 * import assert from "node:assert/strict";
 * assert.ok(helpText("1.0.0").includes("--listen"));
 * ```
 *
 * @param version The version to show.
 * @returns The help text.
 */
export function helpText(version: string): string {
  const lines = [
    `wsgate ${version}: a WebSocket to TCP gateway`,
    "",
    "Usage:",
    "  deno run --allow-net mod.ts --target HOST:PORT [options]",
    "  deno run --allow-net --allow-read mod.ts --config wsgate.jsonc [options]",
    "  deno run --allow-net mod.ts demo            gateway + built-in echo backend + demo page",
    "  deno run --allow-env mod.ts ticket --route /chat [--jti] [--target HOST:PORT]",
    "                                              print a ticket (see ticket --help)",
    "  deno run --allow-read mod.ts replay FILE    print a session recording",
    "",
    "Options (each has a config file twin, shown in brackets):",
  ];
  for (const setting of SETTINGS) {
    const left = `${setting.flag} ${metavar(setting)}`;
    lines.push(`  ${left.padEnd(36)}${setting.help} [${setting.key}]`);
  }
  lines.push(
    `  ${"--config FILE".padEnd(36)}JSON/JSONC config file; flags override it`,
    `  ${
      "--quiet".padEnd(36)
    }print only the listening line, not the settings block`,
    `  ${
      "--check-targets[=false]".padEnd(36)
    }warn at start about fixed targets that do not answer (default: when stderr is a terminal and not --quiet)`,
    `  ${"--help".padEnd(36)}print this help and exit`,
    `  ${"--version".padEnd(36)}print the version and exit`,
    "",
    "Durations are seconds, or take a unit: 500ms, 20s, 5m. Sizes take k or m.",
    "Boolean flags take an optional =true/=false (e.g. --console=false).",
    "Framing SPECs: raw, lines[,crlf], varint, u8|u16|u24|u32|u64 + be|le",
    "  [,offset=N][,adjust=N][,whole][,max=BYTES][,text]  (see README).",
  );
  return lines.join("\n");
}

/** The default environment variable of the `ticket` command's secret. */
export const TICKET_SECRET_ENV = "WSGATE_TICKET_SECRET";

/**
 * The `ticket` command's own help (`ticket --help`).
 *
 * @example
 * ```ts
 * import { TICKET_SECRET_ENV, ticketHelpText } from "./args.ts";
 * import assert from "node:assert/strict";
 * assert.ok(ticketHelpText().includes("--jti"));
 * assert.ok(ticketHelpText().includes(TICKET_SECRET_ENV));
 * ```
 *
 * @returns The help text.
 */
export function ticketHelpText(): string {
  const option = (left: string, text: string) => `  ${left.padEnd(30)}${text}`;
  return [
    "wsgate ticket: print a signed ticket (HS256 JWT) for a route",
    "",
    "Usage:",
    "  deno run --allow-env mod.ts ticket --route /chat [options]",
    "",
    "Options:",
    option("--route PATH", "the route the ticket is for (required)"),
    option("--ttl SECONDS", "lifetime in whole seconds (default 60)"),
    option(
      "--jti",
      "add a random jti; a route with singleUseTickets requires one",
    ),
    option(
      "--target HOST:PORT",
      "bind the ticket to this target (the session's target must match)",
    ),
    option(
      "--ticket-secret-env NAME",
      `read the secret from this variable (default ${TICKET_SECRET_ENV})`,
    ),
    option(
      "--ticket-secret-file FILE",
      "read the secret from this file (needs --allow-read)",
    ),
    option("--help", "print this help and exit"),
    "",
    "The page connects to wss://HOST/chat?ticket=<ticket>.",
  ].join("\n");
}

function metavar(setting: CliSettingDefinition): string {
  switch (setting.kind) {
    case "address":
    case "target":
      return "HOST:PORT";
    case "listen":
      return "HOST:PORT|unix:PATH";
    case "framing":
      return "SPEC";
    case "duration":
      return "DURATION";
    case "bytes":
      return "BYTES";
    case "count":
      return "N";
    case "workers":
      return "N|auto";
    case "choice":
      return setting.choices!.join("|");
    case "list":
      return "VALUE";
    case "path":
      return "PATH";
    case "name":
      return "NAME";
    case "flag":
      return "";
  }
}

/**
 * Parses argv (without the program name).
 *
 * @example
 * ```ts
 * import { parseArgs } from "./args.ts";
 * import assert from "node:assert/strict";
 * const command = parseArgs(["--listen", "127.0.0.1:0", "--target", "127.0.0.1:9000"]);
 * assert.equal(command.kind, "run");
 * assert.throws(() => parseArgs(["--listen", "nope"]), /--listen/);
 * ```
 *
 * @param argv The arguments.
 * @returns The command.
 */
export function parseArgs(argv: readonly string[]): CliCommand {
  if (argv.includes("--help") || argv.includes("-h")) {
    return argv[0] === "ticket"
      ? { kind: "help", topic: "ticket" }
      : { kind: "help" };
  }
  if (argv.includes("--version")) return { kind: "version" };
  const first = argv[0];
  if (first === "ticket") return parseTicketArgs(argv.slice(1));
  if (first === "replay") {
    if (argv.length !== 2 || argv[1]!.startsWith("-")) {
      fail("replay: expected exactly one FILE (usage: replay FILE)");
    }
    return { kind: "replay", file: argv[1]! };
  }
  const kind = first === "demo" ? "demo" : "run";
  const flags: GivenFlag[] = [];
  let configPath: string | undefined;
  let isQuiet = false;
  let isTargetCheck: boolean | undefined;
  for (let i = kind === "demo" ? 1 : 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) {
      fail(`unexpected argument "${arg}" (expected flags; see --help)`);
    }
    const equals = arg.indexOf("=");
    const name = equals < 0 ? arg : arg.slice(0, equals);
    let value: string | undefined = equals < 0
      ? undefined
      : arg.slice(equals + 1);
    if (name === "--quiet") {
      isQuiet = true;
      continue;
    }
    if (name === "--check-targets") {
      if (value !== undefined && value !== "true" && value !== "false") {
        fail(
          `--check-targets: invalid value "${value}" (expected true or false)`,
        );
      }
      isTargetCheck = value !== "false";
      continue;
    }
    if (name === "--config") {
      value ??= argv[++i];
      if (value === undefined || value === "") {
        fail("--config: missing value (expected a JSON or JSONC file path)");
      }
      configPath = value;
      continue;
    }
    const setting = SETTINGS_BY_FLAG.get(name);
    if (setting === undefined) {
      fail(`${name}: unknown flag (see --help for the list)`);
    }
    if (setting.kind === "flag") {
      value ??= "true";
    } else if (value === undefined) {
      value = argv[++i];
      if (value === undefined) {
        fail(`${name}: missing value (expected ${EXPECTED[setting.kind]})`);
      }
    }
    try {
      flags.push({ setting, value: convertValue(setting, value) });
    } catch (error) {
      fail(`${name}: invalid value "${value}" (${(error as Error).message})`);
    }
  }
  return {
    kind,
    configPath,
    flags,
    ...(isQuiet ? { isQuiet } : {}),
    ...(isTargetCheck === undefined ? {} : { isTargetCheck }),
  };
}

function parseTicketArgs(argv: readonly string[]): CliCommand {
  let route: string | undefined;
  let target: string | undefined;
  let ttlSec = 60;
  let withJti = false;
  let secretFile: string | undefined;
  let secretEnv: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--jti") {
      withJti = true;
      continue;
    }
    const equals = arg.indexOf("=");
    const flag = equals < 0 ? arg : arg.slice(0, equals);
    const value = equals < 0 ? argv[++i] : arg.slice(equals + 1);
    if (value === undefined) fail(`ticket ${flag}: missing value`);
    switch (flag) {
      case "--route":
        if (!value.startsWith("/")) {
          fail(
            `ticket --route: invalid value "${value}" (expected a path such as /chat)`,
          );
        }
        route = value;
        break;
      case "--target":
        target = value;
        break;
      case "--ttl":
        if (!/^[1-9]\d*$/.test(value)) {
          fail(
            `ticket --ttl: invalid value "${value}" (expected whole seconds, e.g. 60)`,
          );
        }
        ttlSec = Number(value);
        break;
      case "--ticket-secret-file":
        secretFile = value;
        break;
      case "--ticket-secret-env":
        secretEnv = value;
        break;
      default:
        fail(
          `ticket ${flag}: unknown flag (expected --route, --target, --ttl, --jti, --ticket-secret-file, --ticket-secret-env)`,
        );
    }
  }
  if (route === undefined) {
    fail("ticket --route: missing (expected a path such as /chat)");
  }
  if (secretFile === undefined && secretEnv === undefined) {
    secretEnv = TICKET_SECRET_ENV;
  }
  return {
    kind: "ticket",
    route,
    target,
    ttlSec,
    withJti,
    secretFile,
    secretEnv,
  };
}

/**
 * Builds gateway options from a config file (optional) and the flags; flags
 * override the file. Throws `ConfigError` listing every problem.
 *
 * @example
 * ```ts
 * import { buildRunConfig, parseArgs } from "./args.ts";
 * import assert from "node:assert/strict";
 * const command = parseArgs(["--target", "127.0.0.1:9000", "--ping-interval", "5s"]);
 * if (command.kind !== "run") throw new Error("unreachable");
 * const { options } = buildRunConfig(command.flags, undefined, false);
 * assert.equal(options.pingIntervalMs, 5000);
 * assert.deepEqual(options.routes, [{ path: "/", target: "127.0.0.1:9000" }]);
 * ```
 *
 * @param flags The command-line flags.
 * @param file The parsed config file and its directory, if any.
 * @param isDemo Whether the demo supplies the route (no --target needed).
 * @returns The options and CLI settings.
 */
export function buildRunConfig(
  flags: readonly GivenFlag[],
  file: { json: unknown; baseDir: string } | undefined,
  isDemo: boolean,
): RunConfig {
  const problems: string[] = [];
  const targets: CliSettingTargets = {
    options: { hostname: "127.0.0.1", port: 8080 },
    route: {},
    cli: defaultCliSettings(),
    baseDir: file?.baseDir ?? ".",
  };
  if (file !== undefined) {
    applyConfigFile(file.json, { settings: SETTINGS, targets, problems });
  }
  const hasFileTopLevelFraming = targets.route.framing !== undefined ||
    targets.route.framingToBackend !== undefined ||
    targets.route.framingToBrowser !== undefined;
  const fileRoute = { ...targets.route };
  targets.route = fileRoute;
  targets.baseDir = ".";
  for (const { setting, value } of flags) setting.apply(value, targets);
  const { options, route, cli } = targets;
  if (
    options.tls !== undefined &&
    (options.tls.certFile === "" || options.tls.keyFile === "")
  ) {
    problems.push(
      "--cert/--key: both are needed to serve wss:// (expected --cert FILE --key FILE)",
    );
  }
  const routes: RouteOptions[] = options.routes ?? [];
  if (route.target !== undefined) {
    if (routes.some((existing) => existing.path === "/")) {
      problems.push(
        "--target: the config file already has a route at / (use one or the other)",
      );
    }
    // Appended, so the file's routes keep their indices in messages.
    routes.push({ ...route, path: "/", target: route.target });
  } else if (
    route.framing !== undefined || route.framingToBackend !== undefined ||
    route.framingToBrowser !== undefined
  ) {
    if (!isDemo) {
      const isFromFlags = flags.some((flag) => flag.setting.kind === "framing");
      problems.push(
        isFromFlags || !hasFileTopLevelFraming
          ? "--framing: applies to the --target route, but --target is missing"
          : "framing: applies to the top-level target route, but target is missing",
      );
    }
  }
  // A file whose routes were all refused, or a --framing without --target,
  // has already been reported: "--target: missing" would be one more
  // (misleading) line.
  const isRouteProblemReported = problems.some((problem) =>
    /^routes(?:[[.:]|$)/.test(problem) || problem.includes("target is missing")
  );
  if (routes.length === 0 && !isDemo && !isRouteProblemReported) {
    problems.push(
      "--target: missing (expected HOST:PORT of the backend, e.g. --target 127.0.0.1:9000, or routes in --config)",
    );
  }
  options.routes = routes;
  if (problems.length > 0) throw new ConfigError(problems);
  return { options, cli };
}

function fail(line: string): never {
  throw new ConfigError([line]);
}
