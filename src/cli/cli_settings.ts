/**
 * The table of every gateway-wide setting, shared by the command line and
 * the config file: every flag `--ping-interval` has the config twin
 * `pingInterval`. Each row converts its value (`config/settings.ts`) into
 * {@linkcode GatewayOptions}, the route at `/`, or the CLI's own settings
 * ({@linkcode CliSettings}). Pure.
 *
 * @module
 */

import type { GatewayOptions } from "../config/config.ts";
import type { SettingDefinition, SettingTargets } from "../config/settings.ts";
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

/**
 * Default CLI settings: a fresh object each call.
 *
 * @example
 * ```ts
 * import { defaultCliSettings } from "./cli_settings.ts";
 * import assert from "node:assert/strict";
 * assert.equal(defaultCliSettings().logFormat, "text");
 * ```
 *
 * @returns The defaults.
 */
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

/** Where a setting of the CLI's table lands: the gateway's targets and the CLI's own settings. */
export interface CliSettingTargets extends SettingTargets {
  /** CLI-only settings. */
  cli: CliSettings;
}

/** A row of the CLI's table. */
export type CliSettingDefinition = SettingDefinition<CliSettingTargets>;

function resolvePath(baseDir: string, path: string): string {
  return path.startsWith("/") ? path : `${baseDir}/${path}`;
}

function appendList(current: unknown, value: unknown): string[] {
  const previous = Array.isArray(current) ? current as string[] : [];
  return [...previous, ...(value as string[])];
}

/**
 * Every gateway-wide setting, in help order.
 *
 * @example Apply --ping-interval as the CLI and the config file do
 * ```ts
 * import { defaultCliSettings, SETTINGS } from "./cli_settings.ts";
 * import { convertValue } from "../config/settings.ts";
 * import assert from "node:assert/strict";
 * const row = SETTINGS.find((setting) => setting.key === "pingInterval")!;
 * const targets = { options: {}, route: {}, cli: defaultCliSettings(), baseDir: "." };
 * row.apply(convertValue(row, "5s"), targets);
 * assert.deepEqual(targets.options, { pingIntervalMs: 5000 });
 * ```
 */
export const SETTINGS: readonly CliSettingDefinition[] = [
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
): CliSettingDefinition {
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
