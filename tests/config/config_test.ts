import {
  assert,
  assertEquals,
  assertStrictEquals,
  assertThrows,
} from "../_util/assert.ts";
import {
  type GatewayOptions,
  resolveOptions,
  type RouteOptions,
} from "../../src/config/config.ts";
import { ConfigError } from "../../src/errors.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "../../src/framing/spec.ts";

const TARGET = "127.0.0.1:9000";
const SECRET = "0123456789abcdef0123456789abcdef";

/** The problems `resolveOptions(options)` reports (fails if it accepts). */
function problemsOf(options: unknown): readonly string[] {
  try {
    resolveOptions(options as GatewayOptions);
  } catch (error) {
    assert(error instanceof ConfigError, String(error));
    return error.problems;
  }
  throw new Error("resolveOptions accepted the options");
}

/** The problems of a gateway with one route `{ path: "/", target, ...route }`. */
function routeProblems(route: Record<string, unknown>): readonly string[] {
  return problemsOf({ routes: [{ path: "/", target: TARGET, ...route }] });
}

function onlyRoute(route: RouteOptions, options: GatewayOptions = {}) {
  const config = resolveOptions({ ...options, routes: [route] });
  const resolved = config.routes.get(route.path);
  assert(resolved !== undefined);
  return resolved;
}

Deno.test("resolveOptions applies every gateway default to empty options", () => {
  const config = resolveOptions({});
  assertEquals({ ...config, routes: [...config.routes] }, {
    hostname: "127.0.0.1",
    port: 8080,
    routes: [],
    pingIntervalMs: 20000,
    pingTimeoutMs: 20000,
    connectTimeoutMs: 10000,
    handshakeTimeoutMs: 10000,
    maxHeadBytes: 8192,
    closeTimeoutMs: 5000,
    stallTimeoutMs: 60000,
    drainTimeoutMs: 10000,
    demoPage: false,
    allowOrigins: undefined,
    ticketSecret: undefined,
    maxSessions: 10000,
    maxSessionsPerIp: 0,
    maxControlFramesPerSecond: 100,
    memoryBudgetBytes: undefined,
    maxHandshakesPerIp: 16,
    trustedProxies: [],
    tls: undefined,
    staticDir: undefined,
    listDirectories: false,
    console: true,
    metricsOnGatewayPort: true,
    logTrafficBytes: 0,
    reusePort: false,
    warmUp: false,
    compressionMemoryBytes: 64 * 1024 * 1024,
    unixSocket: undefined,
    authCheck: undefined,
    isWebAuth: false,
    store: undefined,
  });
});

Deno.test("resolveOptions keeps the store settings and reports every bad one", () => {
  const config = resolveOptions({
    store: "redis://127.0.0.1:6380/1",
    storePasswordEnv: "STORE_PASSWORD",
    storePrefix: "fleet:",
    storeTimeoutMs: 500,
  });
  assertEquals(config.store, {
    url: "redis://127.0.0.1:6380/1",
    passwordEnv: "STORE_PASSWORD",
    prefix: "fleet:",
    timeoutMs: 500,
  });
  assertThrows(
    () =>
      resolveOptions({
        store: "http://127.0.0.1",
        storePrefix: "a b",
        storeTimeoutMs: 0,
      }),
    (error) => error instanceof ConfigError && error.problems.length === 3,
  );
  assertThrows(
    () => resolveOptions({ storePrefix: "x:" }),
    /storePrefix: needs a store \(store\)/,
  );
});

Deno.test("resolveOptions applies every route default to a route with a target", () => {
  const route = onlyRoute({ path: "/vnc", target: TARGET });
  const spec = {
    kind: "length",
    width: 4,
    littleEndian: false,
    offset: 0,
    adjust: 0,
    whole: false,
    maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
    text: false,
  };
  assertEquals({ ...route }, {
    path: "/vnc",
    targetText: TARGET,
    target: { transport: "tcp", hostname: "127.0.0.1", port: 9000 },
    toBackend: spec,
    toBrowser: spec,
    maxMessageBytes: DEFAULT_MAX_FRAME_BYTES,
    subprotocols: [],
    bufferBytes: 1048576,
    backendHeartbeatMs: 0,
    backendHeartbeatMessage: new Uint8Array(0),
    backendSilenceMs: 0,
    idleTimeoutMs: 0,
    maxLifetimeMs: 0,
    tokens: undefined,
    tokenPrefix: "",
    tokenCacheTtlMs: 0,
    tokenStore: undefined,
    tokenApi: undefined,
    hostToken: false,
    dynamic: undefined,
    requireTicket: false,
    singleUseTickets: false,
    proxyProtocol: undefined,
    backendTls: undefined,
    recordDir: undefined,
    compression: undefined,
  });
});

Deno.test("resolveOptions turns compression on with defaults, keeps its settings and rejects a window of 8", () => {
  const config = resolveOptions({
    routes: [
      { path: "/a", target: TARGET, compression: "on" },
      {
        path: "/b",
        target: TARGET,
        compression: { contextTakeover: false, maxWindowBits: 12 },
      },
      { path: "/c", target: TARGET, compression: "off" },
    ],
  });
  assertEquals(config.routes.get("/a")?.compression, {});
  assertEquals(config.routes.get("/b")?.compression, {
    contextTakeover: false,
    maxWindowBits: 12,
  });
  assertEquals(config.routes.get("/c")?.compression, undefined);
  assertThrows(
    () =>
      resolveOptions({
        routes: [{
          path: "/a",
          target: TARGET,
          compression: { maxWindowBits: 8 },
        }],
      }),
    ConfigError,
    "routes[0].compression.maxWindowBits",
  );
});

Deno.test("resolveOptions defaults compressionMemoryBytes to 64 MiB and refuses a negative or fractional budget", () => {
  assertEquals(resolveOptions({}).compressionMemoryBytes, 64 * 1024 * 1024);
  assertEquals(
    resolveOptions({ compressionMemoryBytes: 0 }).compressionMemoryBytes,
    0,
  );
  for (const compressionMemoryBytes of [-1, 1.5, Number.NaN]) {
    assertThrows(
      () => resolveOptions({ compressionMemoryBytes }),
      ConfigError,
      "compressionMemoryBytes: must be an integer >= 0",
    );
  }
});

Deno.test("resolveOptions gives routes the gateway's bufferBytes, idleTimeoutMs and maxLifetimeMs unless they set their own", () => {
  const config = resolveOptions({
    bufferBytes: 4096,
    idleTimeoutMs: 7,
    maxLifetimeMs: 9,
    routes: [
      { path: "/a", target: TARGET },
      {
        path: "/b",
        target: TARGET,
        bufferBytes: 10,
        idleTimeoutMs: 0,
        maxLifetimeMs: 3,
      },
    ],
  });
  const a = config.routes.get("/a")!;
  const b = config.routes.get("/b")!;
  assertEquals([a.bufferBytes, a.idleTimeoutMs, a.maxLifetimeMs], [4096, 7, 9]);
  assertEquals([b.bufferBytes, b.idleTimeoutMs, b.maxLifetimeMs], [10, 0, 3]);
});

Deno.test("resolveOptions keeps routes by path in configuration order", () => {
  const config = resolveOptions({
    routes: [
      { path: "/z", target: TARGET },
      { path: "/a", target: "unix:/run/a.sock" },
      { path: "/m", target: "[::1]:1" },
    ],
  });
  assertEquals([...config.routes.keys()], ["/z", "/a", "/m"]);
  assertEquals(config.routes.get("/a")!.target, {
    transport: "unix",
    path: "/run/a.sock",
  });
  assertEquals(config.routes.get("/m")!.target, {
    transport: "tcp",
    hostname: "::1",
    port: 1,
  });
});

Deno.test("resolveOptions reports every gateway-level validation problem with its path", async (t) => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["allowOrigins not a list", {
      allowOrigins: "https://a.example",
    }, 'allowOrigins: must be a list of origins or "*"'],
    ["allowOrigins with a number", {
      allowOrigins: [1],
    }, 'allowOrigins: must be a list of origins or "*"'],
    ["maxSessions 0", {
      maxSessions: 0,
    }, "maxSessions: must be an integer >= 1: current value is 0"],
    ["maxSessions 1.5", {
      maxSessions: 1.5,
    }, "maxSessions: must be an integer >= 1: current value is 1.5"],
    ["maxSessionsPerIp -1", {
      maxSessionsPerIp: -1,
    }, "maxSessionsPerIp: must be an integer >= 0: current value is -1"],
    ["logTrafficBytes -1", {
      logTrafficBytes: -1,
    }, "logTrafficBytes: must be a number >= 0: current value is -1"],
    ["trustedProxies not a list", {
      trustedProxies: "10.0.0.0/8",
    }, "trustedProxies: must be a list of CIDR ranges"],
    ["tls without keyFile", {
      tls: { certFile: "c.pem" },
    }, "tls: needs certFile and keyFile"],
    ["ticketSecret of 31 characters", {
      ticketSecret: SECRET.slice(1),
    }, "ticketSecret: must be at least 32 bytes"],
    ["ticketSecret of 31 bytes", {
      ticketSecret: new Uint8Array(31),
    }, "ticketSecret: must be at least 32 bytes"],
    ["port -1", {
      port: -1,
    }, "port: must be an integer from 0 to 65535: current value is -1"],
    ["port 65536", {
      port: 65536,
    }, "port: must be an integer from 0 to 65535: current value is 65536"],
    ["port 80.5", {
      port: 80.5,
    }, "port: must be an integer from 0 to 65535: current value is 80.5"],
    ["maxHeadBytes 0", {
      maxHeadBytes: 0,
    }, "maxHeadBytes: must be a whole number >= 256: current value is 0"],
    ["bufferBytes -5", {
      bufferBytes: -5,
    }, "bufferBytes: must be a number > 0: current value is -5"],
    ["bufferBytes as text", {
      bufferBytes: "5",
    }, 'bufferBytes: must be a number > 0: current value is "5"'],
  ];
  for (
    const name of [
      "pingIntervalMs",
      "pingTimeoutMs",
      "closeTimeoutMs",
      "stallTimeoutMs",
      "drainTimeoutMs",
      "idleTimeoutMs",
      "maxLifetimeMs",
    ]
  ) {
    cases.push([
      `${name} -1`,
      { [name]: -1 },
      `${name}: must be a number >= 0: current value is -1`,
    ]);
  }
  for (const name of ["connectTimeoutMs", "handshakeTimeoutMs"]) {
    cases.push([
      `${name} 0`,
      { [name]: 0 },
      `${name}: must be a number > 0: current value is 0`,
    ]);
  }
  cases.push([
    "pingTimeoutMs 0 while pings are on",
    { pingIntervalMs: 1000, pingTimeoutMs: 0 },
    "pingTimeoutMs: must be > 0 while pings are on (pingIntervalMs > 0)",
  ]);
  for (const [name, options, problem] of cases) {
    await t.step(name, () => {
      assertEquals(problemsOf(options), [problem]);
    });
  }
});

Deno.test("resolveOptions accepts the edge values of gateway options", async (t) => {
  const cases: [string, GatewayOptions][] = [
    ["port 0", { port: 0 }],
    ["port 65535", { port: 65535 }],
    ["maxSessions 1", { maxSessions: 1 }],
    ["connect and handshake timeouts of 1 ms", {
      connectTimeoutMs: 1,
      handshakeTimeoutMs: 1,
    }],
    ["every duration that can be off at 0", {
      pingIntervalMs: 0,
      pingTimeoutMs: 0,
      closeTimeoutMs: 0,
      drainTimeoutMs: 0,
      idleTimeoutMs: 0,
      maxLifetimeMs: 0,
    }],
    ["ticketSecret of exactly 32 bytes", { ticketSecret: SECRET }],
    ["ticketSecret of 16 two-byte characters", {
      ticketSecret: "\u00e9".repeat(16),
    }],
    ['allowOrigins "*"', { allowOrigins: "*" }],
    ["allowOrigins []", { allowOrigins: [] }],
  ];
  for (const [name, options] of cases) {
    await t.step(name, () => {
      resolveOptions(options);
    });
  }
});

Deno.test("resolveOptions reports every route-level validation problem with its path", async (t) => {
  const cases: [string, Record<string, unknown>, string][] = [
    [
      "path without a slash",
      { path: "vnc" },
      'routes[0].path: must start with "/": current value is "vnc"',
    ],
    [
      "path missing",
      { path: undefined },
      'routes[0].path: must start with "/": current value is undefined',
    ],
    [
      "target malformed",
      { target: "nope" },
      'routes[0].target: Cannot parse target "nope": expected HOST:PORT',
    ],
    [
      "target missing without tokens or dynamic",
      { target: undefined },
      "routes[0].target: Cannot parse target as it must be a string",
    ],
    [
      "target port 0",
      { target: "h:0" },
      'routes[0].target: Cannot parse target "h:0": port must be from 1 to 65535',
    ],
    [
      "tokens and tokenApi together",
      { target: undefined, tokens: "/t", tokenApi: { jsonUrl: "http://h/%s" } },
      "routes[0]: tokens and tokenApi cannot be combined",
    ],
    [
      "tokens not a string",
      { target: undefined, tokens: 5 },
      'routes[0].tokens: must be a file or directory path, or "redis"',
    ],
    [
      "tokens from redis without a store",
      { target: undefined, tokens: "redis" },
      'routes[0].tokens: "redis" needs a store (store or tokenStore)',
    ],
    [
      "tokenPrefix without redis tokens",
      { target: undefined, tokens: "/t", tokenPrefix: "vnc:" },
      'routes[0].tokenPrefix: needs tokens: "redis"',
    ],
    [
      "tokenCacheTtlMs negative",
      {
        target: undefined,
        tokens: "redis",
        tokenStore: "redis://127.0.0.1",
        tokenCacheTtlMs: -1,
      },
      "routes[0].tokenCacheTtlMs: must be a number >= 0: current value is -1",
    ],
    [
      "tokenApi without %s",
      { target: undefined, tokenApi: { jsonUrl: "http://h/" } },
      'routes[0].tokenApi: must be { "jwtKeyFile": FILE } or { "jsonUrl": URL with %s }',
    ],
    [
      "hostToken without tokens",
      { hostToken: true },
      "routes[0].hostToken: needs tokens or tokenApi",
    ],
    [
      "dynamic with a bad CIDR",
      { target: undefined, dynamic: { cidrs: ["bad"] } },
      'routes[0].dynamic: Cannot compile backend policy as CIDR "bad" is invalid: expected an address or address/prefix',
    ],
    [
      "proxyProtocol v3",
      { proxyProtocol: "v3" },
      'routes[0].proxyProtocol: must be "v1" or "v2": current value is "v3"',
    ],
    [
      "bufferBytes 0",
      { bufferBytes: 0 },
      "routes[0].bufferBytes: must be a number > 0: current value is 0",
    ],
    [
      "backendHeartbeatMs -1",
      { backendHeartbeatMs: -1 },
      "routes[0].backendHeartbeatMs: must be a number >= 0: current value is -1",
    ],
    [
      "backendSilenceMs -1",
      { backendSilenceMs: -1 },
      "routes[0].backendSilenceMs: must be a number >= 0: current value is -1",
    ],
    [
      "idleTimeoutMs -1",
      { idleTimeoutMs: -1 },
      "routes[0].idleTimeoutMs: must be a number >= 0: current value is -1",
    ],
    [
      "maxLifetimeMs -1",
      { maxLifetimeMs: -1 },
      "routes[0].maxLifetimeMs: must be a number >= 0: current value is -1",
    ],
    [
      "maxMessageBytes 0",
      { maxMessageBytes: 0 },
      "routes[0].maxMessageBytes: must be a number > 0: current value is 0",
    ],
    [
      "backendHeartbeatHex of odd length",
      { backendHeartbeatHex: "abc" },
      'routes[0].backendHeartbeatHex: must be an even number of hex digits: current value is "abc"',
    ],
    [
      "backendHeartbeatHex not hex",
      { backendHeartbeatHex: "zz" },
      'routes[0].backendHeartbeatHex: must be an even number of hex digits: current value is "zz"',
    ],
    [
      "subprotocols with an empty entry",
      { subprotocols: ["a", " "] },
      "routes[0].subprotocols: must be a list of non-empty strings",
    ],
    [
      "subprotocols not a list",
      { subprotocols: "a" },
      "routes[0].subprotocols: must be a list of non-empty strings",
    ],
    [
      "requireTicket without ticketSecret",
      { requireTicket: true },
      "routes[0].requireTicket: needs a ticket secret (ticketSecret)",
    ],
  ];
  for (const [name, route, problem] of cases) {
    await t.step(name, () => {
      assertEquals(routeProblems(route), [problem]);
    });
  }
});

Deno.test("resolveOptions names framing problems at the option that holds the bad spec", async (t) => {
  await t.step("framingToBackend", () => {
    const [problem, ...rest] = routeProblems({ framingToBackend: "u7" });
    assertEquals(rest, []);
    assert(problem!.startsWith("routes[0].framingToBackend: "), problem);
  });
  await t.step("framingToBrowser", () => {
    const [problem, ...rest] = routeProblems({ framingToBrowser: "u7" });
    assertEquals(rest, []);
    assert(problem!.startsWith("routes[0].framingToBrowser: "), problem);
  });
  await t.step("framing inherited by the browser direction only", () => {
    const problems = routeProblems({ framing: "u7", framingToBackend: "u8" });
    assertStrictEquals(problems.length, 1);
    assert(problems[0]!.startsWith("routes[0].framing: "), problems[0]);
  });
  await t.step("framing inherited by both directions", () => {
    const problems = routeProblems({ framing: "u7" });
    assert(problems.length >= 1);
    for (const problem of problems) {
      assert(problem.startsWith("routes[0].framing: "), problem);
    }
  });
});

Deno.test("resolveOptions reports a duplicate route path at the later route", () => {
  assertEquals(
    problemsOf({
      routes: [
        { path: "/a", target: TARGET },
        { path: "/b", target: TARGET },
        { path: "/a", target: "127.0.0.1:1" },
      ],
    }),
    ['routes[2].path: duplicate path "/a"'],
  );
});

Deno.test("resolveOptions lists every problem of every route and the gateway at once", () => {
  assertEquals(
    problemsOf({
      port: -1,
      routes: [
        { path: "/a", target: "nope" },
        { path: "b", target: TARGET, bufferBytes: 0 },
      ],
    }),
    [
      "port: must be an integer from 0 to 65535: current value is -1",
      'routes[0].target: Cannot parse target "nope": expected HOST:PORT',
      'routes[1].path: must start with "/": current value is "b"',
      "routes[1].bufferBytes: must be a number > 0: current value is 0",
    ],
  );
});

Deno.test("resolveOptions takes tokens or dynamic routes without a target", async (t) => {
  await t.step("tokens", () => {
    const route = onlyRoute({ path: "/t", tokens: "/etc/wsgate/tokens" });
    assertStrictEquals(route.target, undefined);
    assertStrictEquals(route.tokens, "/etc/wsgate/tokens");
    assertStrictEquals(route.targetText, "tokens:/etc/wsgate/tokens");
  });
  await t.step("dynamic", () => {
    const dynamic = { hosts: ["*.vnc.internal"], ports: ["5900-5999"] };
    const route = onlyRoute({ path: "/d", dynamic });
    assertStrictEquals(route.target, undefined);
    assertEquals(route.dynamic, dynamic);
    assertStrictEquals(route.targetText, "dynamic");
  });
  await t.step("tokens with a fixed target too", () => {
    const route = onlyRoute({ path: "/t", tokens: "/t", target: TARGET });
    assertEquals(route.target, {
      transport: "tcp",
      hostname: "127.0.0.1",
      port: 9000,
    });
    assertStrictEquals(route.targetText, TARGET);
  });
  await t.step("tokens with a malformed target", () => {
    assertEquals(
      problemsOf({ routes: [{ path: "/t", tokens: "/t", target: "x" }] }),
      ['routes[0].target: Cannot parse target "x": expected HOST:PORT'],
    );
  });
});

Deno.test("resolveOptions refuses a heartbeat that the route's framing cannot carry", async (t) => {
  await t.step("256 bytes through u8", () => {
    assertEquals(
      routeProblems({
        framing: "u8",
        backendHeartbeatMs: 1000,
        backendHeartbeatHex: "00".repeat(256),
      }),
      [
        "routes[0].backendHeartbeatHex: the heartbeat message cannot be framed: Cannot encode message as its length must be <= 255: current value is 256",
      ],
    );
  });
  await t.step("a newline through lines", () => {
    const problems = routeProblems({
      framing: "lines",
      backendHeartbeatMs: 1000,
      backendHeartbeatHex: "0a",
    });
    assertStrictEquals(problems.length, 1);
    assert(
      problems[0]!.startsWith(
        "routes[0].backendHeartbeatHex: the heartbeat message cannot be framed: ",
      ),
      problems[0],
    );
  });
  await t.step("only the backend direction's framing counts", () => {
    const route = onlyRoute({
      path: "/",
      target: TARGET,
      framingToBackend: "u16be",
      framingToBrowser: "u8",
      backendHeartbeatMs: 1000,
      backendHeartbeatHex: "00".repeat(256),
    });
    assertStrictEquals(route.backendHeartbeatMessage.length, 256);
  });
  await t.step("not checked while the heartbeat is off", () => {
    const route = onlyRoute({
      path: "/",
      target: TARGET,
      framing: "u8",
      backendHeartbeatHex: "00".repeat(256),
    });
    assertStrictEquals(route.backendHeartbeatMs, 0);
  });
});

Deno.test("resolveOptions decodes backendHeartbeatHex ignoring whitespace and case", () => {
  const route = onlyRoute({
    path: "/",
    target: TARGET,
    backendHeartbeatMs: 5,
    backendHeartbeatHex: " C0 ff\nEE 00 ",
  });
  assertEquals(
    route.backendHeartbeatMessage,
    Uint8Array.of(0xc0, 0xff, 0xee, 0),
  );
});

Deno.test("resolveOptions lets maxMessageBytes lower the framing's max but never raise it", async (t) => {
  await t.step("lower than the default max", () => {
    assertStrictEquals(
      onlyRoute({ path: "/", target: TARGET, maxMessageBytes: 1000 })
        .maxMessageBytes,
      1000,
    );
  });
  await t.step("above the u16be length field's reach", () => {
    assertStrictEquals(
      onlyRoute({
        path: "/",
        target: TARGET,
        framing: "u16be",
        maxMessageBytes: 100000,
      }).maxMessageBytes,
      65535,
    );
  });
  await t.step("above max=", () => {
    assertStrictEquals(
      onlyRoute({
        path: "/",
        target: TARGET,
        framing: "u32be,max=4k",
        maxMessageBytes: 8192,
      }).maxMessageBytes,
      4096,
    );
  });
  await t.step(
    "the browser-bound framing does not limit browser messages",
    () => {
      assertStrictEquals(
        onlyRoute({
          path: "/",
          target: TARGET,
          framingToBackend: "u32be",
          framingToBrowser: "u8",
        }).maxMessageBytes,
        DEFAULT_MAX_FRAME_BYTES,
      );
    },
  );
});

Deno.test("resolveOptions resolves backendTls true to {} and false to undefined", () => {
  assertEquals(
    onlyRoute({ path: "/", target: TARGET, backendTls: true }).backendTls,
    {},
  );
  assertStrictEquals(
    onlyRoute({ path: "/", target: TARGET, backendTls: false }).backendTls,
    undefined,
  );
  assertEquals(
    onlyRoute({
      path: "/",
      target: TARGET,
      backendTls: { serverName: "db.internal" },
    }).backendTls,
    { serverName: "db.internal" },
  );
});

Deno.test("resolveOptions keeps the per-route flags as given", () => {
  const route = onlyRoute({
    path: "/",
    target: TARGET,
    requireTicket: true,
    singleUseTickets: true,
    proxyProtocol: "v2",
    recordDir: "/var/rec",
    subprotocols: ["b", "a"],
    framing: "lines,crlf,text",
  }, { ticketSecret: SECRET });
  assertStrictEquals(route.requireTicket, true);
  assertStrictEquals(route.singleUseTickets, true);
  assertStrictEquals(route.proxyProtocol, "v2");
  assertStrictEquals(route.recordDir, "/var/rec");
  assertEquals(route.subprotocols, ["b", "a"]);
  assertStrictEquals(route.toBrowser.kind, "lines");
  assertStrictEquals(route.toBrowser.text, true);
});

Deno.test("resolveOptions returns a frozen configuration with frozen routes, specs and subprotocols", () => {
  const subprotocols = ["a"];
  const config = resolveOptions({
    routes: [{ path: "/", target: TARGET, subprotocols }],
  });
  const route = config.routes.get("/")!;
  assert(Object.isFrozen(config));
  assert(Object.isFrozen(route));
  assert(Object.isFrozen(route.toBackend));
  assert(Object.isFrozen(route.toBrowser));
  assert(Object.isFrozen(route.subprotocols));
  subprotocols.push("b");
  assertEquals(route.subprotocols, ["a"]);
  assertThrows(() => {
    (config as { port: number }).port = 1;
  }, TypeError);
});

Deno.test("resolveOptions throws before looking at the disk or the network", () => {
  // A missing token file or static directory is initGeneration's business.
  const config = resolveOptions({
    staticDir: "/nonexistent/static",
    tls: { certFile: "/nonexistent/c.pem", keyFile: "/nonexistent/k.pem" },
    routes: [{ path: "/", tokens: "/nonexistent/tokens" }],
  });
  assertStrictEquals(config.staticDir, "/nonexistent/static");
});

Deno.test({
  // Regression: a bad `framing` inherited by both directions is listed
  // twice, once per direction.
  name: "resolveOptions lists a bad inherited framing once",
  fn() {
    assertStrictEquals(routeProblems({ framing: "u7" }).length, 1);
  },
});

Deno.test({
  // Regression: a fractional maxHeadBytes below 1 passes validation, and
  // readRequestHead then reads into a zero-length buffer forever.
  name: "resolveOptions refuses a maxHeadBytes that is not a whole number",
  fn() {
    const [problem] = problemsOf({ maxHeadBytes: 0.5 });
    assert(problem?.startsWith("maxHeadBytes: "), problem);
  },
});

Deno.test({
  // Regression: resolveOptions accepts any strings as trustedProxies and
  // allowOrigins; a bad entry surfaces later as a bare TypeError from
  // buildGeneration (createGateway, reload), not as a ConfigError with its
  // path alongside the other problems.
  name:
    "resolveOptions reports a bad trustedProxies CIDR and a bad allowOrigins entry with their paths",
  fn() {
    const problems = problemsOf({
      trustedProxies: ["nope"],
      allowOrigins: ["not an origin"],
    });
    assertStrictEquals(problems.length, 2);
    assert(problems.some((problem) => problem.startsWith("trustedProxies")));
    assert(problems.some((problem) => problem.startsWith("allowOrigins")));
  },
});

Deno.test("resolveOptions shows NaN and Infinity durations as written", () => {
  const problems = problemsOf({
    pingIntervalMs: Number.NaN,
    idleTimeoutMs: Infinity,
  });
  assert(
    problems.some((problem) =>
      problem === "pingIntervalMs: must be a number >= 0: current value is NaN"
    ),
    problems.join("\n"),
  );
  assert(
    problems.some((problem) =>
      problem ===
        "idleTimeoutMs: must be a number >= 0: current value is Infinity"
    ),
    problems.join("\n"),
  );
});

/** Caller-owned options with every list and object the resolved config keeps. */
function ownedOptions() {
  const dynamic = {
    hosts: ["db.internal"],
    cidrs: ["10.1.0.0/16"],
    ports: [5432, "5900-5999"] as (number | string)[],
  };
  const backendTls = { serverName: "db.internal" };
  const subprotocols = ["binary"];
  const tls = { certFile: "/c.pem", keyFile: "/k.pem" };
  const trustedProxies = ["10.0.0.0/8"];
  const allowOrigins = ["https://app.example.com"];
  const ticketSecret = new TextEncoder().encode(SECRET);
  const options: GatewayOptions = {
    trustedProxies,
    allowOrigins,
    tls,
    ticketSecret,
    routes: [
      { path: "/d", dynamic, subprotocols },
      { path: "/t", target: TARGET, backendTls },
    ],
  };
  return {
    options,
    dynamic,
    backendTls,
    subprotocols,
    tls,
    trustedProxies,
    allowOrigins,
    ticketSecret,
  };
}

Deno.test("resolveOptions copies caller lists and objects: mutating them afterwards leaves the resolved config unchanged", () => {
  const owned = ownedOptions();
  const config = resolveOptions(owned.options);
  owned.trustedProxies.push("192.0.2.0/24");
  owned.allowOrigins[0] = "https://evil.example";
  owned.tls.certFile = "/other.pem";
  owned.ticketSecret.fill(0);
  owned.dynamic.hosts.push("*");
  owned.dynamic.cidrs.length = 0;
  owned.dynamic.ports.push("1-65535");
  owned.subprotocols.push("evil");
  owned.backendTls.serverName = "evil.example";
  owned.options.routes!.push({ path: "/late", target: TARGET });
  assertEquals(config.trustedProxies, ["10.0.0.0/8"]);
  assertEquals(config.allowOrigins, ["https://app.example.com"]);
  assertEquals(config.tls, { certFile: "/c.pem", keyFile: "/k.pem" });
  assertEquals(config.ticketSecret, new TextEncoder().encode(SECRET));
  assertEquals([...config.routes.keys()], ["/d", "/t"]);
  const dynamicRoute = config.routes.get("/d")!;
  assertEquals(dynamicRoute.dynamic, {
    hosts: ["db.internal"],
    cidrs: ["10.1.0.0/16"],
    ports: [5432, "5900-5999"],
  });
  assertEquals(dynamicRoute.subprotocols, ["binary"]);
  assertEquals(config.routes.get("/t")!.backendTls, {
    serverName: "db.internal",
  });
});

Deno.test("resolveOptions leaves the caller's options unfrozen and unshared", () => {
  const owned = ownedOptions();
  const config = resolveOptions(owned.options);
  for (
    const value of [
      owned.trustedProxies,
      owned.allowOrigins,
      owned.tls,
      owned.dynamic,
      owned.dynamic.hosts,
      owned.subprotocols,
      owned.backendTls,
    ]
  ) {
    assert(!Object.isFrozen(value));
  }
  assert(config.trustedProxies !== owned.trustedProxies);
  assert(config.allowOrigins !== owned.allowOrigins);
  assert(config.tls !== owned.tls);
  assert(config.ticketSecret !== owned.ticketSecret);
  assert(config.routes.get("/d")!.dynamic !== owned.dynamic);
  assert(config.routes.get("/t")!.backendTls !== owned.backendTls);
});

Deno.test("resolveOptions returns lists and objects that cannot be mutated", async (t) => {
  const config = resolveOptions(ownedOptions().options);
  const dynamicRoute = config.routes.get("/d")!;
  const tlsRoute = config.routes.get("/t")!;
  const attempts: [string, () => void][] = [
    ["trustedProxies.push", () => {
      (config.trustedProxies as string[]).push("0.0.0.0/0");
    }],
    ["allowOrigins[0] =", () => {
      (config.allowOrigins as string[])[0] = "https://evil.example";
    }],
    ["tls.certFile =", () => {
      (config.tls as { certFile: string }).certFile = "/other.pem";
    }],
    ["dynamic.hosts =", () => {
      (dynamicRoute.dynamic as { hosts?: string[] }).hosts = ["*"];
    }],
    ["dynamic.hosts.push", () => {
      dynamicRoute.dynamic!.hosts!.push("*");
    }],
    ["dynamic.cidrs.length = 0", () => {
      dynamicRoute.dynamic!.cidrs!.length = 0;
    }],
    ["dynamic.ports.push", () => {
      dynamicRoute.dynamic!.ports!.push("1-65535");
    }],
    ["subprotocols.push", () => {
      (dynamicRoute.subprotocols as string[]).push("evil");
    }],
    ["backendTls.serverName =", () => {
      (tlsRoute.backendTls as { serverName?: string }).serverName = "evil";
    }],
    ["target.port =", () => {
      (tlsRoute.target as { port: number }).port = 1;
    }],
  ];
  for (const [name, attempt] of attempts) {
    await t.step(name, () => {
      assertThrows(attempt, TypeError);
    });
  }
  assertEquals(config.trustedProxies, ["10.0.0.0/8"]);
  assertEquals(dynamicRoute.dynamic!.hosts, ["db.internal"]);
  assertEquals(tlsRoute.target, {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 9000,
  });
});

Deno.test('resolveOptions freezes backendTls true as an empty object and keeps allowOrigins "*"', () => {
  const config = resolveOptions({
    allowOrigins: "*",
    routes: [{ path: "/", target: TARGET, backendTls: true }],
  });
  assertStrictEquals(config.allowOrigins, "*");
  const backendTls = config.routes.get("/")!.backendTls;
  assertEquals(backendTls, {});
  assert(Object.isFrozen(backendTls));
});

Deno.test("resolveOptions reports a ticketSecret that is neither a string nor bytes, and a tls that is not an object", () => {
  assertThrows(
    () => resolveOptions({ ticketSecret: 5 as unknown as string }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message.includes("ticketSecret: must be a string or a Uint8Array"),
  );
  assertThrows(
    () =>
      resolveOptions({
        tls: null as unknown as { certFile: string; keyFile: string },
      }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message.includes("tls: needs certFile and keyFile"),
  );
});

Deno.test("resolveOptions serves the console by default only on a loopback listen address", () => {
  for (const hostname of ["127.0.0.1", "127.1.2.3", "localhost", "::1"]) {
    assertEquals(resolveOptions({ hostname }).console, true, hostname);
  }
  for (const hostname of ["0.0.0.0", "::", "192.0.2.10", "gateway.example"]) {
    assertEquals(resolveOptions({ hostname }).console, false, hostname);
  }
  assertEquals(
    resolveOptions({ hostname: "0.0.0.0", console: true }).console,
    true,
  );
  assertEquals(
    resolveOptions({ hostname: "127.0.0.1", console: false }).console,
    false,
  );
});

Deno.test("resolveOptions checks unixSocket against TLS, workers and its mode", () => {
  assertEquals(
    resolveOptions({ unixSocket: "/run/w.sock" }).unixSocket,
    { path: "/run/w.sock", mode: 0o660 },
  );
  const cases: [GatewayOptions, RegExp][] = [
    [
      { unixSocket: "/s", tls: { certFile: "c", keyFile: "k" } },
      /unixSocket: cannot serve TLS on a Unix socket/,
    ],
    [{ unixSocket: "/s", reusePort: true }, /several workers/],
    [{ unixSocket: "/s", unixSocketMode: 0o1777 }, /unixSocketMode: must be/],
    [{ unixSocket: "" }, /unixSocket: must be a non-empty path/],
  ];
  for (const [options, pattern] of cases) {
    assertThrows(() => resolveOptions(options), pattern);
  }
});

Deno.test("resolveOptions compiles authPlugin into one check and refuses a bad one", () => {
  const config = resolveOptions({
    authPlugin: { name: "BasicHTTPAuth", source: "u:p", isWebAuth: true },
  });
  assertEquals(config.isWebAuth, true);
  assertEquals(config.authCheck?.(new Map())?.status, 401);
  assertThrows(
    () =>
      resolveOptions({
        authPlugin: { name: "BasicHTTPAuth", source: "nocolon" },
      }),
    /authPlugin\.source/,
  );
  assertThrows(
    () =>
      resolveOptions({
        authPlugin: { name: "Kerberos" as "ExpectOrigin", source: "x" },
      }),
    /authPlugin\.name/,
  );
});
