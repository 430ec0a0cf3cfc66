/**
 * Gateway options: the public {@linkcode GatewayOptions} shape with
 * documented defaults, and {@linkcode resolveOptions}, which applies the
 * defaults, validates everything up front (reporting every problem with its
 * path) and returns a frozen, compiled configuration. A route's options and
 * their resolution live in `route_options.ts`, backend addresses in
 * `target.ts`. Pure.
 *
 * @module
 */

import { ConfigError } from "../errors.ts";
import type { EventSink } from "../observability/events.ts";
import { compileBackendPolicy } from "../security/backend_policy.ts";
import { compileOriginPolicy } from "../security/origin_policy.ts";
import { isLoopbackHostname } from "../security/ip_address.ts";
import {
  checkNonNegative,
  checkPositive,
  frozenCopy,
  isStringList,
} from "./_checks.ts";
import {
  REDIS_TOKENS,
  type ResolvedRoute,
  resolveRoute,
  type RouteOptions,
} from "./route_options.ts";
import {
  type AuthCheck,
  basicHttpAuth,
  expectOrigin,
} from "../security/websockify_auth.ts";
import {
  resolveStoreOptions,
  type StoreSettings,
} from "../store/store_options.ts";

export type {
  BackendTlsOptions,
  CompressionOptions,
  DynamicTargetOptions,
  ResolvedRoute,
  RouteOptions,
  TokenApiOptions,
} from "./route_options.ts";
export { type BackendTarget, parseHostPort, parseTarget } from "./target.ts";

/** websockify's auth plugins, by their websockify names. */
export interface AuthPluginOptions {
  /**
   * `BasicHTTPAuth` (401 with `WWW-Authenticate` unless the credentials
   * match) or `ExpectOrigin` (403 unless `Origin` is listed).
   */
  name: "BasicHTTPAuth" | "ExpectOrigin";
  /** `user:password`, or the allowed origins separated by spaces. */
  source: string;
  /** Whether plain GET/HEAD requests (static files) are checked too. @default {false} */
  isWebAuth?: boolean;
}

/** Options of {@linkcode createGateway}. Every duration is in milliseconds. */
export interface GatewayOptions {
  /** The address to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /** The port to listen on; 0 picks a free one. @default {8080} */
  port?: number;
  /** The routes; no routes means nothing is reachable. @default {[]} */
  routes?: RouteOptions[];
  /** WebSocket ping interval. @default {20000} */
  pingIntervalMs?: number;
  /** How long a ping may go unanswered before the browser is considered gone. @default {20000} */
  pingTimeoutMs?: number;
  /** Backend connect timeout in milliseconds, > 0. @default {10000} */
  connectTimeoutMs?: number;
  /** Longest time to receive the request head (slow-loris guard), > 0. @default {10000} */
  handshakeTimeoutMs?: number;
  /** Largest request head in bytes (431 beyond). @default {8192} */
  maxHeadBytes?: number;
  /** How long a session may take to flush and finish the close handshake. @default {5000} */
  closeTimeoutMs?: number;
  /**
   * Close a session with 4003 when the browser is not being read (flow
   * control: the backend does not read) and no byte moved either way this
   * many ms (0 = off). @default {60000}
   */
  stallTimeoutMs?: number;
  /** How long a graceful shutdown waits for sessions to drain. @default {10000} */
  drainTimeoutMs?: number;
  /** High-water mark per direction per session, in bytes. @default {1048576} */
  bufferBytes?: number;
  /** Idle timeout for every route (0 = off). @default {0} */
  idleTimeoutMs?: number;
  /** Maximum session lifetime for every route (0 = off). @default {0} */
  maxLifetimeMs?: number;
  /** Serve the demo page at `/`. @default {false} */
  demoPage?: boolean;
  /**
   * Allowed browser origins: exact (`https://app.example.com`) or
   * `https://*.example.com` patterns, or `"*"` for any (logged as a warning).
   * @default {same-origin only}
   */
  allowOrigins?: string[] | "*";
  /** The shared secret (at least 32 bytes) that signs tickets. */
  ticketSecret?: string | Uint8Array;
  /** Maximum open sessions in total (HTTP 503 beyond). @default {10000} */
  maxSessions?: number;
  /** Maximum open sessions per client IP (HTTP 429 beyond; 0 = off). @default {0} */
  maxSessionsPerIp?: number;
  /**
   * Pings and pongs per second one browser may send on average (bursts of
   * twice that); beyond, its session closes with 1008 (0 = off).
   * @default {100}
   */
  maxControlFramesPerSecond?: number;
  /**
   * Bytes all sessions together may hold (messages being reassembled,
   * queues for either side); beyond, the largest holders are closed with
   * 1013 at the next sweep (0 = off).
   * @default {a quarter of the machine's memory}
   */
  memoryBudgetBytes?: number;
  /**
   * Maximum connections from one peer address that have not finished their
   * request head (or their plain HTTP response) once half of `maxSessions`
   * is taken by such connections (HTTP 429 beyond; 0 = off). Without it,
   * silent sockets from one address fill the global cap and every other
   * client gets 503; below half the cap a burst from one address (a local
   * proxy, a reconnect storm) passes. Trusted proxies (`trustedProxies`)
   * are never capped per address: they carry many clients.
   * @default {16}
   */
  maxHandshakesPerIp?: number;
  /** Front proxies (CIDRs) whose `X-Forwarded-For` is trusted for the client address. @default {[]} */
  trustedProxies?: string[];
  /** Serve `wss://` with this certificate and key (PEM files, re-read when they change). */
  tls?: { certFile: string; keyFile: string };
  /** Serve files from this directory for plain GETs. */
  staticDir?: string;
  /** Whether `staticDir` lists directories without an index.html. @default {false} */
  listDirectories?: boolean;
  /**
   * Serve the web console at `/_console` (its `/_console/stats` lists the
   * live sessions with client addresses). On by default only when
   * `hostname` is a loopback address, so a gateway on `0.0.0.0` does not
   * show its sessions to anyone who asks.
   * @default {true when hostname is loopback, false otherwise}
   */
  console?: boolean;
  /** Serve `/metrics` and `/healthz` on the gateway port (turn off when using an admin listener). @default {true} */
  metricsOnGatewayPort?: boolean;
  /** Emit `traffic` events with hex dumps of this many bytes per message (0 = off). @default {0} */
  logTrafficBytes?: number;
  /** Set SO_REUSEPORT on the listener (several workers on one port). @default {false} */
  reusePort?: boolean;
  /**
   * Before accepting, drive a private copy of the gateway (the routes'
   * framings, a loopback echo backend, no events) through real sessions for
   * about 200 ms, so the first users do not pay for the JIT. The CLI turns
   * it on (`--warm-up=false` turns it off). @default {false}
   */
  warmUp?: boolean;
  /**
   * Bytes of zlib state that compressing sessions (routes with
   * `compression`) may keep between messages, for the whole gateway (each
   * worker has its own). A session with context takeover reserves ~333 KiB
   * at 15-bit windows; once the budget is spent, new sessions negotiate
   * no-context-takeover (no memory held between messages). 0 turns context
   * takeover off everywhere.
   * @default {67108864}
   */
  compressionMemoryBytes?: number;
  /**
   * Listen on this Unix socket path instead of `hostname:port` (plain
   * `ws://` only, one process). A stale socket file left by a crash is
   * replaced; one that a live process listens on is refused. The file is
   * removed when the gateway closes. @default {undefined}
   */
  unixSocket?: string;
  /** The file mode of `unixSocket` (octal, e.g. `0o660`). @default {0o660} */
  unixSocketMode?: number;
  /**
   * websockify's `--auth-plugin`: checked before every upgrade, and before
   * plain GET/HEAD requests too with `isWebAuth`. @default {undefined}
   */
  authPlugin?: AuthPluginOptions;
  /**
   * The fleet's shared store: `redis://[[user]:password@]host[:port][/db]`,
   * `rediss://...` or `unix:///path/redis.sock`. Single-use ticket ids and
   * per-IP counts are then decided in it. @default {undefined} (none)
   */
  store?: string;
  /** The env var holding the store's password. @default {undefined} */
  storePasswordEnv?: string;
  /** A file holding the store's password on its first line. @default {undefined} */
  storePasswordFile?: string;
  /** The prefix of every key in the store. @default {"wsgate:"} */
  storePrefix?: string;
  /** The store's connect and command deadline (503 beyond). @default {1000} */
  storeTimeoutMs?: number;
  /**
   * How long a session slot counts in the store without a refresh, in ms:
   * the longest a killed instance's sessions keep counting against per-IP
   * caps. @default {30000}
   */
  storeLeaseMs?: number;
  /**
   * Renders `/metrics` instead of the gateway's own metrics (workers use it
   * to serve metrics summed across workers). @default {undefined}
   */
  metricsRenderer?: () => string;
  /** Receives every gateway event (logs). @default {undefined} */
  onEvent?: EventSink;
}

/** The configuration after defaults and validation. */
export interface ResolvedGatewayConfig {
  /** The address to listen on. */
  readonly hostname: string;
  /** The port to listen on. */
  readonly port: number;
  /** Routes by exact path. */
  readonly routes: ReadonlyMap<string, ResolvedRoute>;
  /** Ping interval. */
  readonly pingIntervalMs: number;
  /** Ping timeout. */
  readonly pingTimeoutMs: number;
  /** Connect timeout. */
  readonly connectTimeoutMs: number;
  /** Handshake timeout. */
  readonly handshakeTimeoutMs: number;
  /** Largest request head. */
  readonly maxHeadBytes: number;
  /** Close timeout. */
  readonly closeTimeoutMs: number;
  /** Stall timeout (0 = off). */
  readonly stallTimeoutMs: number;
  /** Drain timeout. */
  readonly drainTimeoutMs: number;
  /** Whether the demo page is served. */
  readonly demoPage: boolean;
  /** The origin allow-list, as given. */
  readonly allowOrigins: readonly string[] | "*" | undefined;
  /** The ticket secret, if any. */
  readonly ticketSecret: string | Uint8Array | undefined;
  /** Maximum sessions in total. */
  readonly maxSessions: number;
  /** Maximum pending handshakes per peer address (0 = off). */
  readonly maxHandshakesPerIp: number;
  /** Maximum sessions per client IP (0 = off). */
  readonly maxSessionsPerIp: number;
  /** Control frames per second per browser (0 = off). */
  readonly maxControlFramesPerSecond: number;
  /** Memory budget of all sessions (0 = off; undefined = from the machine's memory). */
  readonly memoryBudgetBytes: number | undefined;
  /** Trusted front proxies. */
  readonly trustedProxies: readonly string[];
  /** TLS certificate and key files. */
  readonly tls:
    | { readonly certFile: string; readonly keyFile: string }
    | undefined;
  /** Static directory. */
  readonly staticDir: string | undefined;
  /** Directory listings. */
  readonly listDirectories: boolean;
  /** Whether the console is served. */
  readonly console: boolean;
  /** Whether /metrics and /healthz are served on the gateway port. */
  readonly metricsOnGatewayPort: boolean;
  /** Traffic hex-dump cap (0 = off). */
  readonly logTrafficBytes: number;
  /** SO_REUSEPORT. */
  readonly reusePort: boolean;
  /** Whether listen() warms the hot paths up before accepting. */
  readonly warmUp: boolean;
  /** The compression context budget in bytes. */
  readonly compressionMemoryBytes: number;
  /** The Unix socket to listen on instead of TCP, with its file mode. */
  readonly unixSocket:
    | { readonly path: string; readonly mode: number }
    | undefined;
  /** The compiled auth plugin check, if any. */
  readonly authCheck: AuthCheck | undefined;
  /** Whether the auth check also guards plain GET/HEAD requests. */
  readonly isWebAuth: boolean;
  /** The shared store's settings (password not read yet), if any. */
  readonly store: Readonly<StoreSettings> | undefined;
}

const DEFAULT_BUFFER_BYTES = 1024 * 1024;
const DEFAULT_COMPRESSION_MEMORY_BYTES = 64 * 1024 * 1024;

/**
 * Applies defaults and validates options. Throws a {@linkcode ConfigError}
 * listing every problem, each prefixed with its path. The result is frozen
 * throughout and holds its own copies of the lists and objects given, so
 * changing `options` afterwards does not change it.
 *
 * @example
 * ```ts
 * import { resolveOptions } from "./config.ts";
 * import assert from "node:assert/strict";
 * const config = resolveOptions({ routes: [{ path: "/", target: "127.0.0.1:9000" }] });
 * assert.equal(config.routes.get("/")?.toBackend.kind, "length");
 * assert.throws(() => resolveOptions({ routes: [{ path: "/", target: "nope" }] }), /routes\[0\]\.target/);
 * const trustedProxies = ["10.0.0.0/8"];
 * const copied = resolveOptions({ trustedProxies });
 * trustedProxies.push("192.0.2.0/24");
 * assert.deepEqual(copied.trustedProxies, ["10.0.0.0/8"]);
 * ```
 *
 * @param options The options as given.
 * @returns The resolved configuration.
 */
export function resolveOptions(options: GatewayOptions): ResolvedGatewayConfig {
  const problems: string[] = [];
  const {
    hostname = "127.0.0.1",
    port = 8080,
    routes = [],
    pingIntervalMs = 20000,
    pingTimeoutMs = 20000,
    connectTimeoutMs = 10000,
    handshakeTimeoutMs = 10000,
    maxHeadBytes = 8192,
    closeTimeoutMs = 5000,
    stallTimeoutMs = 60000,
    drainTimeoutMs = 10000,
    bufferBytes = DEFAULT_BUFFER_BYTES,
    idleTimeoutMs = 0,
    maxLifetimeMs = 0,
    demoPage = false,
    allowOrigins,
    ticketSecret,
    maxSessions = 10000,
    maxSessionsPerIp = 0,
    maxControlFramesPerSecond = 100,
    memoryBudgetBytes,
    maxHandshakesPerIp = 16,
    trustedProxies = [],
    tls,
    staticDir,
    listDirectories = false,
    console = isLoopbackHostname(hostname),
    metricsOnGatewayPort = true,
    logTrafficBytes = 0,
    reusePort = false,
    warmUp = false,
    compressionMemoryBytes = DEFAULT_COMPRESSION_MEMORY_BYTES,
    unixSocket,
    unixSocketMode = 0o660,
    authPlugin,
  } = options;
  checkUnixSocket(problems, { unixSocket, unixSocketMode, tls, reusePort });
  const authCheck = compileAuthPlugin(problems, authPlugin);
  if (
    allowOrigins !== undefined && allowOrigins !== "*" &&
    !isStringList(allowOrigins)
  ) {
    problems.push(`allowOrigins: must be a list of origins or "*"`);
  }
  if (!Number.isInteger(maxSessions) || maxSessions < 1) {
    problems.push(
      `maxSessions: must be an integer >= 1: current value is ${
        JSON.stringify(maxSessions)
      }`,
    );
  }
  if (!Number.isInteger(maxHandshakesPerIp) || maxHandshakesPerIp < 0) {
    problems.push(
      `maxHandshakesPerIp: must be an integer >= 0: current value is ${
        JSON.stringify(maxHandshakesPerIp)
      }`,
    );
  }
  if (!Number.isInteger(maxSessionsPerIp) || maxSessionsPerIp < 0) {
    problems.push(
      `maxSessionsPerIp: must be an integer >= 0: current value is ${
        JSON.stringify(maxSessionsPerIp)
      }`,
    );
  }
  if (
    !Number.isInteger(maxControlFramesPerSecond) ||
    maxControlFramesPerSecond < 0
  ) {
    problems.push(
      `maxControlFramesPerSecond: must be an integer >= 0: current value is ${
        JSON.stringify(maxControlFramesPerSecond)
      }`,
    );
  }
  if (memoryBudgetBytes !== undefined) {
    checkNonNegative(problems, "memoryBudgetBytes", memoryBudgetBytes);
  }
  checkNonNegative(problems, "logTrafficBytes", logTrafficBytes);
  if (
    !Number.isSafeInteger(compressionMemoryBytes) || compressionMemoryBytes < 0
  ) {
    problems.push(
      `compressionMemoryBytes: must be an integer >= 0: current value is ${
        JSON.stringify(compressionMemoryBytes)
      }`,
    );
  }
  if (!isStringList(trustedProxies)) {
    problems.push("trustedProxies: must be a list of CIDR ranges");
  } else {
    try {
      compileBackendPolicy({ cidrs: trustedProxies });
    } catch (error) {
      problems.push(`trustedProxies: ${(error as Error).message}`);
    }
  }
  if (allowOrigins !== undefined && isStringList(allowOrigins)) {
    try {
      compileOriginPolicy(allowOrigins);
    } catch (error) {
      problems.push(`allowOrigins: ${(error as Error).message}`);
    }
  }
  if (
    tls !== undefined &&
    (typeof tls !== "object" || tls === null ||
      typeof tls.certFile !== "string" || typeof tls.keyFile !== "string")
  ) {
    problems.push("tls: needs certFile and keyFile");
  }
  if (
    ticketSecret !== undefined && typeof ticketSecret !== "string" &&
    !(ticketSecret instanceof Uint8Array)
  ) {
    problems.push("ticketSecret: must be a string or a Uint8Array");
  } else if (
    ticketSecret !== undefined &&
    (typeof ticketSecret === "string"
        ? new TextEncoder().encode(ticketSecret).length
        : ticketSecret.length) < 32
  ) {
    problems.push("ticketSecret: must be at least 32 bytes");
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    problems.push(
      `port: must be an integer from 0 to 65535: current value is ${port}`,
    );
  }
  // A zero deadline would fail every connect and every handshake: these
  // two cannot be turned off.
  checkPositive(problems, "connectTimeoutMs", connectTimeoutMs);
  checkPositive(problems, "handshakeTimeoutMs", handshakeTimeoutMs);
  const durations = {
    pingIntervalMs,
    pingTimeoutMs,
    closeTimeoutMs,
    stallTimeoutMs,
    drainTimeoutMs,
    idleTimeoutMs,
    maxLifetimeMs,
  };
  for (const [name, value] of Object.entries(durations)) {
    checkNonNegative(problems, name, value);
  }
  if (pingIntervalMs > 0 && pingTimeoutMs === 0) {
    // A zero ping timeout would end every session at the sweep after its
    // first ping: it cannot mean "off" while pings are on.
    problems.push(
      "pingTimeoutMs: must be > 0 while pings are on (pingIntervalMs > 0)",
    );
  }
  if (!Number.isInteger(maxHeadBytes) || maxHeadBytes < 256) {
    problems.push(
      `maxHeadBytes: must be a whole number >= 256: current value is ${
        String(maxHeadBytes)
      }`,
    );
  }
  checkPositive(problems, "bufferBytes", bufferBytes);
  const resolvedRoutes = new Map<string, ResolvedRoute>();
  routes.forEach((route, index) => {
    const resolved = resolveRoute(route, `routes[${index}]`, problems, {
      bufferBytes,
      timers: { idleTimeoutMs, maxLifetimeMs },
    });
    if (resolved === undefined) return;
    if (resolvedRoutes.has(resolved.path)) {
      problems.push(`routes[${index}].path: duplicate path "${resolved.path}"`);
      return;
    }
    if (resolved.requireTicket && ticketSecret === undefined) {
      problems.push(
        `routes[${index}].requireTicket: needs a ticket secret (ticketSecret)`,
      );
    }
    resolvedRoutes.set(resolved.path, resolved);
  });
  const store = storeSettings(options, problems);
  routes.forEach((route, index) => {
    if (
      route.tokens === REDIS_TOKENS && route.tokenStore === undefined &&
      store === undefined
    ) {
      problems.push(
        `routes[${index}].tokens: "redis" needs a store (store or tokenStore)`,
      );
    }
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    hostname,
    port,
    routes: resolvedRoutes,
    pingIntervalMs,
    pingTimeoutMs,
    connectTimeoutMs,
    handshakeTimeoutMs,
    maxHeadBytes,
    closeTimeoutMs,
    stallTimeoutMs,
    drainTimeoutMs,
    demoPage,
    allowOrigins: frozenCopy(allowOrigins),
    ticketSecret: ticketSecret instanceof Uint8Array
      ? new Uint8Array(ticketSecret)
      : ticketSecret,
    maxSessions,
    maxSessionsPerIp,
    maxControlFramesPerSecond,
    memoryBudgetBytes,
    maxHandshakesPerIp,
    trustedProxies: frozenCopy(trustedProxies),
    tls: frozenCopy(tls),
    staticDir,
    listDirectories,
    console,
    metricsOnGatewayPort,
    logTrafficBytes,
    reusePort,
    warmUp,
    compressionMemoryBytes,
    unixSocket: unixSocket === undefined
      ? undefined
      : Object.freeze({ path: unixSocket, mode: unixSocketMode }),
    authCheck,
    isWebAuth: authPlugin?.isWebAuth === true,
    store,
  });
}

/** The store settings of `options`, checked (the password is read later). */
function storeSettings(
  options: GatewayOptions,
  problems: string[],
): Readonly<StoreSettings> | undefined {
  const { store, storePasswordEnv, storePasswordFile } = options;
  const { storePrefix, storeTimeoutMs, storeLeaseMs } = options;
  if (store === undefined) {
    const stray = Object.entries({
      storePasswordEnv,
      storePasswordFile,
      storePrefix,
      storeTimeoutMs,
      storeLeaseMs,
    }).filter(([, value]) => value !== undefined).map(([name]) => name);
    if (stray.length > 0) {
      problems.push(`${stray.join(", ")}: needs a store (store)`);
    }
    return undefined;
  }
  const settings: StoreSettings = {
    url: store,
    ...(storePasswordEnv === undefined
      ? {}
      : { passwordEnv: storePasswordEnv }),
    ...(storePasswordFile === undefined
      ? {}
      : { passwordFile: storePasswordFile }),
    ...(storePrefix === undefined ? {} : { prefix: storePrefix }),
    ...(storeTimeoutMs === undefined ? {} : { timeoutMs: storeTimeoutMs }),
    ...(storeLeaseMs === undefined ? {} : { leaseMs: storeLeaseMs }),
  };
  try {
    resolveStoreOptions(settings);
  } catch (error) {
    if (error instanceof ConfigError) problems.push(...error.problems);
    else problems.push(`store: ${String(error)}`);
  }
  return Object.freeze(settings);
}

function checkUnixSocket(
  problems: string[],
  given: {
    unixSocket: string | undefined;
    unixSocketMode: number;
    tls: unknown;
    reusePort: boolean;
  },
): void {
  const { unixSocket, unixSocketMode, tls, reusePort } = given;
  if (unixSocket === undefined) return;
  if (typeof unixSocket !== "string" || unixSocket === "") {
    problems.push("unixSocket: must be a non-empty path");
  }
  if (
    !Number.isInteger(unixSocketMode) || unixSocketMode < 0 ||
    unixSocketMode > 0o777
  ) {
    problems.push(
      `unixSocketMode: must be a file mode from 0 to 0o777: current value is ${
        JSON.stringify(unixSocketMode)
      }`,
    );
  }
  if (tls !== undefined) {
    problems.push(
      "unixSocket: cannot serve TLS on a Unix socket: terminate TLS in the proxy in front",
    );
  }
  if (reusePort) {
    problems.push(
      "unixSocket: cannot be shared by several workers (--workers, reusePort): run one process",
    );
  }
}

function compileAuthPlugin(
  problems: string[],
  plugin: AuthPluginOptions | undefined,
): AuthCheck | undefined {
  if (plugin === undefined) return undefined;
  if (typeof plugin.source !== "string") {
    problems.push("authPlugin.source: must be a string");
    return undefined;
  }
  if (plugin.name === "ExpectOrigin") return expectOrigin(plugin.source);
  if (plugin.name === "BasicHTTPAuth") {
    try {
      return basicHttpAuth(plugin.source);
    } catch (error) {
      problems.push(`authPlugin.source: ${(error as Error).message}`);
      return undefined;
    }
  }
  problems.push(
    `authPlugin.name: must be "BasicHTTPAuth" or "ExpectOrigin": current value is ${
      JSON.stringify(plugin.name)
    }`,
  );
  return undefined;
}
