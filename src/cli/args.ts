/**
 * Command-line parsing: argv -> a {@linkcode CliCommand}. Pure. Every bad
 * flag or value becomes a {@linkcode ConfigError} with one clear line naming
 * the flag, the value and what was expected.
 *
 * @module
 */

import type { GatewayOptions, RouteOptions } from "../config/config.ts";
import { parseHostPort } from "../config/config.ts";
import { ConfigError } from "../errors.ts";
import { parseFramingSpec } from "../framing/spec.ts";
import {
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
} from "../observability/log.ts";

/** How the CLI prints events. */
export interface LogSettings {
  /** `text` or `json`. */
  format: LogFormat;
  /** The lowest level printed. */
  level: LogLevel;
}

/** What the command line asks for. */
export type CliCommand =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "run"; options: GatewayOptions; log: LogSettings }
  | { kind: "demo"; options: GatewayOptions; log: LogSettings };

/** A flag's value kind, for parsing and the help text. */
type FlagKind =
  | "address"
  | "target"
  | "framing"
  | "seconds"
  | "bytes"
  | "choice";

interface FlagDefinition {
  kind: FlagKind;
  help: string;
  choices?: readonly string[];
}

/** Every flag taking a value. */
const VALUE_FLAGS: Record<string, FlagDefinition> = {
  "--listen": {
    kind: "address",
    help: "HOST:PORT to listen on (default 127.0.0.1:8080; IPv6 as [::1]:8080)",
  },
  "--target": {
    kind: "target",
    help: "backend HOST:PORT or unix:/path for the route at /",
  },
  "--framing": {
    kind: "framing",
    help: "framing SPEC for both directions (default u32be)",
  },
  "--framing-to-backend": {
    kind: "framing",
    help: "framing SPEC for browser -> backend",
  },
  "--framing-to-browser": {
    kind: "framing",
    help: "framing SPEC for backend -> browser",
  },
  "--ping-interval": {
    kind: "seconds",
    help: "WebSocket ping interval (default 20s; 0 = off)",
  },
  "--ping-timeout": {
    kind: "seconds",
    help: "unanswered ping deadline (default 20s)",
  },
  "--connect-timeout": {
    kind: "seconds",
    help: "backend connect timeout (default 10s)",
  },
  "--handshake-timeout": {
    kind: "seconds",
    help: "request head deadline (default 10s)",
  },
  "--idle-timeout": {
    kind: "seconds",
    help: "close idle sessions with 4001 (default 0 = off)",
  },
  "--max-lifetime": {
    kind: "seconds",
    help: "close sessions older than this with 4002 (default 0 = off)",
  },
  "--drain-timeout": {
    kind: "seconds",
    help: "graceful shutdown deadline (default 10s)",
  },
  "--buffer": {
    kind: "bytes",
    help: "high-water mark per direction per session (default 1m)",
  },
  "--log-format": {
    kind: "choice",
    choices: LOG_FORMATS,
    help: "text or json (default text)",
  },
  "--log-level": {
    kind: "choice",
    choices: LOG_LEVELS,
    help: "debug, info, warn or error (default info)",
  },
};

const BOOLEAN_FLAGS: Record<string, string> = {
  "--help": "print this help and exit",
  "--version": "print the version and exit",
};

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
    "  deno run --allow-net mod.ts demo      gateway + built-in echo backend + demo page",
    "",
    "Options:",
  ];
  for (const [flag, definition] of Object.entries(VALUE_FLAGS)) {
    lines.push(
      `  ${
        (flag + " " + metavar(definition.kind)).padEnd(34)
      }${definition.help}`,
    );
  }
  for (const [flag, help] of Object.entries(BOOLEAN_FLAGS)) {
    lines.push(`  ${flag.padEnd(34)}${help}`);
  }
  lines.push(
    "",
    "Durations are seconds, or take a unit: 500ms, 20s, 5m. Sizes take k or m.",
    "Framing SPECs: raw, lines[,crlf], varint, u8|u16|u24|u32|u64 + be|le",
    "  [,offset=N][,adjust=N][,whole][,max=BYTES][,text]  (see README).",
  );
  return lines.join("\n");
}

function metavar(kind: FlagKind): string {
  switch (kind) {
    case "address":
    case "target":
      return "HOST:PORT";
    case "framing":
      return "SPEC";
    case "seconds":
      return "SECONDS";
    case "bytes":
      return "BYTES";
    case "choice":
      return "NAME";
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
  const values = new Map<string, string>();
  let subcommand: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg in BOOLEAN_FLAGS) {
      if (arg === "--help") return { kind: "help" };
      if (arg === "--version") return { kind: "version" };
      continue;
    }
    if (!arg.startsWith("-")) {
      if (i === 0 && arg === "demo") {
        subcommand = arg;
        continue;
      }
      fail(`unexpected argument "${arg}" (expected flags; see --help)`);
    }
    const equals = arg.indexOf("=");
    const name = equals < 0 ? arg : arg.slice(0, equals);
    if (!(name in VALUE_FLAGS)) {
      fail(`${name}: unknown flag (see --help for the list)`);
    }
    let value: string | undefined;
    if (equals >= 0) {
      value = arg.slice(equals + 1);
    } else {
      value = argv[i + 1];
      i++;
      if (value === undefined) {
        fail(
          `${name}: missing value (expected ${
            metavar(VALUE_FLAGS[name]!.kind)
          })`,
        );
      }
    }
    values.set(name, value);
  }
  const options: GatewayOptions = {};
  const log: LogSettings = { format: "text", level: "info" };
  const listen = values.get("--listen") ?? "127.0.0.1:8080";
  try {
    const { hostname, port } = parseHostPort(listen, "listen address");
    options.hostname = hostname;
    options.port = port;
  } catch {
    fail(
      `--listen: invalid value "${listen}" (expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080)`,
    );
  }
  for (
    const flag of ["--framing", "--framing-to-backend", "--framing-to-browser"]
  ) {
    const spec = values.get(flag);
    if (spec === undefined) continue;
    try {
      parseFramingSpec(spec);
    } catch (error) {
      fail(`${flag}: invalid value "${spec}" (${(error as Error).message})`);
    }
  }
  const seconds: [string, keyof GatewayOptions][] = [
    ["--ping-interval", "pingIntervalMs"],
    ["--ping-timeout", "pingTimeoutMs"],
    ["--connect-timeout", "connectTimeoutMs"],
    ["--handshake-timeout", "handshakeTimeoutMs"],
    ["--idle-timeout", "idleTimeoutMs"],
    ["--max-lifetime", "maxLifetimeMs"],
    ["--drain-timeout", "drainTimeoutMs"],
  ];
  for (const [flag, key] of seconds) {
    const text = values.get(flag);
    if (text === undefined) continue;
    const ms = parseDurationMs(text);
    if (ms === undefined) {
      fail(
        `${flag}: invalid value "${text}" (expected a duration such as 20, 20s, 500ms or 5m)`,
      );
    }
    (options as Record<string, unknown>)[key] = ms;
  }
  const buffer = values.get("--buffer");
  if (buffer !== undefined) {
    const bytes = parseByteSize(buffer);
    if (bytes === undefined || bytes === 0) {
      fail(
        `--buffer: invalid value "${buffer}" (expected a size such as 65536, 64k or 1m)`,
      );
    }
    options.bufferBytes = bytes;
  }
  for (
    const [flag, field] of [["--log-format", "format"], [
      "--log-level",
      "level",
    ]] as const
  ) {
    const text = values.get(flag);
    if (text === undefined) continue;
    const choices = VALUE_FLAGS[flag]!.choices!;
    if (!choices.includes(text)) {
      fail(
        `${flag}: invalid value "${text}" (expected one of ${
          choices.join(", ")
        })`,
      );
    }
    (log as unknown as Record<string, string>)[field] = text;
  }
  const target = values.get("--target");
  if (subcommand === "demo") {
    return { kind: "demo", options, log };
  }
  if (target === undefined) {
    fail(
      "--target: missing (expected HOST:PORT of the backend, e.g. --target 127.0.0.1:9000)",
    );
  }
  const route: RouteOptions = { path: "/", target };
  const framing = values.get("--framing");
  if (framing !== undefined) route.framing = framing;
  const toBackend = values.get("--framing-to-backend");
  if (toBackend !== undefined) route.framingToBackend = toBackend;
  const toBrowser = values.get("--framing-to-browser");
  if (toBrowser !== undefined) route.framingToBrowser = toBrowser;
  options.routes = [route];
  return { kind: "run", options, log };
}

function fail(line: string): never {
  throw new ConfigError([line]);
}

/**
 * Parses a duration: plain seconds, or a number with `ms`, `s`, `m` or `h`.
 *
 * @example
 * ```ts
 * import { parseDurationMs } from "./args.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([parseDurationMs("20"), parseDurationMs("500ms"), parseDurationMs("x")], [20000, 500, undefined]);
 * ```
 *
 * @param text The duration text.
 * @returns Milliseconds, or undefined when invalid.
 */
export function parseDurationMs(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) return undefined;
  const value = Number(match[1]);
  const unit = match[2] ?? "s";
  const factor = unit === "ms"
    ? 1
    : unit === "s"
    ? 1000
    : unit === "m"
    ? 60000
    : 3600000;
  return Math.round(value * factor);
}

/**
 * Parses a byte size: a whole number with an optional `k` or `m` suffix.
 *
 * @example
 * ```ts
 * import { parseByteSize } from "./args.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([parseByteSize("64k"), parseByteSize("1m"), parseByteSize("x")], [65536, 1048576, undefined]);
 * ```
 *
 * @param text The size text.
 * @returns Bytes, or undefined when invalid.
 */
export function parseByteSize(text: string): number | undefined {
  const match = /^(\d+)([kKmM])?$/.exec(text.trim());
  if (match === null) return undefined;
  const unit = (match[2] ?? "").toLowerCase();
  return Number(match[1]) *
    (unit === "k" ? 1024 : unit === "m" ? 1024 * 1024 : 1);
}
