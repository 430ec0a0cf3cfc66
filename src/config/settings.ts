/**
 * The gateway-wide settings shared by the command line and the config file:
 * every flag `--ping-interval` has the config twin `pingInterval`, with the
 * same value syntax (the file may also use JSON numbers and lists). One table
 * converts both into {@linkcode GatewayOptions}. Pure.
 *
 * @module
 */

import type { GatewayOptions, RouteOptions } from "./config.ts";
import { parseHostPort, parseTarget } from "./config.ts";
import { parseFramingSpec } from "../framing/spec.ts";
import {
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
} from "../observability/log.ts";

/** What the CLI itself uses beyond the gateway options. */
export interface CliSettings {
  /** How events are printed. */
  logFormat: LogFormat;
  /** The lowest level printed. */
  logLevel: LogLevel;
  /** Worker count (1 = no workers; `auto` resolved by the caller as 0). */
  workers: number;
  /** A separate address for /metrics and /healthz. */
  adminListen: { hostname: string; port: number } | undefined;
  /** Reload when the config file changes. */
  watchConfig: boolean;
  /** The ticket secret file. */
  ticketSecretFile: string | undefined;
  /** The environment variable holding the ticket secret. */
  ticketSecretEnv: string | undefined;
}

/** Default CLI settings. */
export function defaultCliSettings(): CliSettings {
  return {
    logFormat: "text",
    logLevel: "info",
    workers: 1,
    adminListen: undefined,
    watchConfig: false,
    ticketSecretFile: undefined,
    ticketSecretEnv: undefined,
  };
}

/** Where a setting lands. */
export interface SettingTargets {
  /** Gateway options being built. */
  options: GatewayOptions;
  /** The single route built from --target/--framing (CLI or file top level). */
  route: Partial<RouteOptions>;
  /** CLI-only settings. */
  cli: CliSettings;
  /** The directory relative paths are resolved against. */
  baseDir: string;
}

/** How a setting parses its value. */
export type SettingKind =
  | "address"
  | "listen"
  | "target"
  | "framing"
  | "duration"
  | "bytes"
  | "count"
  | "choice"
  | "list"
  | "path"
  | "name"
  | "flag"
  | "workers";

/** One setting: its flag, its config twin, and how to apply a value. */
export interface SettingDefinition {
  /** The CLI flag. */
  flag: string;
  /** The config file key. */
  key: string;
  /** The value syntax. */
  kind: SettingKind;
  /** Help text, with the default. */
  help: string;
  /** Allowed values for `choice`. */
  choices?: readonly string[];
  /** Whether the flag may repeat (lists). */
  isRepeatable?: boolean;
  /** The smallest number accepted (bytes and count kinds). @default {0} */
  min?: number;
  /** Stores a parsed value. */
  apply(value: unknown, targets: SettingTargets): void;
}

/** Expected-value wording per kind, for error lines. */
export const EXPECTED: Record<SettingKind, string> = {
  address: "HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080",
  listen:
    "HOST:PORT or unix:/path, e.g. 127.0.0.1:8080 or unix:/run/wsgate.sock",
  target: "HOST:PORT or unix:/path of the backend, e.g. 127.0.0.1:9000",
  framing: "a framing SPEC such as u32be, raw, lines or varint",
  duration: "a duration such as 20, 20s, 500ms or 5m",
  bytes: "a size such as 65536, 64k or 1m",
  count: "a whole number",
  choice: "one of the listed values",
  list: "a value, or a list in the config file",
  path: "a file path",
  name: "a name",
  flag: "true or false",
  workers: "a number of workers, or auto",
};

/** Parses one raw value for `kind`; throws with the expected form. */
export function convertValue(
  definition: SettingDefinition,
  raw: unknown,
): unknown {
  const { kind } = definition;
  const text = typeof raw === "string"
    ? raw
    : typeof raw === "number"
    ? String(raw)
    : undefined;
  switch (kind) {
    case "address":
      if (text === undefined) break;
      return parseHostPort(text, "address");
    case "listen":
      if (text === undefined) break;
      if (text.startsWith("unix:")) {
        if (text.length === "unix:".length) break;
        return { unixSocket: text.slice("unix:".length) };
      }
      return parseHostPort(text, "address");
    case "target":
      if (text === undefined) break;
      parseTarget(text);
      return text;
    case "path":
    case "name":
      if (typeof raw !== "string" || raw === "") break;
      return raw;
    case "framing":
      if (text === undefined) break;
      parseFramingSpec(text);
      return text;
    case "duration": {
      const ms = text === undefined ? undefined : parseDurationMs(text);
      if (ms === undefined) break;
      return ms;
    }
    case "bytes": {
      const bytes = text === undefined ? undefined : parseByteSize(text);
      if (bytes === undefined) break;
      checkMinimum(definition, bytes);
      return bytes;
    }
    case "count":
      if (text === undefined || !/^\d+$/.test(text)) break;
      checkMinimum(definition, Number(text));
      return Number(text);
    case "workers":
      if (text === "auto") return 0;
      if (text === undefined || !/^[1-9]\d*$/.test(text)) break;
      return Number(text);
    case "choice":
      if (text === undefined || !definition.choices!.includes(text)) {
        throw new TypeError(
          `expected one of ${definition.choices!.join(", ")}`,
        );
      }
      return text;
    case "list": {
      const items = Array.isArray(raw) ? raw : [raw];
      if (items.every((item) => typeof item === "string" && item !== "")) {
        return items;
      }
      break;
    }
    case "flag":
      if (raw === true || raw === "true") return true;
      if (raw === false || raw === "false") return false;
      break;
  }
  throw new TypeError(`expected ${EXPECTED[kind]}`);
}

function checkMinimum(definition: SettingDefinition, value: number): void {
  const min = definition.min ?? 0;
  if (value < min) {
    throw new RangeError(
      `expected ${EXPECTED[definition.kind]}, at least ${min}`,
    );
  }
}

function resolvePath(baseDir: string, path: string): string {
  return path.startsWith("/") ? path : `${baseDir}/${path}`;
}

function appendList(current: unknown, value: unknown): string[] {
  const previous = Array.isArray(current) ? current as string[] : [];
  return [...previous, ...(value as string[])];
}

/** Every gateway-wide setting, in help order. */
export const SETTINGS: readonly SettingDefinition[] = [
  {
    flag: "--listen",
    key: "listen",
    kind: "listen",
    help:
      "where to listen: HOST:PORT, or unix:/path for a Unix socket (mode 0660) behind a proxy (default 127.0.0.1:8080)",
    apply(value, { options }) {
      if ("unixSocket" in (value as object)) {
        options.unixSocket = (value as { unixSocket: string }).unixSocket;
        return;
      }
      const { hostname, port } = value as { hostname: string; port: number };
      options.hostname = hostname;
      options.port = port;
    },
  },
  {
    flag: "--target",
    key: "target",
    kind: "target",
    help: "backend of the route at / (HOST:PORT or unix:/path)",
    apply(value, { route }) {
      route.target = value as string;
    },
  },
  {
    flag: "--framing",
    key: "framing",
    kind: "framing",
    help: "framing SPEC for both directions (default u32be)",
    apply(value, { route }) {
      route.framing = value as string;
    },
  },
  {
    flag: "--framing-to-backend",
    key: "framingToBackend",
    kind: "framing",
    help: "framing SPEC for browser -> backend",
    apply(value, { route }) {
      route.framingToBackend = value as string;
    },
  },
  {
    flag: "--framing-to-browser",
    key: "framingToBrowser",
    kind: "framing",
    help: "framing SPEC for backend -> browser",
    apply(value, { route }) {
      route.framingToBrowser = value as string;
    },
  },
  {
    flag: "--subprotocols",
    key: "subprotocols",
    kind: "list",
    isRepeatable: true,
    help:
      "subprotocols the route at / accepts, comma-separated (repeatable) (default none: answer binary or the client's first offer)",
    apply(value, { route }) {
      const names = (value as string[]).flatMap((item) =>
        item.split(",").map((name) => name.trim()).filter((name) => name !== "")
      );
      route.subprotocols = [...(route.subprotocols ?? []), ...names];
    },
  },
  {
    flag: "--compression",
    key: "compression",
    kind: "choice",
    choices: ["off", "on"],
    help:
      "permessage-deflate for the route at /: off or on (default off; ~290 KiB per session)",
    apply(value, { route }) {
      route.compression = value as "off" | "on";
    },
  },
  {
    flag: "--compression-memory",
    key: "compressionMemory",
    kind: "bytes",
    help:
      "zlib memory compressing sessions may keep between messages; beyond it new sessions go without context takeover (default 64m)",
    apply(value, { options }) {
      options.compressionMemoryBytes = value as number;
    },
  },
  durationSetting(
    "--ping-interval",
    "pingInterval",
    "pingIntervalMs",
    "WebSocket ping interval (default 20s; 0 = off)",
  ),
  durationSetting(
    "--ping-timeout",
    "pingTimeout",
    "pingTimeoutMs",
    "unanswered ping deadline (default 20s)",
  ),
  durationSetting(
    "--connect-timeout",
    "connectTimeout",
    "connectTimeoutMs",
    "backend connect and target-name lookup timeout (default 10s)",
  ),
  durationSetting(
    "--handshake-timeout",
    "handshakeTimeout",
    "handshakeTimeoutMs",
    "request head deadline (default 10s)",
  ),
  durationSetting(
    "--idle-timeout",
    "idleTimeout",
    "idleTimeoutMs",
    "close idle sessions with 4001 (default 0 = off)",
  ),
  durationSetting(
    "--max-lifetime",
    "maxLifetime",
    "maxLifetimeMs",
    "close sessions older than this with 4002 (default 0 = off)",
  ),
  durationSetting(
    "--drain-timeout",
    "drainTimeout",
    "drainTimeoutMs",
    "graceful shutdown deadline (default 10s)",
  ),
  durationSetting(
    "--close-timeout",
    "closeTimeout",
    "closeTimeoutMs",
    "flush and close-handshake deadline per session (default 5s)",
  ),
  durationSetting(
    "--stall-timeout",
    "stallTimeout",
    "stallTimeoutMs",
    "close with 4003 a session stuck both ways this long (default 60s, 0 = off)",
  ),
  {
    flag: "--buffer",
    key: "buffer",
    kind: "bytes",
    min: 1,
    help: "high-water mark per direction per session (default 1m)",
    apply(value, { options }) {
      options.bufferBytes = value as number;
    },
  },
  {
    flag: "--memory-budget",
    key: "memoryBudget",
    kind: "bytes",
    min: 0,
    help:
      "bytes all sessions may hold, largest closed with 1013 beyond (default: a quarter of memory, 0 = off)",
    apply(value, { options }) {
      options.memoryBudgetBytes = value as number;
    },
  },
  {
    flag: "--max-head",
    key: "maxHead",
    kind: "bytes",
    min: 256,
    help: "largest request head, 431 beyond (default 8k)",
    apply(value, { options }) {
      options.maxHeadBytes = value as number;
    },
  },
  {
    flag: "--max-sessions",
    key: "maxSessions",
    kind: "count",
    min: 1,
    help: "most open sessions, 503 beyond (default 10000)",
    apply(value, { options }) {
      options.maxSessions = value as number;
    },
  },
  {
    flag: "--max-sessions-per-ip",
    key: "maxSessionsPerIp",
    kind: "count",
    help: "most open sessions per client IP, 429 beyond (default 0 = off)",
    apply(value, { options }) {
      options.maxSessionsPerIp = value as number;
    },
  },
  {
    flag: "--max-control-rate",
    key: "maxControlRate",
    kind: "count",
    help:
      "pings and pongs per second per browser, bursts of twice that, 1008 beyond (default 100, 0 = off)",
    apply(value, { options }) {
      options.maxControlFramesPerSecond = value as number;
    },
  },
  {
    flag: "--max-handshakes-per-ip",
    key: "maxHandshakesPerIp",
    kind: "count",
    help:
      "most unfinished handshakes per peer address, 429 beyond (default 16, 0 = off)",
    apply(value, { options }) {
      options.maxHandshakesPerIp = value as number;
    },
  },
  {
    flag: "--allow-origin",
    key: "allowOrigin",
    kind: "list",
    isRepeatable: true,
    help:
      "allowed Origin (repeatable; https://*.example.com patterns; '*' = any) (default same-origin)",
    apply(value, { options }) {
      const list = value as string[];
      if (list.includes("*")) {
        options.allowOrigins = "*";
      } else if (options.allowOrigins !== "*") {
        options.allowOrigins = appendList(options.allowOrigins, list);
      }
    },
  },
  {
    flag: "--trust-proxy",
    key: "trustProxy",
    kind: "list",
    isRepeatable: true,
    help: "CIDR of a front proxy whose X-Forwarded-For is trusted (repeatable)",
    apply(value, { options }) {
      options.trustedProxies = appendList(options.trustedProxies, value);
    },
  },
  {
    flag: "--ticket-secret-file",
    key: "ticketSecretFile",
    kind: "path",
    help: "file holding the ticket signing secret (>= 32 bytes)",
    apply(value, { cli, baseDir }) {
      cli.ticketSecretFile = resolvePath(baseDir, value as string);
    },
  },
  {
    flag: "--ticket-secret-env",
    key: "ticketSecretEnv",
    kind: "name",
    help: "environment variable holding the ticket signing secret",
    apply(value, { cli }) {
      cli.ticketSecretEnv = value as string;
    },
  },
  {
    flag: "--store",
    key: "store",
    kind: "name",
    help:
      "shared store for a fleet: redis://[user:password@]host[:port][/db], rediss://..., unix:///path (default none)",
    apply(value, { options }) {
      options.store = value as string;
    },
  },
  {
    flag: "--store-password-env",
    key: "storePasswordEnv",
    kind: "name",
    help: "environment variable holding the store's password",
    apply(value, { options }) {
      options.storePasswordEnv = value as string;
    },
  },
  {
    flag: "--store-password-file",
    key: "storePasswordFile",
    kind: "path",
    help: "file holding the store's password on its first line",
    apply(value, { options, baseDir }) {
      options.storePasswordFile = resolvePath(baseDir, value as string);
    },
  },
  {
    flag: "--store-prefix",
    key: "storePrefix",
    kind: "name",
    help: 'prefix of every key in the store (default "wsgate:")',
    apply(value, { options }) {
      options.storePrefix = value as string;
    },
  },
  durationSetting(
    "--store-timeout",
    "storeTimeout",
    "storeTimeoutMs",
    "store connect and command deadline, 503 beyond (default 1s)",
  ),
  durationSetting(
    "--store-lease",
    "storeLease",
    "storeLeaseMs",
    "how long a killed instance's sessions keep counting in the store (default 30s)",
  ),
  {
    flag: "--cert",
    key: "cert",
    kind: "path",
    help: "TLS certificate (PEM) to serve wss:// (with --key)",
    apply(value, { options, baseDir }) {
      options.tls = {
        certFile: resolvePath(baseDir, value as string),
        keyFile: options.tls?.keyFile ?? "",
      };
    },
  },
  {
    flag: "--key",
    key: "key",
    kind: "path",
    help: "TLS private key (PEM)",
    apply(value, { options, baseDir }) {
      options.tls = {
        certFile: options.tls?.certFile ?? "",
        keyFile: resolvePath(baseDir, value as string),
      };
    },
  },
  {
    flag: "--static",
    key: "static",
    kind: "path",
    help: "serve this directory for plain GETs (like websockify --web)",
    apply(value, { options, baseDir }) {
      options.staticDir = resolvePath(baseDir, value as string);
    },
  },
  {
    flag: "--list-directories",
    key: "listDirectories",
    kind: "flag",
    help: "list directories without index.html under --static",
    apply(value, { options }) {
      options.listDirectories = value as boolean;
    },
  },
  {
    flag: "--warm-up",
    key: "warmUp",
    kind: "flag",
    help:
      "run ~200 ms of loopback sessions before accepting, so the first users do not wait for the JIT (default true)",
    apply(value, { options }) {
      options.warmUp = value as boolean;
    },
  },
  {
    flag: "--console",
    key: "console",
    kind: "flag",
    help:
      "serve the web console at /_console (default: on for a loopback --listen, off otherwise)",
    apply(value, { options }) {
      options.console = value as boolean;
    },
  },
  {
    flag: "--admin-listen",
    key: "adminListen",
    kind: "address",
    help: "serve /metrics and /healthz here instead of the gateway port",
    apply(value, { cli, options }) {
      cli.adminListen = value as { hostname: string; port: number };
      options.metricsOnGatewayPort = false;
    },
  },
  {
    flag: "--log-format",
    key: "logFormat",
    kind: "choice",
    choices: LOG_FORMATS,
    help: "text or json (default text)",
    apply(value, { cli }) {
      cli.logFormat = value as LogFormat;
    },
  },
  {
    flag: "--log-level",
    key: "logLevel",
    kind: "choice",
    choices: LOG_LEVELS,
    help: "debug, info, warn or error (default info)",
    apply(value, { cli }) {
      cli.logLevel = value as LogLevel;
    },
  },
  {
    flag: "--log-traffic",
    key: "logTraffic",
    kind: "bytes",
    help:
      "hex-dump up to this many bytes of every message (debug level; default 0 = off)",
    apply(value, { options, cli }) {
      options.logTrafficBytes = value as number;
      if ((value as number) > 0) cli.logLevel = "debug";
    },
  },
  {
    flag: "--workers",
    key: "workers",
    kind: "workers",
    help: "accepting workers on the same port (default 1; auto = one per core)",
    apply(value, { cli }) {
      cli.workers = value as number;
    },
  },
  {
    flag: "--watch-config",
    key: "watchConfig",
    kind: "flag",
    help: "reload when the --config file changes (SIGHUP always reloads)",
    apply(value, { cli }) {
      cli.watchConfig = value as boolean;
    },
  },
];

function durationSetting(
  flag: string,
  key: string,
  field: keyof GatewayOptions,
  help: string,
): SettingDefinition {
  return {
    flag,
    key,
    kind: "duration",
    help,
    apply(value, { options }) {
      (options as Record<string, unknown>)[field] = value;
    },
  };
}

/**
 * Parses a duration: plain seconds, or a number with `ms`, `s`, `m` or `h`.
 *
 * @example
 * ```ts
 * import { parseDurationMs } from "./settings.ts";
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
 * import { parseByteSize } from "./settings.ts";
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
