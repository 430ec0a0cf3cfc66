/**
 * websockify's command line (0.10 to current upstream), read as websockify
 * reads it, and turned into gateway options with websockify's defaults:
 * raw framing, any origin, the relay at every path noVNC uses. Pure.
 *
 * `websockify [options] [source_addr:]source_port [target_addr:target_port]`
 *
 * Options and positional arguments may be mixed, as with Python's optparse;
 * `--name=value` and `--name value` both work. An option wsgate cannot
 * honour (`--daemon`, `--wrap-mode`, `-- COMMAND`, TLS below 1.2, ...)
 * is a {@linkcode ConfigError} whose one line names the alternative; the
 * CLI exits 2 on it, as websockify does on a bad command line.
 *
 * @module
 */

import type { GatewayOptions, RouteOptions } from "../config/config.ts";
import { ConfigError } from "../errors.ts";
import { parseRedisTokenSource } from "../routing/redis_token_source.ts";

/** The token plugins understood, by websockify's class name. */
export const TOKEN_PLUGINS = [
  "TokenFile",
  "ReadOnlyTokenFile",
  "TokenRedis",
  "JWTTokenApi",
  "JSONTokenApi",
] as const;

/** A token plugin name. */
export type TokenPluginName = typeof TOKEN_PLUGINS[number];

/** The auth plugins understood, by websockify's class name. */
export const AUTH_PLUGINS = ["BasicHTTPAuth", "ExpectOrigin"] as const;

/** An auth plugin name. */
export type AuthPluginName = typeof AUTH_PLUGINS[number];

/** Where websockify listens. */
export type WebsockifyListen =
  | {
    /** TCP. */
    readonly kind: "tcp";
    /** The address as given, brackets removed; `""` means every interface. */
    readonly host: string;
    /** The port. */
    readonly port: number;
  }
  | {
    /** A Unix socket (`--unix-listen`). */
    readonly kind: "unix";
    /** The socket path. */
    readonly path: string;
    /** The file mode (`--unix-listen-mode`, octal). @default {0o600} */
    readonly mode: number;
  };

/** Where websockify sends the traffic. */
export type WebsockifyTarget =
  | {
    /** A fixed TCP target. */
    readonly kind: "tcp";
    /** The host, brackets removed. */
    readonly host: string;
    /** The port. */
    readonly port: number;
  }
  | {
    /** A fixed Unix socket target (`--unix-target`). */
    readonly kind: "unix";
    /** The socket path. */
    readonly path: string;
  }
  | {
    /** A token plugin picks the target per connection. */
    readonly kind: "token";
    /** The plugin. */
    readonly plugin: TokenPluginName;
    /** `--token-source` (`--target-config` sets both). */
    readonly source: string | undefined;
    /** `--host-token`: the token is the Host header without its port. */
    readonly isHostToken: boolean;
  };

/** Everything the websockify command line says, before mapping. */
export interface WebsockifySettings {
  /** Where to listen. */
  listen: WebsockifyListen;
  /** Where to relay. */
  target: WebsockifyTarget;
  /** `--web DIR`. */
  web: string | undefined;
  /** `--file-only`: no directory listings. */
  isFileOnly: boolean;
  /** `--web-auth`: the auth plugin also guards plain GETs. */
  isWebAuth: boolean;
  /** `--cert` (websockify's default `self.pem`). */
  cert: string;
  /** Whether `--cert` was given (the default is used only if it exists). */
  isCertGiven: boolean;
  /** `--key`; the key is in the cert file when absent. */
  key: string | undefined;
  /** `--ssl-only`. */
  isSslOnly: boolean;
  /** `--ssl-target`. */
  isSslTarget: boolean;
  /** `--auth-plugin` and `--auth-source`. */
  auth:
    | { readonly plugin: AuthPluginName; readonly source: string | undefined }
    | undefined;
  /** `--heartbeat`, seconds; 0 = off. */
  heartbeatSec: number;
  /** `--idle-timeout`, seconds: exit when no session for this long; 0 = off. */
  idleTimeoutSec: number;
  /** `--timeout`, seconds: stop accepting this long after start; 0 = off. */
  timeoutSec: number;
  /** `--run-once`: exit after the first session ends. */
  isRunOnce: boolean;
  /** `--record FILE`. */
  record: string | undefined;
  /** `--verbose` / `-v`. */
  isVerbose: boolean;
  /** `--traffic`. */
  isTraffic: boolean;
  /** `--log-file FILE`. */
  logFile: string | undefined;
  /** `--prefer-ipv6` / `-6`: an empty source address means `::`. */
  isPreferIpv6: boolean;
}

/** What the websockify command line asks for. */
export type WebsockifyCommand =
  | { readonly kind: "help" }
  | { readonly kind: "run"; readonly settings: WebsockifySettings };

/** What {@linkcode buildWebsockifyOptions} needs to know from the disk. */
export interface WebsockifyBuildOptions {
  /** Whether the cert file exists (websockify serves TLS only then). */
  isCertPresent: boolean;
}

/** The mapped configuration. */
export interface WebsockifyRunConfig {
  /** The gateway options. */
  options: GatewayOptions;
  /** Whether TLS is served (always TLS only: see the README). */
  isTls: boolean;
}

/** The URL paths the relay answers: websockify answers any path. */
export const WEBSOCKIFY_PATHS: readonly string[] = ["/", "/websockify"];

/** Bytes of each message hex-dumped by `--traffic`. */
export const TRAFFIC_DUMP_BYTES = 64;

/** Options that take a value. */
const VALUED = new Set([
  "--record",
  "--timeout",
  "--idle-timeout",
  "--cert",
  "--key",
  "--key-password",
  "--cafile",
  "--ssl-version",
  "--ssl-ciphers",
  "--unix-listen",
  "--unix-listen-mode",
  "--unix-target",
  "--web",
  "--wrap-mode",
  "--target-config",
  "--token-plugin",
  "--token-source",
  "--auth-plugin",
  "--auth-source",
  "--heartbeat",
  "--log-file",
  "--syslog",
]);

/** Flags without a value, with their short spellings. */
const FLAGS = new Map([
  ["--verbose", "--verbose"],
  ["-v", "--verbose"],
  ["--traffic", "--traffic"],
  ["--daemon", "--daemon"],
  ["-D", "--daemon"],
  ["--run-once", "--run-once"],
  ["--ssl-only", "--ssl-only"],
  ["--ssl-target", "--ssl-target"],
  ["--verify-client", "--verify-client"],
  ["--inetd", "--inetd"],
  ["--web-auth", "--web-auth"],
  ["--prefer-ipv6", "--prefer-ipv6"],
  ["-6", "--prefer-ipv6"],
  ["--libserver", "--libserver"],
  ["--host-token", "--host-token"],
  ["--legacy-syslog", "--legacy-syslog"],
  ["--file-only", "--file-only"],
]);

/** Options that cannot be honoured, with the alternative to name. */
const REFUSED = new Map([
  [
    "--daemon",
    "wsgate stays in the foreground: run it under systemd or another supervisor",
  ],
  [
    "--wrap-mode",
    "wsgate does not wrap programs: start the program yourself and give its address as target_addr:target_port",
  ],
  [
    "--inetd",
    "wsgate opens its own listener: give [source_addr:]source_port or --unix-listen FILE",
  ],
  [
    "--key-password",
    "wsgate reads unencrypted keys only: decrypt it once (openssl pkey -in KEY -out PLAIN.pem) and pass --key PLAIN.pem",
  ],
  [
    "--verify-client",
    "client certificates are not checked by wsgate: terminate TLS in a proxy that verifies them (nginx ssl_verify_client) in front of wsgate",
  ],
  [
    "--cafile",
    "client certificates are not checked by wsgate: terminate TLS in a proxy that verifies them (nginx ssl_verify_client) in front of wsgate",
  ],
  [
    "--ssl-ciphers",
    "wsgate uses the fixed modern cipher suites of its TLS library: drop --ssl-ciphers, or terminate TLS in a proxy in front",
  ],
  [
    "--syslog",
    "wsgate logs to stderr: pipe it to logger(1) or run it under journald",
  ],
  [
    "--legacy-syslog",
    "wsgate logs to stderr: pipe it to logger(1) or run it under journald",
  ],
]);

/**
 * The help text of the `websockify` command.
 *
 * @example
 * ```ts
 * import { websockifyHelpText } from "./websockify_args.ts";
 * import assert from "node:assert/strict";
 * assert.ok(websockifyHelpText().includes("--token-plugin"));
 * ```
 *
 * @returns The help text.
 */
export function websockifyHelpText(): string {
  return [
    "Usage:",
    "  wsgate websockify [options] [source_addr:]source_port target_addr:target_port",
    "  wsgate websockify [options] --token-plugin=CLASS [source_addr:]source_port",
    "  wsgate websockify [options] --unix-target=FILE [source_addr:]source_port",
    "",
    "websockify's options, with websockify's meanings (see the README's",
    '"Coming from websockify" for what each does in wsgate):',
    "  --web DIR, --file-only, --web-auth, --cert FILE, --key FILE, --ssl-only,",
    "  --ssl-target, --ssl-version default|tlsv1_2, --unix-target FILE,",
    "  --unix-listen FILE, --unix-listen-mode MODE, --token-plugin CLASS",
    `  (${
      TOKEN_PLUGINS.join(", ")
    }), --token-source ARG, --target-config FILE,`,
    `  --host-token, --auth-plugin CLASS (${
      AUTH_PLUGINS.join(", ")
    }), --auth-source ARG,`,
    "  --heartbeat SEC, --idle-timeout SEC, --timeout SEC, --run-once,",
    "  --record FILE, --verbose/-v, --traffic, --log-file FILE, --prefer-ipv6/-6,",
    "  --libserver (ignored)",
  ].join("\n");
}

/**
 * Parses websockify's command line (without the `websockify` word).
 * Throws a `ConfigError` with one line for a bad or unsupported option.
 *
 * @example A noVNC deployment
 * ```ts
 * import { parseWebsockifyArgs } from "./websockify_args.ts";
 * import assert from "node:assert/strict";
 * const command = parseWebsockifyArgs(["--web", "/usr/share/novnc", "6080", "localhost:5900"]);
 * assert.equal(command.kind, "run");
 * if (command.kind === "run") {
 *   assert.deepEqual(command.settings.listen, { kind: "tcp", host: "", port: 6080 });
 *   assert.deepEqual(command.settings.target, { kind: "tcp", host: "localhost", port: 5900 });
 * }
 * assert.throws(() => parseWebsockifyArgs(["-D", "6080", "localhost:5900"]), /--daemon/);
 * ```
 *
 * @param argv The arguments after `websockify`.
 * @returns The command.
 */
export function parseWebsockifyArgs(
  argv: readonly string[],
): WebsockifyCommand {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      fail(
        `-- ${
          argv.slice(i + 1).join(" ")
        }: wsgate does not wrap programs: start the program yourself and give its address as target_addr:target_port`,
      );
    }
    if (arg === "--help" || arg === "-h") return { kind: "help" };
    if (!arg.startsWith("-") || arg === "-") {
      positional.push(arg);
      continue;
    }
    const equals = arg.indexOf("=");
    const name = equals < 0 ? arg : arg.slice(0, equals);
    const flag = FLAGS.get(name);
    if (flag !== undefined) {
      if (equals >= 0) fail(`${name}: takes no value`);
      refuseUnsupported(flag);
      flags.add(flag);
      continue;
    }
    if (!VALUED.has(name)) {
      fail(`${name}: unknown option (see websockify --help)`);
    }
    refuseUnsupported(name);
    const value = equals < 0 ? argv[++i] : arg.slice(equals + 1);
    if (value === undefined) fail(`${name}: missing value`);
    values.set(name, value);
  }
  return { kind: "run", settings: settle(values, flags, positional) };
}

function refuseUnsupported(name: string): void {
  const alternative = REFUSED.get(name);
  if (alternative !== undefined) fail(`${name}: not supported: ${alternative}`);
}

/** Applies websockify's cross-checks and reads every value. */
function settle(
  values: ReadonlyMap<string, string>,
  flags: ReadonlySet<string>,
  positional: string[],
): WebsockifySettings {
  const has = (flag: string) => flags.has(flag);
  const sslVersion = values.get("--ssl-version");
  if (sslVersion !== undefined) checkSslVersion(sslVersion);
  let tokenPlugin = values.get("--token-plugin");
  let tokenSource = values.get("--token-source");
  const targetConfig = values.get("--target-config");
  if (targetConfig !== undefined) {
    // websockify's deprecated spelling of TokenFile + --token-source.
    tokenPlugin = "TokenFile";
    tokenSource = targetConfig;
  }
  requireWith(tokenSource !== undefined, tokenPlugin, "--token-source", {
    needs: "--token-plugin",
    example: "--token-plugin TokenFile",
  });
  requireWith(has("--host-token"), tokenPlugin, "--host-token", {
    needs: "--token-plugin",
    example: "--token-plugin TokenFile",
  });
  const authPlugin = values.get("--auth-plugin");
  const authSource = values.get("--auth-source");
  requireWith(authSource !== undefined, authPlugin, "--auth-source", {
    needs: "--auth-plugin",
    example: "--auth-plugin BasicHTTPAuth",
  });
  requireWith(has("--web-auth"), authPlugin, "--web-auth", {
    needs: "--auth-plugin",
    example: "--auth-plugin BasicHTTPAuth",
  });
  const web = values.get("--web");
  requireWith(has("--web-auth"), web, "--web-auth", {
    needs: "--web",
    example: "--web /usr/share/novnc",
  });
  const unixListenPath = values.get("--unix-listen");
  let listen: WebsockifyListen;
  if (unixListenPath !== undefined) {
    listen = {
      kind: "unix",
      path: unixListenPath,
      mode: parseMode(values.get("--unix-listen-mode")),
    };
  } else {
    const source = positional.shift();
    if (source === undefined) {
      fail(
        "missing [source_addr:]source_port (usage: websockify [options] [source_addr:]source_port target_addr:target_port)",
      );
    }
    const { host, port } = splitHostPort(source, "source", true);
    listen = { kind: "tcp", host, port };
  }
  const unixTarget = values.get("--unix-target");
  let target: WebsockifyTarget;
  if (tokenPlugin !== undefined) {
    target = {
      kind: "token",
      plugin: parseTokenPlugin(tokenPlugin),
      source: tokenSource,
      isHostToken: has("--host-token"),
    };
    checkTokenSource(target.plugin, tokenSource);
  } else if (unixTarget !== undefined) {
    target = { kind: "unix", path: unixTarget };
  } else {
    const text = positional.shift();
    if (text === undefined) {
      fail(
        "missing target_addr:target_port (or --token-plugin CLASS, or --unix-target FILE)",
      );
    }
    const { host, port } = splitHostPort(text, "target", false);
    target = { kind: "tcp", host, port };
  }
  if (positional.length > 0) {
    fail(
      `unexpected argument "${
        positional[0]
      }" (expected [source_addr:]source_port target_addr:target_port)`,
    );
  }
  const auth = authPlugin === undefined ? undefined : {
    plugin: parseAuthPlugin(authPlugin),
    source: authSource,
  };
  if (auth !== undefined) checkAuthSource(auth.plugin, auth.source);
  const cert = values.get("--cert");
  return {
    listen,
    target,
    web,
    isFileOnly: has("--file-only"),
    isWebAuth: has("--web-auth"),
    cert: cert ?? "self.pem",
    isCertGiven: cert !== undefined,
    key: values.get("--key"),
    isSslOnly: has("--ssl-only"),
    isSslTarget: has("--ssl-target"),
    auth,
    heartbeatSec: parseSeconds(values, "--heartbeat"),
    idleTimeoutSec: parseSeconds(values, "--idle-timeout"),
    timeoutSec: parseSeconds(values, "--timeout"),
    isRunOnce: has("--run-once"),
    record: values.get("--record"),
    isVerbose: has("--verbose"),
    isTraffic: has("--traffic"),
    logFile: values.get("--log-file"),
    isPreferIpv6: has("--prefer-ipv6"),
  };
}

/**
 * Maps websockify settings to gateway options: raw framing, any origin
 * (unless `ExpectOrigin`), the relay at {@linkcode WEBSOCKIFY_PATHS}, no
 * console or metrics page on the port (websockify has neither). TLS is
 * served when the cert file exists or `--ssl-only` is given; throws a
 * `ConfigError` for `--ssl-only` without the cert file, as websockify does.
 *
 * @example
 * ```ts
 * import { buildWebsockifyOptions, parseWebsockifyArgs } from "./websockify_args.ts";
 * import assert from "node:assert/strict";
 * const command = parseWebsockifyArgs(["127.0.0.1:6080", "localhost:5900"]);
 * if (command.kind !== "run") throw new Error("unreachable");
 * const { options } = buildWebsockifyOptions(command.settings, { isCertPresent: false });
 * assert.equal(options.port, 6080);
 * assert.deepEqual(options.routes![0], { path: "/", target: "localhost:5900", framing: "raw" });
 * ```
 *
 * @param settings The parsed command line.
 * @param options What the disk says.
 * @returns The gateway options.
 */
export function buildWebsockifyOptions(
  settings: WebsockifySettings,
  options: WebsockifyBuildOptions,
): WebsockifyRunConfig {
  // On a Unix socket the TLS is the proxy's: websockify's default
  // self.pem is not picked up there (an explicit --cert is refused).
  const isUnix = settings.listen.kind === "unix";
  const isTls = settings.isSslOnly ||
    (options.isCertPresent && (!isUnix || settings.isCertGiven));
  if (isUnix && isTls) {
    fail(
      "--unix-listen: cannot serve TLS on a Unix socket: drop --cert/--ssl-only and terminate TLS in the proxy in front",
    );
  }
  if (settings.isSslOnly && !options.isCertPresent) {
    fail(
      `--ssl-only: the certificate "${settings.cert}" is not there (expected --cert FILE)`,
    );
  }
  const gateway: GatewayOptions = {
    console: false,
    metricsOnGatewayPort: false,
    // websockify checks no origin unless ExpectOrigin says so (below).
    allowOrigins: "*",
    listDirectories: !settings.isFileOnly,
  };
  if (settings.auth !== undefined) {
    gateway.authPlugin = {
      name: settings.auth.plugin,
      source: settings.auth.source ?? "",
      isWebAuth: settings.isWebAuth,
    };
  }
  if (settings.listen.kind === "unix") {
    gateway.unixSocket = settings.listen.path;
    gateway.unixSocketMode = settings.listen.mode;
  }
  if (settings.listen.kind === "tcp") {
    const { host, port } = settings.listen;
    gateway.hostname = host !== ""
      ? host
      : settings.isPreferIpv6
      ? "::"
      : "0.0.0.0";
    gateway.port = port;
  }
  if (isTls) {
    gateway.tls = {
      certFile: settings.cert,
      keyFile: settings.key ?? settings.cert,
    };
  }
  if (settings.web !== undefined) gateway.staticDir = settings.web;
  if (settings.heartbeatSec > 0) {
    gateway.pingIntervalMs = settings.heartbeatSec * 1000;
  }
  if (settings.isTraffic) gateway.logTrafficBytes = TRAFFIC_DUMP_BYTES;
  const base: Omit<RouteOptions, "path"> = { framing: "raw" };
  const { target } = settings;
  if (target.kind === "tcp") base.target = formatHostPort(target);
  if (target.kind === "unix") base.target = `unix:${target.path}`;
  if (target.kind === "token") Object.assign(base, tokenRouteOptions(target));
  if (settings.isSslTarget) base.backendTls = true;
  if (settings.record !== undefined) base.recordDir = dirname(settings.record);
  gateway.routes = WEBSOCKIFY_PATHS.map((path) => ({ path, ...base }));
  return { options: gateway, isTls };
}

/**
 * The route keys of a token plugin: a token file, Redis in websockify's
 * layout (`tokenStore` and `tokenPrefix` from the source), or a token API;
 * `--host-token` reads the token from the Host header.
 */
function tokenRouteOptions(
  target: Extract<WebsockifyTarget, { kind: "token" }>,
): Partial<RouteOptions> {
  const source = target.source ?? "";
  const keys: Partial<RouteOptions> = target.isHostToken
    ? { hostToken: true }
    : {};
  switch (target.plugin) {
    case "TokenFile":
    case "ReadOnlyTokenFile":
      // `tokens: "redis"` means Redis: a file named so is spelled ./redis.
      return { ...keys, tokens: source === "redis" ? "./redis" : source };
    case "TokenRedis": {
      const redis = parseRedisTokenSource(source);
      return {
        ...keys,
        tokens: "redis",
        tokenStore: redis.url,
        tokenPrefix: redis.keyPrefix,
      };
    }
    case "JWTTokenApi":
      return { ...keys, tokenApi: { jwtKeyFile: source } };
    case "JSONTokenApi":
      return { ...keys, tokenApi: { jsonUrl: source } };
  }
}

function checkSslVersion(version: string): void {
  switch (version) {
    case "default":
    case "tlsv1_2":
      return;
    case "tlsv1_1":
      fail(
        "--ssl-version tlsv1_1: not supported: wsgate speaks TLS 1.2 and 1.3 only; drop --ssl-version or use tlsv1_2",
      );
      break;
    case "tlsv1_3":
      fail(
        "--ssl-version tlsv1_3: not supported: wsgate accepts TLS 1.2 and 1.3 and cannot refuse 1.2; drop --ssl-version, or terminate TLS in a proxy that requires 1.3",
      );
      break;
    default:
      fail(
        `--ssl-version: invalid value "${version}" (expected default, tlsv1_2)`,
      );
  }
}

function requireWith(
  isUsed: boolean,
  partner: string | undefined,
  flag: string,
  how: { needs: string; example: string },
): void {
  if (isUsed && partner === undefined) {
    fail(`${flag}: needs ${how.needs} (e.g. ${how.example})`);
  }
}

/** Reads a plugin name, bare or dotted as websockify accepts it. */
function parseTokenPlugin(name: string): TokenPluginName {
  const bare = name.startsWith("websockify.token_plugins.")
    ? name.slice("websockify.token_plugins.".length)
    : name;
  const known = TOKEN_PLUGINS.find((plugin) => plugin === bare);
  if (known !== undefined) return known;
  if (bare === "TokenFileName" || bare === "UnixDomainSocketDirectory") {
    fail(
      `--token-plugin ${name}: not supported: list the targets in a TokenFile (token: host:port or token: unix_socket:/path)`,
    );
  }
  fail(
    `--token-plugin ${name}: unknown plugin (expected ${
      TOKEN_PLUGINS.join(", ")
    }; Python classes cannot be loaded)`,
  );
}

function parseAuthPlugin(name: string): AuthPluginName {
  const bare = name.startsWith("websockify.auth_plugins.")
    ? name.slice("websockify.auth_plugins.".length)
    : name;
  const known = AUTH_PLUGINS.find((plugin) => plugin === bare);
  if (known !== undefined) return known;
  if (bare === "ClientCertCNAuth") {
    fail(
      `--auth-plugin ${name}: not supported: client certificates are not checked by wsgate: terminate TLS in a proxy that verifies them (nginx ssl_verify_client) in front of wsgate`,
    );
  }
  fail(
    `--auth-plugin ${name}: unknown plugin (expected ${
      AUTH_PLUGINS.join(", ")
    }; Python classes cannot be loaded)`,
  );
}

function checkTokenSource(
  plugin: TokenPluginName,
  source: string | undefined,
): void {
  if (source === undefined || source === "") {
    const what = plugin === "TokenRedis"
      ? "host[:port[:db[:password[:namespace]]]]"
      : plugin === "JWTTokenApi"
      ? "the key file"
      : plugin === "JSONTokenApi"
      ? "a URL with %s for the token"
      : "a token file or directory";
    fail(`--token-plugin ${plugin}: needs --token-source (${what})`);
  }
  if (plugin === "TokenRedis") {
    try {
      parseRedisTokenSource(source);
    } catch {
      fail(
        `--token-source: invalid value "${source}" (expected host[:port[:db[:password[:namespace]]]] for TokenRedis)`,
      );
    }
  }
  if (plugin === "JSONTokenApi" && !source.includes("%s")) {
    fail(
      `--token-source: invalid value "${source}" (expected a URL with %s where the token goes)`,
    );
  }
}

function checkAuthSource(
  plugin: AuthPluginName,
  source: string | undefined,
): void {
  if (plugin === "BasicHTTPAuth" && !source?.includes(":")) {
    fail(
      "--auth-plugin BasicHTTPAuth: needs --auth-source user:password",
    );
  }
  if (plugin === "ExpectOrigin" && expectedOrigins(source).length === 0) {
    fail(
      '--auth-plugin ExpectOrigin: needs --auth-source "ORIGIN [ORIGIN...]" (e.g. https://vnc.example.com)',
    );
  }
}

function expectedOrigins(source: string | undefined): string[] {
  return (source ?? "").split(/\s+/).filter((origin) => origin !== "");
}

/** Splits at the last colon, as websockify does; brackets are dropped. */
function splitHostPort(
  text: string,
  what: "source" | "target",
  isHostOptional: boolean,
): { host: string; port: number } {
  const colon = text.lastIndexOf(":");
  if (colon < 0 && !isHostOptional) {
    fail(`${what}: invalid value "${text}" (expected target_addr:target_port)`);
  }
  const host = (colon < 0 ? "" : text.slice(0, colon)).replace(
    /^\[(.*)\]$/,
    "$1",
  );
  const portText = text.slice(colon + 1);
  const port = Number(portText);
  if (
    !/^\d{1,5}$/.test(portText) || port > 65535 ||
    (what === "target" && port === 0)
  ) {
    fail(
      `${what}: invalid port in "${text}" (expected ${
        what === "source"
          ? "[source_addr:]source_port"
          : "target_addr:target_port"
      } with a port from ${what === "source" ? 0 : 1} to 65535)`,
    );
  }
  if (what === "target" && host === "") {
    fail(
      `target: missing host in "${text}" (expected target_addr:target_port)`,
    );
  }
  return { host, port };
}

function formatHostPort(target: { host: string; port: number }): string {
  return target.host.includes(":")
    ? `[${target.host}]:${target.port}`
    : `${target.host}:${target.port}`;
}

function parseMode(text: string | undefined): number {
  if (text === undefined) return 0o600;
  if (!/^[0-7]{1,4}$/.test(text)) {
    fail(
      `--unix-listen-mode: invalid value "${text}" (expected an octal mode such as 600 or 0660)`,
    );
  }
  return parseInt(text, 8);
}

function parseSeconds(
  values: ReadonlyMap<string, string>,
  flag: string,
): number {
  const text = values.get(flag);
  if (text === undefined) return 0;
  if (!/^\d+$/.test(text)) {
    fail(`${flag}: invalid value "${text}" (expected whole seconds, e.g. 30)`);
  }
  return Number(text);
}

function dirname(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : path.slice(0, slash) || "/";
}

function fail(line: string): never {
  throw new ConfigError([line]);
}
