/**
 * One route's options: the public {@linkcode RouteOptions} shape, the
 * resolved {@linkcode ResolvedRoute}, the table of its timer options
 * ({@linkcode ROUTE_TIMERS}) and {@linkcode resolveRoute}, which applies the
 * defaults and validates one route. Pure.
 *
 * @module
 */

import {
  type FramingSpec,
  maxMessageBytes,
  parseFramingSpec,
} from "../framing/spec.ts";
import { createFrameEncoder } from "../framing/create_codec.ts";
import { compileBackendPolicy } from "../security/backend_policy.ts";
import { checkNonNegative, checkPositive, frozenCopy } from "./_checks.ts";
import { type BackendTarget, parseTarget } from "./target.ts";
import { parseStoreUrl } from "../store/store_url.ts";
import type { DeflateSettings } from "../websocket/permessage_deflate_offer.ts";

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
   * @default {undefined}
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
   * The token is the `Host` header up to its first `:` (websockify's
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
  /**
   * permessage-deflate (RFC 7692): `"on"`, or settings to tune it. Off
   * ignores the browser's offer.
   * @default {"off"}
   */
  compression?: "off" | "on" | CompressionOptions;
}

/** The tuning of a route's permessage-deflate. */
export interface CompressionOptions {
  /** Keep the compression context between messages (~290 KiB per session). @default {true} */
  contextTakeover?: boolean;
  /** The deflate level, 0-9. @default {6} */
  level?: number;
  /** Messages shorter than this many bytes go to the browser uncompressed. @default {64} */
  minSize?: number;
  /** The largest LZ77 window used and accepted, 9-15. @default {15} */
  maxWindowBits?: number;
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

/** The value of `tokens` that reads tokens from Redis. */
export const REDIS_TOKENS = "redis";

/** The allow-list of a route with dynamic targets. */
export interface DynamicTargetOptions {
  /** Host name patterns, e.g. `db.internal`, `*.vnc.internal`. @default {[]} */
  hosts?: string[];
  /** CIDR ranges, e.g. `10.1.0.0/16`, `2001:db8::/32`. @default {[]} */
  cidrs?: string[];
  /** Ports and port ranges, e.g. `5900-5999`, `22`. @default {all ports} */
  ports?: (number | string)[];
}

/** TLS to the backend. */
export interface BackendTlsOptions {
  /** A PEM file of CA certificates to trust in addition to the system roots. */
  caFile?: string;
  /** The name to verify the backend certificate against. @default {the target host} */
  serverName?: string;
}

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
  /** permessage-deflate settings; undefined when compression is off. */
  readonly compression: Readonly<DeflateSettings> | undefined;
}

/**
 * The timer options of a route, one row each: the table that parsing
 * (`resolveRoute`), the config file's route keys (`config_file.ts`), the
 * relay's timers (`routeTimers`) and the gateway's sweep period read. Every
 * timer is in milliseconds, 0 is off, and a route inherits the gateway-wide
 * value given in {@linkcode RouteDefaults}, else 0.
 *
 * Adding a route timer: a documented field in {@linkcode RouteOptions} and
 * {@linkcode ResolvedRoute} and a row here (this file), the field in the
 * relay's `SessionTimers` (`session/relay_options.ts`), and what it does in
 * `session/liveness.ts`.
 */
export const ROUTE_TIMERS = [
  {
    option: "backendHeartbeatMs",
    // The file spells it `heartbeat: { interval, hex }`.
    fileKey: undefined,
    fileHelp: "",
  },
  {
    option: "backendSilenceMs",
    fileKey: "backendSilence",
    fileHelp: "close with 4000 after this long without backend data",
  },
  {
    option: "idleTimeoutMs",
    fileKey: "idleTimeout",
    fileHelp: "close with 4001 after this long without data",
  },
  {
    option: "maxLifetimeMs",
    fileKey: "maxLifetime",
    fileHelp: "close with 4002 at this age",
  },
] as const satisfies readonly RouteTimerRow[];

/** One row of {@linkcode ROUTE_TIMERS}. */
export interface RouteTimerRow {
  /** The field in `RouteOptions`, `ResolvedRoute` and the relay's timers. */
  readonly option: keyof RouteOptions & keyof ResolvedRoute;
  /** The config file's route key (a duration); undefined when spelled otherwise. */
  readonly fileKey: string | undefined;
  /** The config file's help for `fileKey`. */
  readonly fileHelp: string;
}

/** The name of a route timer. */
export type RouteTimerName = typeof ROUTE_TIMERS[number]["option"];

/** A route's timers, in milliseconds (0 = off). */
export type RouteTimers = Record<RouteTimerName, number>;

/** What the gateway sets for every route; a route's own value wins. */
export interface RouteDefaults {
  /** High-water mark per direction in bytes. */
  bufferBytes: number;
  /** Gateway-wide timers (`idleTimeoutMs`, `maxLifetimeMs`). */
  timers: Partial<RouteTimers>;
}

/**
 * The timers of a resolved route, as the relay takes them.
 *
 * @example
 * ```ts
 * import { resolveRoute, routeTimers } from "./route_options.ts";
 * import assert from "node:assert/strict";
 * const route = resolveRoute({ path: "/", target: "127.0.0.1:9", backendSilenceMs: 5000 }, "routes[0]", [], {
 *   bufferBytes: 65536,
 *   timers: {},
 * })!;
 * assert.deepEqual(routeTimers(route), {
 *   backendHeartbeatMs: 0,
 *   backendSilenceMs: 5000,
 *   idleTimeoutMs: 0,
 *   maxLifetimeMs: 0,
 * });
 * ```
 *
 * @param route The resolved route.
 * @returns Its timers.
 */
export function routeTimers(route: ResolvedRoute): RouteTimers {
  const timers = {} as RouteTimers;
  for (const { option } of ROUTE_TIMERS) timers[option] = route[option];
  return timers;
}

/**
 * Resolves one route: applies the defaults (`defaults` for what the gateway
 * sets for every route), validates every field and pushes one line per
 * problem, prefixed with `at`.
 *
 * @example An idle timeout inherited from the gateway
 * ```ts
 * import { resolveRoute } from "./route_options.ts";
 * import assert from "node:assert/strict";
 * const problems: string[] = [];
 * const route = resolveRoute({ path: "/", target: "127.0.0.1:9" }, "routes[0]", problems, {
 *   bufferBytes: 65536,
 *   timers: { idleTimeoutMs: 30000 },
 * });
 * assert.deepEqual(problems, []);
 * assert.equal(route?.idleTimeoutMs, 30000);
 * assert.equal(route?.backendSilenceMs, 0);
 * ```
 *
 * @param route The route as given.
 * @param at Its path in the options, for problem lines.
 * @param problems Where problems are pushed.
 * @param defaults What the gateway sets for every route.
 * @returns The resolved route, or undefined when it has problems.
 */
export function resolveRoute(
  route: RouteOptions,
  at: string,
  problems: string[],
  defaults: RouteDefaults,
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
    backendHeartbeatHex = "",
  } = route;
  checkPositive(problems, `${at}.bufferBytes`, bufferBytes);
  const timers = {} as Record<RouteTimerName, number>;
  for (const { option } of ROUTE_TIMERS) {
    const value = route[option] ?? defaults.timers[option] ?? 0;
    checkNonNegative(problems, `${at}.${option}`, value);
    timers[option] = value;
  }
  const backendHeartbeatMs = timers.backendHeartbeatMs;
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
  const compression = resolveCompression(problems, at, route.compression);
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
    ...timers,
    backendHeartbeatMessage: heartbeat ?? new Uint8Array(0),
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
    compression,
  });
}

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
  // Not the URL: it may carry credentials, and this text is logged.
  return "jwtKeyFile" in api ? "tokenApi:jwt" : "tokenApi:json";
}

function resolveCompression(
  problems: string[],
  at: string,
  value: RouteOptions["compression"],
): Readonly<DeflateSettings> | undefined {
  if (value === undefined || value === "off") return undefined;
  if (value === "on") return Object.freeze({});
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    problems.push(
      `${at}.compression: must be "off", "on" or an object: current value is ${
        JSON.stringify(value)
      }`,
    );
    return undefined;
  }
  const { contextTakeover, level, minSize, maxWindowBits } = value;
  if (contextTakeover !== undefined && typeof contextTakeover !== "boolean") {
    problems.push(`${at}.compression.contextTakeover: must be true or false`);
  }
  const ranges: [string, number | undefined, number, number][] = [
    ["level", level, 0, 9],
    ["minSize", minSize, 0, Number.MAX_SAFE_INTEGER],
    ["maxWindowBits", maxWindowBits, 9, 15],
  ];
  for (const [name, number, min, max] of ranges) {
    if (
      number !== undefined &&
      !(Number.isInteger(number) && number >= min && number <= max)
    ) {
      problems.push(
        `${at}.compression.${name}: must be an integer from ${min} to ${max}: current value is ${
          JSON.stringify(number)
        }`,
      );
    }
  }
  return Object.freeze({
    ...(contextTakeover === undefined ? {} : { contextTakeover }),
    ...(level === undefined ? {} : { level }),
    ...(minSize === undefined ? {} : { minSize }),
    ...(maxWindowBits === undefined ? {} : { maxWindowBits }),
  });
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

function parseHex(text: string): Uint8Array | undefined {
  const clean = text.replace(/\s+/g, "");
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) return undefined;
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  }
  return out;
}
