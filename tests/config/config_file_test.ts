import { assert, assertEquals } from "../_util/assert.ts";
import { applyConfigFile, applySetting } from "../../src/config/config_file.ts";
import { parseJsonc } from "../../src/config/jsonc.ts";
import {
  type CliSettingTargets,
  defaultCliSettings,
  SETTINGS,
} from "../../src/cli/cli_settings.ts";

const BASE_DIR = "/etc/wsgate";

/** Applies `file` onto fresh targets; returns them and the problems. */
function applyFile(
  file: unknown,
  baseDir = BASE_DIR,
): { targets: CliSettingTargets; problems: string[] } {
  const targets: CliSettingTargets = {
    options: {},
    route: {},
    cli: defaultCliSettings(),
    baseDir,
  };
  const problems: string[] = [];
  applyConfigFile(file, { settings: SETTINGS, targets, problems });
  return { targets, problems };
}

/** The `path: ` prefix of each problem line. */
function problemPaths(problems: readonly string[]): string[] {
  return problems.map((line) => {
    const colon = line.indexOf(": ");
    assert(colon > 0, `"${line}" has no "path: " prefix`);
    return line.slice(0, colon);
  });
}

/** A valid route to copy from. */
const ROUTE = { path: "/a", target: "127.0.0.1:9000" };

Deno.test("applyConfigFile converts every top-level key like its command-line twin", () => {
  const file = {
    listen: "0.0.0.0:8443",
    target: "127.0.0.1:9",
    framing: "raw",
    framingToBackend: "u16be",
    framingToBrowser: "lines",
    subprotocols: ["binary", "mqtt, v2"],
    compression: "on",
    compressionMemory: "8m",
    pingInterval: 5,
    pingTimeout: "1s",
    connectTimeout: "3s",
    handshakeTimeout: "2s",
    idleTimeout: "1m",
    maxLifetime: "1h",
    drainTimeout: 10,
    closeTimeout: "250ms",
    stallTimeout: "90s",
    buffer: "256k",
    memoryBudget: "512m",
    maxHead: 16384,
    maxSessions: 100,
    maxSessionsPerIp: "3",
    maxControlRate: 20,
    maxHandshakesPerIp: "4",
    allowOrigin: ["https://a.test", "https://*.b.test"],
    trustProxy: "10.0.0.0/8",
    ticketSecretFile: "/run/secret",
    ticketSecretEnv: "TICKET_SECRET",
    store: "redis://127.0.0.1:6379/2",
    storePasswordEnv: "STORE_PASSWORD",
    storePasswordFile: "/run/store-password",
    storePrefix: "fleet:",
    storeTimeout: "500ms",
    storeLease: "5s",
    cert: "/tls/cert.pem",
    key: "/tls/key.pem",
    static: "/srv/www",
    listDirectories: true,
    console: false,
    warmUp: false,
    adminListen: "127.0.0.1:9100",
    logFormat: "json",
    logLevel: "warn",
    logTraffic: "1k",
    workers: "auto",
    watchConfig: true,
  };
  assertEquals(
    Object.keys(file).sort(),
    SETTINGS.map((setting) => setting.key).sort(),
    "the file above must use every key of SETTINGS",
  );
  const { targets, problems } = applyFile(file);
  assertEquals(problems, []);
  assertEquals(targets.options, {
    hostname: "0.0.0.0",
    port: 8443,
    pingIntervalMs: 5000,
    pingTimeoutMs: 1000,
    connectTimeoutMs: 3000,
    handshakeTimeoutMs: 2000,
    idleTimeoutMs: 60000,
    maxLifetimeMs: 3600000,
    drainTimeoutMs: 10000,
    closeTimeoutMs: 250,
    stallTimeoutMs: 90000,
    bufferBytes: 262144,
    memoryBudgetBytes: 536870912,
    maxHeadBytes: 16384,
    maxSessions: 100,
    maxSessionsPerIp: 3,
    maxControlFramesPerSecond: 20,
    maxHandshakesPerIp: 4,
    allowOrigins: ["https://a.test", "https://*.b.test"],
    trustedProxies: ["10.0.0.0/8"],
    store: "redis://127.0.0.1:6379/2",
    storePasswordEnv: "STORE_PASSWORD",
    storePasswordFile: "/run/store-password",
    storePrefix: "fleet:",
    storeTimeoutMs: 500,
    storeLeaseMs: 5000,
    tls: { certFile: "/tls/cert.pem", keyFile: "/tls/key.pem" },
    staticDir: "/srv/www",
    listDirectories: true,
    console: false,
    warmUp: false,
    metricsOnGatewayPort: false,
    logTrafficBytes: 1024,
    compressionMemoryBytes: 8 * 1024 * 1024,
  });
  assertEquals(targets.route, {
    target: "127.0.0.1:9",
    framing: "raw",
    framingToBackend: "u16be",
    framingToBrowser: "lines",
    subprotocols: ["binary", "mqtt", "v2"],
    compression: "on",
  });
  assertEquals(targets.cli, {
    logFormat: "json",
    // --log-traffic turns debug on; the file order decides, as on the CLI.
    logLevel: "debug",
    workers: 0,
    adminListen: { hostname: "127.0.0.1", port: 9100 },
    watchConfig: true,
    ticketSecretFile: "/run/secret",
    ticketSecretEnv: "TICKET_SECRET",
  });
});

Deno.test("applyConfigFile converts every route key into RouteOptions", () => {
  const { targets, problems } = applyFile({
    routes: [{
      path: "/vnc",
      target: "10.0.0.5:5900",
      framing: "raw",
      framingToBackend: "u16be",
      framingToBrowser: "lines,crlf",
      subprotocols: ["binary", "base64"],
      buffer: "256k",
      maxMessage: "1m",
      heartbeat: { interval: "30s", hex: "00000000" },
      backendSilence: "2m",
      idleTimeout: 60,
      maxLifetime: "8h",
      ticket: true,
      singleUseTickets: true,
      proxyProtocol: "v2",
      tls: { ca: "/etc/ssl/ca.pem", serverName: "vnc.internal" },
      record: "/var/lib/wsgate/rec",
    }, {
      path: "/tokens",
      tokens: "/etc/wsgate/tokens",
      tls: true,
    }, {
      path: "/dyn",
      dynamic: {
        hosts: ["*.vnc.internal"],
        cidrs: ["10.1.0.0/16"],
        ports: ["5900-5999", 22],
      },
      ticket: false,
      proxyProtocol: "v1",
    }],
  });
  assertEquals(problems, []);
  assertEquals(targets.options.routes, [{
    path: "/vnc",
    target: "10.0.0.5:5900",
    framing: "raw",
    framingToBackend: "u16be",
    framingToBrowser: "lines,crlf",
    subprotocols: ["binary", "base64"],
    bufferBytes: 262144,
    maxMessageBytes: 1048576,
    backendHeartbeatMs: 30000,
    backendHeartbeatHex: "00000000",
    backendSilenceMs: 120000,
    idleTimeoutMs: 60000,
    maxLifetimeMs: 28800000,
    requireTicket: true,
    singleUseTickets: true,
    proxyProtocol: "v2",
    backendTls: { caFile: "/etc/ssl/ca.pem", serverName: "vnc.internal" },
    recordDir: "/var/lib/wsgate/rec",
  }, {
    path: "/tokens",
    tokens: "/etc/wsgate/tokens",
    backendTls: true,
  }, {
    path: "/dyn",
    dynamic: {
      hosts: ["*.vnc.internal"],
      cidrs: ["10.1.0.0/16"],
      ports: ["5900-5999", 22],
    },
    requireTicket: false,
    proxyProtocol: "v1",
  }]);
});

Deno.test("applyConfigFile reads a JSONC file with comments and trailing commas", () => {
  const text = `{
    // where browsers connect
    "listen": "127.0.0.1:0",
    /* two backends */
    "routes": [
      { "path": "/a", "target": "127.0.0.1:1", },
      { "path": "/b", "target": "127.0.0.1:2", "framing": "lines", },
    ],
  }`;
  const { targets, problems } = applyFile(parseJsonc(text));
  assertEquals(problems, []);
  assertEquals([targets.options.hostname, targets.options.port], [
    "127.0.0.1",
    0,
  ]);
  assertEquals(targets.options.routes, [
    { path: "/a", target: "127.0.0.1:1" },
    { path: "/b", target: "127.0.0.1:2", framing: "lines" },
  ]);
});

Deno.test("applyConfigFile reports each bad value with its path", async (t) => {
  // [case name, file, the path every problem line must start with]
  const cases: [string, unknown, string][] = [
    ["bad listen", { listen: "nope" }, "listen"],
    ["listen as a number", { listen: 8080 }, "listen"],
    ["bad top-level framing", { framing: "u7" }, "framing"],
    ["bad duration", { pingInterval: "soon" }, "pingInterval"],
    ["negative duration", { idleTimeout: -1 }, "idleTimeout"],
    ["bad size", { buffer: "1g" }, "buffer"],
    ["fractional count", { maxSessions: 1.5 }, "maxSessions"],
    ["bad choice", { logFormat: "xml" }, "logFormat"],
    [
      "list with a number",
      { allowOrigin: ["https://a.test", 1] },
      "allowOrigin",
    ],
    ["boolean as a string", { console: "no" }, "console"],
    ["zero workers", { workers: 0 }, "workers"],
    ["routes not a list", { routes: { path: "/" } }, "routes"],
    ["route not an object", { routes: [ROUTE, ROUTE, "/c"] }, "routes[2]"],
    ["route without path", {
      routes: [ROUTE, ROUTE, { target: "127.0.0.1:1" }],
    }, "routes[2].path"],
    ["empty route target", {
      routes: [ROUTE, ROUTE, { path: "/c", target: "" }],
    }, "routes[2].target"],
    [
      "route framing",
      { routes: [ROUTE, ROUTE, { path: "/c", framing: "u7" }] },
      "routes[2].framing",
    ],
    ["route framingToBackend", {
      routes: [ROUTE, ROUTE, { path: "/c", framingToBackend: "json" }],
    }, "routes[2].framingToBackend"],
    ["route framingToBrowser", {
      routes: [ROUTE, ROUTE, { path: "/c", framingToBrowser: 4 }],
    }, "routes[2].framingToBrowser"],
    ["route subprotocols", {
      routes: [ROUTE, ROUTE, { path: "/c", subprotocols: "binary" }],
    }, "routes[2].subprotocols"],
    [
      "route buffer",
      { routes: [ROUTE, ROUTE, { path: "/c", buffer: "big" }] },
      "routes[2].buffer",
    ],
    ["route maxMessage", {
      routes: [ROUTE, ROUTE, { path: "/c", maxMessage: -1 }],
    }, "routes[2].maxMessage"],
    ["route heartbeat not an object", {
      routes: [ROUTE, ROUTE, { path: "/c", heartbeat: "30s" }],
    }, "routes[2].heartbeat"],
    ["route heartbeat interval", {
      routes: [ROUTE, ROUTE, { path: "/c", heartbeat: { interval: "x" } }],
    }, "routes[2].heartbeat.interval"],
    ["route heartbeat hex", {
      routes: [ROUTE, ROUTE, {
        path: "/c",
        heartbeat: { interval: "1s", hex: 0 },
      }],
    }, "routes[2].heartbeat.hex"],
    ["route backendSilence", {
      routes: [ROUTE, ROUTE, { path: "/c", backendSilence: "later" }],
    }, "routes[2].backendSilence"],
    ["route idleTimeout", {
      routes: [ROUTE, ROUTE, { path: "/c", idleTimeout: "later" }],
    }, "routes[2].idleTimeout"],
    ["route maxLifetime", {
      routes: [ROUTE, ROUTE, { path: "/c", maxLifetime: true }],
    }, "routes[2].maxLifetime"],
    [
      "route tokens",
      { routes: [ROUTE, ROUTE, { path: "/c", tokens: 1 }] },
      "routes[2].tokens",
    ],
    ["route dynamic", {
      routes: [ROUTE, ROUTE, { path: "/c", dynamic: ["10.0.0.0/8"] }],
    }, "routes[2].dynamic"],
    [
      "route ticket",
      { routes: [ROUTE, ROUTE, { path: "/c", ticket: "yes" }] },
      "routes[2].ticket",
    ],
    ["route singleUseTickets", {
      routes: [ROUTE, ROUTE, { path: "/c", singleUseTickets: 1 }],
    }, "routes[2].singleUseTickets"],
    ["route proxyProtocol", {
      routes: [ROUTE, ROUTE, { path: "/c", proxyProtocol: "v3" }],
    }, "routes[2].proxyProtocol"],
    [
      "route tls",
      { routes: [ROUTE, ROUTE, { path: "/c", tls: "on" }] },
      "routes[2].tls",
    ],
    [
      "route record",
      { routes: [ROUTE, ROUTE, { path: "/c", record: false }] },
      "routes[2].record",
    ],
  ];
  for (const [name, file, path] of cases) {
    await t.step(name, () => {
      const { problems } = applyFile(file);
      assert(problems.length > 0, "no problem reported");
      assertEquals(
        problemPaths(problems),
        problems.map(() => path),
        problems.join("\n"),
      );
    });
  }
});

Deno.test("applyConfigFile reports unknown keys with their path and the known ones", async (t) => {
  await t.step("top level", () => {
    const { problems } = applyFile({ lisen: "127.0.0.1:0", routes: [ROUTE] });
    assertEquals(problemPaths(problems), ["lisen"]);
    assert(problems[0]!.includes("listen"), problems[0]);
    assert(problems[0]!.includes("routes"), problems[0]);
  });
  await t.step("in a route", () => {
    const { problems, targets } = applyFile({
      routes: [ROUTE, { ...ROUTE, path: "/b", framming: "raw" }],
    });
    assertEquals(problemPaths(problems), ["routes[1].framming"]);
    assert(problems[0]!.includes("framing"), problems[0]);
    assertEquals(targets.options.routes, [ROUTE]);
  });
  await t.step("flag spellings are not keys", () => {
    const { problems } = applyFile({ "ping-interval": "5s", "--listen": "x" });
    assertEquals(problemPaths(problems), ["ping-interval", "--listen"]);
  });
});

// Regression: the objects inside a route were read field by field and never
// checked, so a misspelt or mistyped nested key was silently ignored (or,
// for `dynamic.hosts: "db.internal"`, reported later as host pattern ".").
Deno.test("applyConfigFile checks the keys and types inside heartbeat, dynamic and tls", async (t) => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["unknown heartbeat key", {
      heartbeat: { interval: "1s", hexx: "00" },
    }, "routes[0].heartbeat.hexx"],
    ["unknown dynamic key", {
      dynamic: { hosts: ["db.internal"], port: [22] },
    }, "routes[0].dynamic.port"],
    ["dynamic hosts not a list", {
      dynamic: { hosts: "db.internal" },
    }, "routes[0].dynamic.hosts"],
    ["dynamic ports not a list", {
      dynamic: { ports: "22" },
    }, "routes[0].dynamic.ports"],
    [
      "unknown tls key",
      { tls: { ca: "/ca.pem", servername: "x" } },
      "routes[0].tls.servername",
    ],
    ["tls ca not a string", { tls: { ca: 1 } }, "routes[0].tls.ca"],
  ];
  for (const [name, extra, path] of cases) {
    await t.step(name, () => {
      const { problems } = applyFile({ routes: [{ path: "/a", ...extra }] });
      assertEquals(problemPaths(problems), [path], problems.join("\n"));
    });
  }
});

Deno.test("applyConfigFile refuses a file that is not a JSON object", async (t) => {
  for (const file of [[], null, "listen", 1]) {
    await t.step(JSON.stringify(file), () => {
      const { problems } = applyFile(file);
      assertEquals(problems.length, 1, problems.join("\n"));
      assert(problems[0]!.startsWith("config: "), problems[0]);
    });
  }
});

Deno.test("applyConfigFile reports every problem at once, in file order, and adds no bad route", () => {
  const { targets, problems } = applyFile({
    listen: "nope",
    bogus: true,
    pingInterval: "soon",
    routes: [
      { path: "/ok", target: "127.0.0.1:1" },
      { path: "/x", framing: "u7", buffer: "big", extra: 1 },
      "not a route",
      { target: "127.0.0.1:3", record: 5 },
      { path: "/ok2", target: "127.0.0.1:4" },
    ],
  });
  assertEquals(
    problemPaths(problems).sort(),
    [
      "bogus",
      "listen",
      "pingInterval",
      "routes[1].buffer",
      "routes[1].extra",
      "routes[1].framing",
      "routes[2]",
      "routes[3].path",
      "routes[3].record",
    ],
    problems.join("\n"),
  );
  // Top-level keys come first, then the routes in index order.
  const order = problemPaths(problems).map((path) =>
    path.startsWith("routes[") ? Number(path.slice(7, path.indexOf("]"))) : -1
  );
  assertEquals(order, [...order].sort((a, b) => a - b));
  // A route with a problem is left out, never half-applied.
  assertEquals(targets.options.routes, [
    { path: "/ok", target: "127.0.0.1:1" },
    { path: "/ok2", target: "127.0.0.1:4" },
  ]);
});

Deno.test("applyConfigFile resolves relative paths against the config file directory", async (t) => {
  const file = {
    ticketSecretFile: "secret.txt",
    cert: "tls/cert.pem",
    key: "./tls/key.pem",
    static: "www",
    routes: [
      {
        path: "/a",
        target: "127.0.0.1:1",
        tls: { ca: "ca.pem" },
        record: "rec",
      },
      { path: "/b", tokens: "tokens.cfg" },
    ],
  };
  await t.step("relative", () => {
    const { targets, problems } = applyFile(file, "/etc/wsgate");
    assertEquals(problems, []);
    assertEquals(targets.cli.ticketSecretFile, "/etc/wsgate/secret.txt");
    assertEquals(targets.options.tls, {
      certFile: "/etc/wsgate/tls/cert.pem",
      keyFile: "/etc/wsgate/./tls/key.pem",
    });
    assertEquals(targets.options.staticDir, "/etc/wsgate/www");
    const [a, b] = targets.options.routes!;
    assertEquals(a?.backendTls, { caFile: "/etc/wsgate/ca.pem" });
    assertEquals(a?.recordDir, "/etc/wsgate/rec");
    assertEquals(b?.tokens, "/etc/wsgate/tokens.cfg");
  });
  await t.step("relative to a relative directory", () => {
    const { targets } = applyFile(file, "conf");
    assertEquals(targets.options.staticDir, "conf/www");
    assertEquals(targets.options.routes?.[1]?.tokens, "conf/tokens.cfg");
  });
  await t.step("absolute paths are kept", () => {
    const { targets } = applyFile({
      static: "/srv/www",
      routes: [{ path: "/b", tokens: "/var/tokens", record: "/var/rec" }],
    }, "/etc/wsgate");
    assertEquals(targets.options.staticDir, "/srv/www");
    assertEquals(targets.options.routes, [{
      path: "/b",
      tokens: "/var/tokens",
      recordDir: "/var/rec",
    }]);
  });
});

Deno.test("applyConfigFile appends its routes to routes already in the targets", () => {
  const targets: CliSettingTargets = {
    options: { routes: [{ path: "/first", target: "127.0.0.1:1" }] },
    route: {},
    cli: defaultCliSettings(),
    baseDir: BASE_DIR,
  };
  const problems: string[] = [];
  applyConfigFile({ routes: [ROUTE] }, {
    settings: SETTINGS,
    targets,
    problems,
  });
  assertEquals(problems, []);
  assertEquals(targets.options.routes, [
    { path: "/first", target: "127.0.0.1:1" },
    ROUTE,
  ]);
});

Deno.test("applySetting reports a bad value at the given path with the value as JSON", () => {
  const setting = SETTINGS.find((item) => item.key === "pingInterval")!;
  const targets: CliSettingTargets = {
    options: {},
    route: {},
    cli: defaultCliSettings(),
    baseDir: BASE_DIR,
  };
  const problems: string[] = [];
  applySetting(setting, "soon", "pingInterval", targets, problems);
  applySetting(setting, ["5s"], "pingInterval", targets, problems);
  applySetting(setting, "5s", "pingInterval", targets, problems);
  assertEquals(problems.length, 2, problems.join("\n"));
  assert(problems[0]!.startsWith('pingInterval: invalid value "soon" ('));
  assert(problems[1]!.startsWith('pingInterval: invalid value ["5s"] ('));
  assert(problems.every((line) => line.includes("expected a duration")));
  assertEquals(targets.options.pingIntervalMs, 5000);
});

Deno.test("applyConfigFile reads the token keys: redis tokens, token APIs, hostToken", () => {
  const { targets, problems } = applyFile({
    routes: [
      {
        path: "/r",
        tokens: "redis",
        tokenPrefix: "vnc:",
        tokenCacheTtl: "5s",
        tokenStore: "redis://127.0.0.1:6379/1",
        hostToken: true,
      },
      { path: "/j", tokenApi: { jwtKeyFile: "jwt.key" } },
      { path: "/h", tokenApi: { jsonUrl: "http://127.0.0.1/t/%s" } },
      { path: "/f", tokens: "tokens.txt" },
    ],
  });
  assertEquals(problems, []);
  assertEquals(targets.options.routes, [
    {
      path: "/r",
      tokens: "redis",
      tokenPrefix: "vnc:",
      tokenStore: "redis://127.0.0.1:6379/1",
      tokenCacheTtlMs: 5000,
      hostToken: true,
    },
    { path: "/j", tokenApi: { jwtKeyFile: "/etc/wsgate/jwt.key" } },
    { path: "/h", tokenApi: { jsonUrl: "http://127.0.0.1/t/%s" } },
    { path: "/f", tokens: "/etc/wsgate/tokens.txt" },
  ]);
  const bad = applyFile({
    routes: [
      { path: "/a", tokenApi: { jwtKeyFile: "k", jsonUrl: "u" } },
      { path: "/b", tokenApi: "k" },
      { path: "/c", tokens: "redis", hostToken: "yes" },
    ],
  });
  assertEquals(problemPaths(bad.problems), [
    "routes[0].tokenApi",
    "routes[1].tokenApi",
    "routes[2].hostToken",
  ]);
});
