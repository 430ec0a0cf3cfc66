/**
 * Gateway options: the public {@linkcode GatewayOptions} shape with
 * documented defaults, and {@linkcode resolveOptions}, which applies the
 * defaults, validates everything up front (reporting every problem with its
 * path) and returns a frozen, compiled configuration. Pure.
 *
 * @module
 */

import { ConfigError } from "../errors.ts";
import {
  type FramingSpec,
  maxMessageBytes,
  parseFramingSpec,
} from "../framing/spec.ts";
import type { EventSink } from "../observability/events.ts";
import { compileBackendPolicy } from "../security/backend_policy.ts";
import { compileOriginPolicy } from "../security/origin_policy.ts";
import { createFrameEncoder } from "../framing/create_codec.ts";
import {
  resolveStoreOptions,
  type StoreSettings,
} from "../store/store_options.ts";
import { parseStoreUrl } from "../store/store_url.ts";

/** One route: a URL path mapped to one backend. */
export interface RouteOptions {
  /** The exact URL path, for example `/vnc`. */
  path: string;
  /** The backend as `host:port`, `[v6]:port`, or `unix:/path` (omit with `tokens` or `dynamic`). */
  target?: string;
  /**
   * The framing for both directions (see the README's SPEC grammar).
   * @default {"u32be"}
   */
  framing?: string;
  /** Overrides `framing` for browser -> backend. */
  framingToBackend?: string;
  /** Overrides `framing` for backend -> browser. */
  framingToBrowser?: string;
  /**
   * Accepted `Sec-WebSocket-Protocol` values, in no particular order.
   * @default {[]}
   */
  subprotocols?: string[];
  /** High-water mark per direction in bytes; overrides the gateway's `bufferBytes`. */
  bufferBytes?: number;
  /** Application heartbeat sent to the backend after this many ms without backend-bound traffic. @default {0} (off) */
  backendHeartbeatMs?: number;
  /** The heartbeat message as hex (framed like any message); empty means an empty message. @default {""} */
  backendHeartbeatHex?: string;
  /** Close with 4000 when the backend sends nothing for this many ms. @default {0} (off) */
  backendSilenceMs?: number;
  /** Close with 4001 when no data moves either way for this many ms; overrides the gateway's. */
  idleTimeoutMs?: number;
  /** Close with 4002 when the session is this many ms old; overrides the gateway's. */
  maxLifetimeMs?: number;
  /**
   * Largest browser message in bytes; may only lower the framing's `max`.
   * @default {the framing's max}
   */
  maxMessageBytes?: number;
  /**
   * Where the target of `?token=` comes from (`target` may then be
   * omitted): a websockify-style token file or directory (re-read when it
   * changes), or `"redis"`: the value of the key `<tokenPrefix><token>` in
   * the store (`tokenStore`, else the gateway's `store`). Name a file
   * called `redis` as `./redis`.
   */
  tokens?: string;
  /**
   * With `tokens: "redis"`: the prefix of the token keys (websockify's
   * TokenRedis namespace plus `:`).
   * @default {""}
   */
  tokenPrefix?: string;
  /**
   * With `tokens: "redis"`: how long a looked-up token (found or not) is
   * reused, in ms; 0 asks the store on every handshake.
   * @default {0}
   */
  tokenCacheTtlMs?: number;
  /**
   * With `tokens: "redis"`: the Redis holding the tokens
   * (`redis://[[user]:password@]host[:port][/db]`, `rediss://`,
   * `unix:///path`), when it is not the gateway's `store`.
   * @default {the gateway's store}
   */
  tokenStore?: string;
  /**
   * A websockify token API that names the target of each token (instead of
   * `tokens`): `{ jwtKeyFile }` (JWTTokenApi: the token is an HS256 JWT
   * with `host` and `port` claims) or `{ jsonUrl }` (JSONTokenApi: GET the
   * URL with `%s` replaced by the token; a 2xx JSON `{host, port}` answer).
   * @default {undefined}
   */
  tokenApi?: TokenApiOptions;
  /**
   * The token is the `Host` header without its port (websockify's
   * `--host-token`) instead of `?token=`; needs `tokens` or `tokenApi`.
   * @default {false}
   */
  hostToken?: boolean;
  /**
   * Lets the browser name the target with `?host=H&port=P`, only inside
   * this allow-list. Loopback, link-local and private addresses are denied
   * unless a listed CIDR covers them. Off when absent. With `tokens` or
   * `tokenApi` the browser names no target: the list then checks the
   * token's target instead (so whoever writes the tokens reaches only what
   * it allows).
   */
  dynamic?: DynamicTargetOptions;
  /** Require a signed ticket (needs the gateway's `ticketSecret`). @default {false} */
  requireTicket?: boolean;
  /** Refuse a ticket whose `jti` was already used. @default {false} */
  singleUseTickets?: boolean;
  /** Send a PROXY protocol header to the backend at connect. @default {undefined} (none) */
  proxyProtocol?: "v1" | "v2";
  /** Connect to the backend over TLS. @default {false} */
  backendTls?: boolean | BackendTlsOptions;
  /** Record every session of this route into a file per session in this directory. */
  recordDir?: string;
}

/** The allow-list of a route with dynamic targets. */
export interface DynamicTargetOptions {
  /** Host name patterns, e.g. `db.internal`, `*.vnc.internal`. @default {[]} */
  hosts?: string[];
  /** CIDR ranges, e.g. `10.1.0.0/16`, `2001:db8::/32`. @default {[]} */
  cidrs?: string[];
  /** Ports and port ranges, e.g. `5900-5999`, `22`. @default {all ports} */
  ports?: (number | string)[];
}

/** A websockify token API (see `RouteOptions.tokenApi`). */
export type TokenApiOptions =
  | {
    /** JWTTokenApi: the file holding the HS256 secret, base64url. */
    jwtKeyFile: string;
  }
  | {
    /** JSONTokenApi: the URL with `%s` where the token goes. */
    jsonUrl: string;
  };

/** TLS to the backend. */
export interface BackendTlsOptions {
  /** A PEM file of CA certificates to trust in addition to the system roots. */
  caFile?: string;
  /** The name to verify the backend certificate against. @default {the target host} */
  serverName?: string;
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
  /** Front proxies (CIDRs) whose `X-Forwarded-For` is trusted for the client address. @default {[]} */
  trustedProxies?: string[];
  /** Serve `wss://` with this certificate and key (PEM files, re-read when they change). */
  tls?: { certFile: string; keyFile: string };
  /** Serve files from this directory for plain GETs. */
  staticDir?: string;
  /** Whether `staticDir` lists directories without an index.html. @default {false} */
  listDirectories?: boolean;
  /** Serve the web console at `/_console`. @default {true} */
  console?: boolean;
  /** Serve `/metrics` and `/healthz` on the gateway port (turn off when using an admin listener). @default {true} */
  metricsOnGatewayPort?: boolean;
  /** Emit `traffic` events with hex dumps of this many bytes per message (0 = off). @default {0} */
  logTrafficBytes?: number;
  /** Set SO_REUSEPORT on the listener (several workers on one port). @default {false} */
  reusePort?: boolean;
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
   * Renders `/metrics` instead of the gateway's own metrics (workers use it
   * to serve metrics summed across workers). @default {undefined}
   */
  metricsRenderer?: () => string;
  /** Receives every gateway event (logs). @default {undefined} */
  onEvent?: EventSink;
}

/** A backend address, parsed. */
export type BackendTarget =
  | {
    transport: "tcp";
    hostname: string;
    port: number;
    /**
     * The name the client asked for when `hostname` is the address it was
     * resolved to (dynamic targets): backend TLS sends it as SNI and checks
     * the certificate against it, while the connection goes to `hostname`.
     */
    serverName?: string;
  }
  | { transport: "unix"; path: string };

/** A route after validation. */
export interface ResolvedRoute {
  /** The exact URL path. */
  readonly path: string;
  /** The target as configured (for logs). */
  readonly targetText: string;
  /** The fixed target (undefined for token and dynamic routes). */
  readonly target: BackendTarget | undefined;
  /** Framing for browser -> backend. */
  readonly toBackend: FramingSpec;
  /** Framing for backend -> browser. */
  readonly toBrowser: FramingSpec;
  /** The largest browser message accepted. */
  readonly maxMessageBytes: number;
  /** Accepted subprotocols. */
  readonly subprotocols: readonly string[];
  /** High-water mark per direction. */
  readonly bufferBytes: number;
  /** Heartbeat interval to the backend (0 = off). */
  readonly backendHeartbeatMs: number;
  /** The heartbeat message. */
  readonly backendHeartbeatMessage: Uint8Array;
  /** Backend silence timeout (0 = off). */
  readonly backendSilenceMs: number;
  /** Idle timeout (0 = off). */
  readonly idleTimeoutMs: number;
  /** Maximum lifetime (0 = off). */
  readonly maxLifetimeMs: number;
  /** Token file or `"redis"`, if the target comes from a token. */
  readonly tokens: string | undefined;
  /** The token key prefix (`tokens: "redis"`). */
  readonly tokenPrefix: string;
  /** How long a Redis token lookup is reused, in ms (0 = never). */
  readonly tokenCacheTtlMs: number;
  /** The Redis of the tokens when not the gateway's store. */
  readonly tokenStore: string | undefined;
  /** The token API, if one names the targets. */
  readonly tokenApi: Readonly<TokenApiOptions> | undefined;
  /** Whether the token is the Host header without its port. */
  readonly hostToken: boolean;
  /** Dynamic target allow-list, if enabled. */
  readonly dynamic: Readonly<DynamicTargetOptions> | undefined;
  /** Whether a ticket is required. */
  readonly requireTicket: boolean;
  /** Whether tickets are single-use. */
  readonly singleUseTickets: boolean;
  /** PROXY protocol version sent to the backend. */
  readonly proxyProtocol: "v1" | "v2" | undefined;
  /** Backend TLS settings, if any. */
  readonly backendTls: Readonly<BackendTlsOptions> | undefined;
  /** Recording directory, if any. */
  readonly recordDir: string | undefined;
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
  /** Maximum sessions per client IP (0 = off). */
  readonly maxSessionsPerIp: number;
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
  /** The shared store's settings (password not read yet), if any. */
  readonly store: Readonly<StoreSettings> | undefined;
}

const DEFAULT_BUFFER_BYTES = 1024 * 1024;

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
    drainTimeoutMs = 10000,
    bufferBytes = DEFAULT_BUFFER_BYTES,
    idleTimeoutMs = 0,
    maxLifetimeMs = 0,
    demoPage = false,
    allowOrigins,
    ticketSecret,
    maxSessions = 10000,
    maxSessionsPerIp = 0,
    trustedProxies = [],
    tls,
    staticDir,
    listDirectories = false,
    console = true,
    metricsOnGatewayPort = true,
    logTrafficBytes = 0,
    reusePort = false,
  } = options;
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
  if (!Number.isInteger(maxSessionsPerIp) || maxSessionsPerIp < 0) {
    problems.push(
      `maxSessionsPerIp: must be an integer >= 0: current value is ${
        JSON.stringify(maxSessionsPerIp)
      }`,
    );
  }
  checkNonNegative(problems, "logTrafficBytes", logTrafficBytes);
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
      idleTimeoutMs,
      maxLifetimeMs,
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
    drainTimeoutMs,
    demoPage,
    allowOrigins: frozenCopy(allowOrigins),
    ticketSecret: ticketSecret instanceof Uint8Array
      ? new Uint8Array(ticketSecret)
      : ticketSecret,
    maxSessions,
    maxSessionsPerIp,
    trustedProxies: frozenCopy(trustedProxies),
    tls: frozenCopy(tls),
    staticDir,
    listDirectories,
    console,
    metricsOnGatewayPort,
    logTrafficBytes,
    reusePort,
    store,
  });
}

/** The store settings of `options`, checked (the password is read later). */
function storeSettings(
  options: GatewayOptions,
  problems: string[],
): Readonly<StoreSettings> | undefined {
  const { store, storePasswordEnv, storePasswordFile } = options;
  const { storePrefix, storeTimeoutMs } = options;
  if (store === undefined) {
    const stray = Object.entries({
      storePasswordEnv,
      storePasswordFile,
      storePrefix,
      storeTimeoutMs,
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
  };
  try {
    resolveStoreOptions(settings);
  } catch (error) {
    if (error instanceof ConfigError) problems.push(...error.problems);
    else problems.push(`store: ${String(error)}`);
  }
  return Object.freeze(settings);
}

/**
 * Copies plain data (arrays and plain objects, nested) into frozen copies so
 * the resolved configuration shares nothing mutable with the caller.
 * Functions, class instances and primitives are kept as they are.
 */
function frozenCopy<T>(value: T): T {
  if (Array.isArray(value)) {
    return Object.freeze(value.map((item: unknown) => frozenCopy(item))) as T;
  }
  if (typeof value !== "object" || value === null) return value;
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = frozenCopy(item);
  return Object.freeze(copy) as T;
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) &&
    value.every((item) => typeof item === "string");
}

function resolveRoute(
  route: RouteOptions,
  at: string,
  problems: string[],
  defaults: {
    bufferBytes: number;
    idleTimeoutMs: number;
    maxLifetimeMs: number;
  },
): ResolvedRoute | undefined {
  const before = problems.length;
  if (typeof route.path !== "string" || !route.path.startsWith("/")) {
    problems.push(
      `${at}.path: must start with "/": current value is ${
        JSON.stringify(route.path)
      }`,
    );
  }
  let target: BackendTarget | undefined;
  const hasOtherTargets = route.tokens !== undefined ||
    route.tokenApi !== undefined || route.dynamic !== undefined;
  if (route.target !== undefined || !hasOtherTargets) {
    try {
      target = parseTarget(route.target);
    } catch (error) {
      problems.push(`${at}.target: ${(error as Error).message}`);
    }
  }
  checkTokenSettings(route, at, problems);
  if (route.dynamic !== undefined) {
    try {
      compileBackendPolicy(route.dynamic);
    } catch (error) {
      problems.push(`${at}.dynamic: ${(error as Error).message}`);
    }
  }
  if (
    route.proxyProtocol !== undefined && route.proxyProtocol !== "v1" &&
    route.proxyProtocol !== "v2"
  ) {
    problems.push(
      `${at}.proxyProtocol: must be "v1" or "v2": current value is ${
        JSON.stringify(route.proxyProtocol)
      }`,
    );
  }
  const framing = route.framing ?? "u32be";
  const toBackend = parseSpecAt(
    problems,
    `${at}.framingToBackend`,
    route.framingToBackend ?? framing,
    route.framingToBackend === undefined ? `${at}.framing` : undefined,
  );
  // Both directions inheriting one bad `framing` report it once.
  const toBrowser = route.framingToBackend === undefined &&
      route.framingToBrowser === undefined
    ? toBackend
    : parseSpecAt(
      problems,
      `${at}.framingToBrowser`,
      route.framingToBrowser ?? framing,
      route.framingToBrowser === undefined ? `${at}.framing` : undefined,
    );
  const {
    subprotocols = [],
    bufferBytes = defaults.bufferBytes,
    backendHeartbeatMs = 0,
    backendHeartbeatHex = "",
    backendSilenceMs = 0,
    idleTimeoutMs = defaults.idleTimeoutMs,
    maxLifetimeMs = defaults.maxLifetimeMs,
  } = route;
  checkPositive(problems, `${at}.bufferBytes`, bufferBytes);
  checkNonNegative(problems, `${at}.backendHeartbeatMs`, backendHeartbeatMs);
  checkNonNegative(problems, `${at}.backendSilenceMs`, backendSilenceMs);
  checkNonNegative(problems, `${at}.idleTimeoutMs`, idleTimeoutMs);
  checkNonNegative(problems, `${at}.maxLifetimeMs`, maxLifetimeMs);
  if (route.maxMessageBytes !== undefined) {
    checkPositive(problems, `${at}.maxMessageBytes`, route.maxMessageBytes);
  }
  const heartbeat = parseHex(backendHeartbeatHex);
  if (
    heartbeat !== undefined && backendHeartbeatMs > 0 && toBackend !== undefined
  ) {
    try {
      createFrameEncoder(toBackend).frameLength(heartbeat);
    } catch (error) {
      problems.push(
        `${at}.backendHeartbeatHex: the heartbeat message cannot be framed: ${
          (error as Error).message
        }`,
      );
    }
  }
  if (heartbeat === undefined) {
    problems.push(
      `${at}.backendHeartbeatHex: must be an even number of hex digits: current value is ${
        JSON.stringify(backendHeartbeatHex)
      }`,
    );
  }
  if (
    !Array.isArray(subprotocols) ||
    subprotocols.some((p) => typeof p !== "string" || p.trim() === "")
  ) {
    problems.push(`${at}.subprotocols: must be a list of non-empty strings`);
  }
  if (
    problems.length > before || toBackend === undefined ||
    toBrowser === undefined
  ) {
    return undefined;
  }
  const framingMax = maxMessageBytes(toBackend);
  const backendTls = route.backendTls === true
    ? {}
    : route.backendTls === false
    ? undefined
    : route.backendTls;
  return Object.freeze({
    path: route.path,
    targetText: route.target ?? tokenTargetText(route) ?? "dynamic",
    target: frozenCopy(target),
    toBackend,
    toBrowser,
    maxMessageBytes: Math.min(framingMax, route.maxMessageBytes ?? framingMax),
    subprotocols: frozenCopy(subprotocols),
    bufferBytes,
    backendHeartbeatMs,
    backendHeartbeatMessage: heartbeat ?? new Uint8Array(0),
    backendSilenceMs,
    idleTimeoutMs,
    maxLifetimeMs,
    tokens: route.tokens,
    tokenPrefix: route.tokenPrefix ?? "",
    tokenCacheTtlMs: route.tokenCacheTtlMs ?? 0,
    tokenStore: route.tokenStore,
    tokenApi: frozenCopy(route.tokenApi),
    hostToken: route.hostToken ?? false,
    dynamic: frozenCopy(route.dynamic),
    requireTicket: route.requireTicket ?? false,
    singleUseTickets: route.singleUseTickets ?? false,
    proxyProtocol: route.proxyProtocol,
    backendTls: frozenCopy(backendTls),
    recordDir: route.recordDir,
  });
}

/** The value of `tokens` that reads tokens from Redis. */
const REDIS_TOKENS = "redis";

/** Checks a route's token settings (`tokens`, `tokenApi` and their keys). */
function checkTokenSettings(
  route: RouteOptions,
  at: string,
  problems: string[],
): void {
  const { tokens, tokenApi } = route;
  if (tokens !== undefined && (typeof tokens !== "string" || tokens === "")) {
    problems.push(`${at}.tokens: must be a file or directory path, or "redis"`);
  }
  if (tokens !== undefined && tokenApi !== undefined) {
    problems.push(`${at}: tokens and tokenApi cannot be combined`);
  }
  if (tokenApi !== undefined) {
    const api = tokenApi as Record<string, unknown>;
    const keys = typeof api === "object" && api !== null
      ? Object.keys(api)
      : [];
    const isJwt = keys.length === 1 && typeof api.jwtKeyFile === "string" &&
      api.jwtKeyFile !== "";
    const isJson = keys.length === 1 && typeof api.jsonUrl === "string" &&
      api.jsonUrl.includes("%s");
    if (!isJwt && !isJson) {
      problems.push(
        `${at}.tokenApi: must be { "jwtKeyFile": FILE } or { "jsonUrl": URL with %s }`,
      );
    }
  }
  const isRedis = tokens === REDIS_TOKENS;
  const redisOnly = {
    tokenPrefix: route.tokenPrefix,
    tokenCacheTtlMs: route.tokenCacheTtlMs,
    tokenStore: route.tokenStore,
  };
  for (const [name, value] of Object.entries(redisOnly)) {
    if (value !== undefined && !isRedis) {
      problems.push(`${at}.${name}: needs tokens: "redis"`);
    }
  }
  if (
    route.tokenPrefix !== undefined &&
    (typeof route.tokenPrefix !== "string" || route.tokenPrefix.length > 256)
  ) {
    problems.push(
      `${at}.tokenPrefix: must be a string of at most 256 characters`,
    );
  }
  if (route.tokenCacheTtlMs !== undefined) {
    checkNonNegative(problems, `${at}.tokenCacheTtlMs`, route.tokenCacheTtlMs);
  }
  if (route.tokenStore !== undefined) {
    try {
      parseStoreUrl(route.tokenStore);
    } catch (error) {
      problems.push(`${at}.tokenStore: ${(error as Error).message}`);
    }
  }
  if (
    route.hostToken === true && tokens === undefined && tokenApi === undefined
  ) {
    problems.push(`${at}.hostToken: needs tokens or tokenApi`);
  }
}

/** The log text of a token route's target (`tokens:...`, `tokenApi:...`). */
function tokenTargetText(route: RouteOptions): string | undefined {
  if (route.tokens !== undefined) return `tokens:${route.tokens}`;
  const api = route.tokenApi;
  if (api === undefined) return undefined;
  return "jwtKeyFile" in api ? "tokenApi:jwt" : `tokenApi:${api.jsonUrl}`;
}

function parseSpecAt(
  problems: string[],
  at: string,
  spec: string,
  inheritedAt: string | undefined,
): FramingSpec | undefined {
  try {
    return Object.freeze(parseFramingSpec(spec));
  } catch (error) {
    problems.push(`${inheritedAt ?? at}: ${(error as Error).message}`);
    return undefined;
  }
}

/**
 * Parses a backend address: `host:port`, `[v6]:port` or `unix:/path`.
 *
 * @example
 * ```ts
 * import { parseTarget } from "./config.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseTarget("[::1]:9000"), { transport: "tcp", hostname: "::1", port: 9000 });
 * ```
 *
 * @param text The address.
 * @returns The parsed target.
 */
export function parseTarget(text: string | undefined): BackendTarget {
  if (typeof text !== "string") {
    throw new TypeError("Cannot parse target as it must be a string");
  }
  if (text.startsWith("unix:")) {
    const path = text.slice(5);
    if (!path.startsWith("/")) {
      throw new TypeError(
        `Cannot parse target "${text}": expected unix:/absolute/path`,
      );
    }
    return { transport: "unix", path };
  }
  const { hostname, port } = parseHostPort(text, "target");
  if (port === 0) {
    throw new RangeError(
      `Cannot parse target "${text}": port must be from 1 to 65535`,
    );
  }
  return { transport: "tcp", hostname, port };
}

/**
 * Parses `HOST:PORT` or `[V6]:PORT`.
 *
 * @example
 * ```ts
 * import { parseHostPort } from "./config.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseHostPort("127.0.0.1:0", "listen"), { hostname: "127.0.0.1", port: 0 });
 * ```
 *
 * @param text The address.
 * @param what What the address is, for messages.
 * @returns Host and port.
 */
export function parseHostPort(
  text: string,
  what: string,
): { hostname: string; port: number } {
  let hostname: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]:");
    if (close < 0) {
      throw new TypeError(
        `Cannot parse ${what} "${text}": expected [IPv6]:PORT`,
      );
    }
    hostname = text.slice(1, close);
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon <= 0 || text.indexOf(":") !== colon) {
      throw new TypeError(`Cannot parse ${what} "${text}": expected HOST:PORT`);
    }
    hostname = text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new RangeError(
      `Cannot parse ${what} "${text}": port must be from 0 to 65535`,
    );
  }
  const isBracketed = text.startsWith("[");
  // A bracketed host is an IPv6 literal; a plain one is a name or IPv4.
  const isValidHost = isBracketed
    ? /^[0-9A-Fa-f:.]+(%[\w.-]+)?$/.test(hostname) && hostname.includes(":")
    : /^[A-Za-z0-9._-]+$/.test(hostname);
  if (hostname === "" || !isValidHost) {
    throw new TypeError(
      `Cannot parse ${what} "${text}": expected HOST:PORT with a host name, an IPv4 address or a bracketed IPv6 address`,
    );
  }
  return { hostname, port: Number(portText) };
}

/** Shows a bad value as written: NaN and Infinity stay readable. */
function describe(value: unknown): string {
  return typeof value === "number" ? String(value) : JSON.stringify(value);
}

function parseHex(text: string): Uint8Array | undefined {
  const clean = text.replace(/\s+/g, "");
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) return undefined;
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  }
  return out;
}

function checkNonNegative(
  problems: string[],
  at: string,
  value: unknown,
): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    problems.push(
      `${at}: must be a number >= 0: current value is ${describe(value)}`,
    );
  }
}

function checkPositive(problems: string[], at: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    problems.push(
      `${at}: must be a number > 0: current value is ${describe(value)}`,
    );
  }
}
