import { assert, assertEquals, assertThrows } from "../_util/assert.ts";
import {
  buildWebsockifyOptions,
  parseWebsockifyArgs,
  type WebsockifySettings,
} from "../../src/cli/websockify_args.ts";
import { ConfigError } from "../../src/errors.ts";
import { resolveOptions } from "../../src/config/config.ts";

function settingsOf(argv: string[]): WebsockifySettings {
  const command = parseWebsockifyArgs(argv);
  if (command.kind !== "run") throw new Error(`not a run: ${argv}`);
  return command.settings;
}

function optionsOf(argv: string[], isCertPresent = false) {
  return buildWebsockifyOptions(settingsOf(argv), { isCertPresent }).options;
}

/** Asserts one ConfigError line matching `pattern`. */
function assertRefused(argv: string[], pattern: RegExp): void {
  try {
    const command = parseWebsockifyArgs(argv);
    if (command.kind === "run") {
      buildWebsockifyOptions(command.settings, { isCertPresent: false });
    }
  } catch (error) {
    assert(error instanceof ConfigError, String(error));
    assertEquals(error.problems.length, 1);
    assert(pattern.test(error.problems[0]!), error.problems[0]);
    return;
  }
  throw new Error(`accepted: ${argv.join(" ")}`);
}

Deno.test("websockify positional arguments map to the listener and a raw route at / and /websockify", () => {
  const options = optionsOf(["6080", "localhost:5900"]);
  assertEquals(options.hostname, "0.0.0.0");
  assertEquals(options.port, 6080);
  assertEquals(options.routes, [
    { path: "/", target: "localhost:5900", framing: "raw" },
    { path: "/websockify", target: "localhost:5900", framing: "raw" },
  ]);
  assertEquals(options.allowOrigins, "*");
  assertEquals(options.console, false);
  assertEquals(options.metricsOnGatewayPort, false);
  assertEquals(options.tls, undefined);
  // The mapped options are valid gateway options.
  resolveOptions(options);
});

Deno.test("websockify source and target addresses", async (t) => {
  await t.step("source host is kept", () => {
    assertEquals(optionsOf(["127.0.0.1:6080", "h:1"]).hostname, "127.0.0.1");
  });
  await t.step("bracketed IPv6 source and target", () => {
    const options = optionsOf(["[::1]:6080", "[::1]:5900"]);
    assertEquals(options.hostname, "::1");
    assertEquals(options.routes![0]!.target, "[::1]:5900");
  });
  await t.step("--prefer-ipv6 and -6 listen on :: when no source host", () => {
    assertEquals(optionsOf(["--prefer-ipv6", "6080", "h:1"]).hostname, "::");
    assertEquals(optionsOf(["-6", "6080", "h:1"]).hostname, "::");
  });
  await t.step("options may follow the positional arguments", () => {
    assertEquals(optionsOf(["6080", "h:1", "--web", "/w"]).staticDir, "/w");
  });
  await t.step("bad and missing positionals exit 2", () => {
    assertRefused([], /missing \[source_addr:\]source_port/);
    assertRefused(["6080"], /missing target_addr:target_port/);
    assertRefused(["x", "h:1"], /source: invalid port/);
    assertRefused(["6080", "h"], /target: invalid value "h"/);
    assertRefused(["6080", "h:99999"], /target: invalid port/);
    assertRefused(["6080", ":5900"], /target: missing host/);
    assertRefused(["6080", "h:1", "extra"], /unexpected argument "extra"/);
  });
});

Deno.test("websockify options that map to gateway options", async (t) => {
  await t.step("--web serves the directory with listings", () => {
    const options = optionsOf(["--web", "/usr/share/novnc", "6080", "h:1"]);
    assertEquals(options.staticDir, "/usr/share/novnc");
    assertEquals(options.listDirectories, true);
  });
  await t.step("--web=DIR spelling", () => {
    assertEquals(optionsOf(["--web=/w", "6080", "h:1"]).staticDir, "/w");
  });
  await t.step("--file-only turns listings off", () => {
    assertEquals(
      optionsOf(["--web", "/w", "--file-only", "6080", "h:1"]).listDirectories,
      false,
    );
  });
  await t.step("--cert serves TLS with the key inside the cert file", () => {
    assertEquals(optionsOf(["--cert", "c.pem", "6080", "h:1"], true).tls, {
      certFile: "c.pem",
      keyFile: "c.pem",
    });
  });
  await t.step("--key names a separate key file", () => {
    assertEquals(
      optionsOf(["--cert", "c.pem", "--key", "k.pem", "6080", "h:1"], true).tls,
      { certFile: "c.pem", keyFile: "k.pem" },
    );
  });
  await t.step("self.pem is the default cert, used when it exists", () => {
    assertEquals(optionsOf(["6080", "h:1"], true).tls, {
      certFile: "self.pem",
      keyFile: "self.pem",
    });
    assertEquals(optionsOf(["6080", "h:1"], false).tls, undefined);
  });
  await t.step("--ssl-only serves TLS and needs the cert", () => {
    assertEquals(
      optionsOf(["--ssl-only", "--cert", "c", "6080", "h:1"], true).tls,
      { certFile: "c", keyFile: "c" },
    );
    assertRefused(
      ["--ssl-only", "6080", "h:1"],
      /--ssl-only: the certificate "self.pem"/,
    );
  });
  await t.step("--ssl-version default and tlsv1_2 are accepted", () => {
    optionsOf(["--ssl-version", "default", "6080", "h:1"]);
    optionsOf(["--ssl-version=tlsv1_2", "6080", "h:1"]);
  });
  await t.step("--ssl-target connects to the backend over TLS", () => {
    assertEquals(
      optionsOf(["--ssl-target", "6080", "h:1"]).routes![0]!.backendTls,
      true,
    );
  });
  await t.step("--unix-target relays to a Unix socket", () => {
    const options = optionsOf(["--unix-target", "/run/vnc.sock", "6080"]);
    assertEquals(options.routes![0]!.target, "unix:/run/vnc.sock");
    resolveOptions(options);
  });
  await t.step("--heartbeat pings every INTERVAL seconds", () => {
    assertEquals(
      optionsOf(["--heartbeat", "15", "6080", "h:1"]).pingIntervalMs,
      15000,
    );
    assertEquals(optionsOf(["6080", "h:1"]).pingIntervalMs, undefined);
  });
  await t.step("--traffic hex-dumps messages", () => {
    assertEquals(optionsOf(["--traffic", "6080", "h:1"]).logTrafficBytes, 64);
  });
  await t.step("--record records into the file's directory", () => {
    assertEquals(
      optionsOf(["--record", "/tmp/rec/vnc", "6080", "h:1"]).routes![0]!
        .recordDir,
      "/tmp/rec",
    );
    assertEquals(
      optionsOf(["--record", "vnc", "6080", "h:1"]).routes![0]!.recordDir,
      ".",
    );
  });
  await t.step("--libserver is accepted and changes nothing", () => {
    assertEquals(
      optionsOf(["--libserver", "6080", "h:1"]),
      optionsOf(["6080", "h:1"]),
    );
  });
});

Deno.test("websockify CLI-level settings are read", async (t) => {
  await t.step("--verbose and -v", () => {
    assertEquals(settingsOf(["--verbose", "6080", "h:1"]).isVerbose, true);
    assertEquals(settingsOf(["-v", "6080", "h:1"]).isVerbose, true);
  });
  await t.step("--log-file", () => {
    assertEquals(
      settingsOf(["--log-file", "/tmp/w.log", "6080", "h:1"]).logFile,
      "/tmp/w.log",
    );
  });
  await t.step("--idle-timeout, --timeout and --run-once", () => {
    const settings = settingsOf([
      "--idle-timeout",
      "30",
      "--timeout=60",
      "--run-once",
      "6080",
      "h:1",
    ]);
    assertEquals(settings.idleTimeoutSec, 30);
    assertEquals(settings.timeoutSec, 60);
    assertEquals(settings.isRunOnce, true);
    assertRefused(
      ["--timeout", "soon", "6080", "h:1"],
      /--timeout: invalid value "soon"/,
    );
    assertRefused(
      ["--heartbeat", "-1", "6080", "h:1"],
      /--heartbeat: invalid value "-1"/,
    );
  });
  await t.step(
    "--unix-listen replaces the source port, mode 0600 by default",
    () => {
      assertEquals(
        settingsOf(["--unix-listen", "/run/ws.sock", "h:1"]).listen,
        {
          kind: "unix",
          path: "/run/ws.sock",
          mode: 0o600,
        },
      );
      assertEquals(
        settingsOf([
          "--unix-listen",
          "/s",
          "--unix-listen-mode",
          "660",
          "h:1",
        ]).listen,
        { kind: "unix", path: "/s", mode: 0o660 },
      );
      assertRefused(
        ["--unix-listen", "/s", "--unix-listen-mode", "rw", "h:1"],
        /--unix-listen-mode: invalid value "rw"/,
      );
    },
  );
  await t.step(
    "--unix-listen maps to the gateway's unixSocket and its mode, without TLS",
    () => {
      const options = optionsOf(
        ["--unix-listen", "/run/ws.sock", "--unix-listen-mode", "660", "h:1"],
        true,
      );
      assertEquals(options.unixSocket, "/run/ws.sock");
      assertEquals(options.unixSocketMode, 0o660);
      assertEquals(options.tls, undefined);
      assertEquals(options.port, undefined);
    },
  );
});

Deno.test("websockify token plugins", async (t) => {
  await t.step(
    "TokenFile and ReadOnlyTokenFile use the route's token file",
    () => {
      for (const plugin of ["TokenFile", "ReadOnlyTokenFile"]) {
        const options = optionsOf([
          "--token-plugin",
          plugin,
          "--token-source",
          "/etc/tokens",
          "6080",
        ]);
        assertEquals(options.routes![0], {
          path: "/",
          tokens: "/etc/tokens",
          framing: "raw",
        });
      }
    },
  );
  await t.step("dotted names are accepted", () => {
    assertEquals(
      settingsOf([
        "--token-plugin=websockify.token_plugins.TokenRedis",
        "--token-source=redis",
        "6080",
      ]).target,
      {
        kind: "token",
        plugin: "TokenRedis",
        source: "redis",
        isHostToken: false,
      },
    );
  });
  await t.step("--target-config is TokenFile", () => {
    assertEquals(settingsOf(["--target-config", "/t", "6080"]).target, {
      kind: "token",
      plugin: "TokenFile",
      source: "/t",
      isHostToken: false,
    });
  });
  await t.step("--host-token is read", () => {
    const settings = settingsOf([
      "--token-plugin",
      "TokenFile",
      "--token-source",
      "/t",
      "--host-token",
      "6080",
    ]);
    assertEquals(
      settings.target.kind === "token" && settings.target.isHostToken,
      true,
    );
  });
  await t.step("JWTTokenApi and JSONTokenApi are read", () => {
    assertEquals(
      settingsOf([
        "--token-plugin",
        "JWTTokenApi",
        "--token-source",
        "/k",
        "6080",
      ])
        .target.kind,
      "token",
    );
    assertRefused(
      ["--token-plugin", "JSONTokenApi", "--token-source", "http://x/", "6080"],
      /expected a URL with %s/,
    );
  });
  await t.step("refusals", () => {
    assertRefused(
      ["--token-source", "/t", "6080", "h:1"],
      /--token-source: needs --token-plugin/,
    );
    assertRefused(
      ["--host-token", "6080", "h:1"],
      /--host-token: needs --token-plugin/,
    );
    assertRefused(
      ["--token-plugin", "TokenFile", "6080"],
      /needs --token-source/,
    );
    assertRefused([
      "--token-plugin",
      "my.Plugin",
      "--token-source",
      "x",
      "6080",
    ], /unknown plugin/);
    assertRefused([
      "--token-plugin",
      "TokenFileName",
      "--token-source",
      "x",
      "6080",
    ], /list the targets in a TokenFile/);
  });
});

Deno.test("websockify auth plugins", async (t) => {
  await t.step(
    "ExpectOrigin becomes the gateway's auth plugin, not the origin list",
    () => {
      const options = optionsOf([
        "--auth-plugin",
        "ExpectOrigin",
        "--auth-source",
        "https://a.example https://b.example",
        "6080",
        "h:1",
      ]);
      assertEquals(options.allowOrigins, "*");
      assertEquals(options.authPlugin, {
        name: "ExpectOrigin",
        source: "https://a.example https://b.example",
        isWebAuth: false,
      });
    },
  );
  await t.step("--web-auth sets isWebAuth on the auth plugin", () => {
    assertEquals(
      optionsOf([
        "--web",
        "/w",
        "--web-auth",
        "--auth-plugin",
        "BasicHTTPAuth",
        "--auth-source",
        "u:p",
        "6080",
        "h:1",
      ]).authPlugin,
      { name: "BasicHTTPAuth", source: "u:p", isWebAuth: true },
    );
  });
  await t.step("BasicHTTPAuth is read (dotted name too)", () => {
    assertEquals(
      settingsOf([
        "--auth-plugin",
        "websockify.auth_plugins.BasicHTTPAuth",
        "--auth-source",
        "u:p",
        "6080",
        "h:1",
      ]).auth,
      { plugin: "BasicHTTPAuth", source: "u:p" },
    );
  });
  await t.step("--web-auth is read", () => {
    assertEquals(
      settingsOf([
        "--web",
        "/w",
        "--web-auth",
        "--auth-plugin",
        "BasicHTTPAuth",
        "--auth-source",
        "u:p",
        "6080",
        "h:1",
      ]).isWebAuth,
      true,
    );
  });
  await t.step("refusals", () => {
    assertRefused(
      ["--auth-source", "u:p", "6080", "h:1"],
      /--auth-source: needs --auth-plugin/,
    );
    assertRefused(
      ["--web", "/w", "--web-auth", "6080", "h:1"],
      /--web-auth: needs --auth-plugin/,
    );
    assertRefused(
      [
        "--auth-plugin",
        "ExpectOrigin",
        "--auth-source",
        "https://a",
        "--web-auth",
        "6080",
        "h:1",
      ],
      /--web-auth: needs --web/,
    );
    assertRefused(
      ["--auth-plugin", "BasicHTTPAuth", "6080", "h:1"],
      /needs --auth-source user:password/,
    );
    assertRefused(
      ["--auth-plugin", "ExpectOrigin", "6080", "h:1"],
      /needs --auth-source "ORIGIN/,
    );
    assertRefused(
      ["--auth-plugin", "ClientCertCNAuth", "6080", "h:1"],
      /ssl_verify_client/,
    );
  });
});

Deno.test("websockify options that cannot be honoured exit 2 naming the alternative", async (t) => {
  const cases: [string[], RegExp][] = [
    [["--daemon"], /--daemon: not supported: .*systemd/],
    [["-D"], /--daemon: not supported/],
    [
      ["--wrap-mode", "respawn"],
      /--wrap-mode: not supported: .*start the program yourself/,
    ],
    [["--inetd"], /--inetd: not supported/],
    [["--key-password", "x"], /--key-password: not supported: .*openssl pkey/],
    [["--verify-client"], /--verify-client: not supported: .*proxy/],
    [["--cafile", "ca.pem"], /--cafile: not supported/],
    [["--ssl-ciphers", "HIGH"], /--ssl-ciphers: not supported/],
    [
      ["--ssl-version", "tlsv1_1"],
      /tlsv1_1: not supported: .*TLS 1.2 and 1.3 only/,
    ],
    [["--ssl-version", "tlsv1_3"], /tlsv1_3: not supported/],
    [["--ssl-version", "sslv3"], /--ssl-version: invalid value "sslv3"/],
    [["--syslog", "/dev/log"], /--syslog: not supported: .*logger/],
    [["--legacy-syslog"], /--legacy-syslog: not supported/],
    [["--frobnicate"], /--frobnicate: unknown option/],
    [["--verbose=yes"], /--verbose: takes no value/],
  ];
  for (const [flags, pattern] of cases) {
    await t.step(flags.join(" "), () => {
      assertRefused([...flags, "6080", "h:1"], pattern);
    });
  }
  await t.step("--web at the end, without its value", () => {
    assertRefused(["6080", "h:1", "--web"], /--web: missing value/);
  });
  await t.step("-- COMMAND", () => {
    assertRefused(
      ["6080", "--", "vncserver", ":1"],
      /^-- vncserver :1: .*start the program yourself/,
    );
  });
});

Deno.test("websockify --help asks for help", () => {
  assertEquals(parseWebsockifyArgs(["--help"]), { kind: "help" });
  assertEquals(parseWebsockifyArgs(["6080", "-h"]), { kind: "help" });
});

Deno.test("buildWebsockifyOptions maps every token plugin and --host-token to route keys", async (t) => {
  const cases: [string, string[], Record<string, unknown>][] = [
    ["TokenFile", ["--token-plugin", "TokenFile", "--token-source", "/t"], {
      tokens: "/t",
    }],
    [
      "a token file named redis",
      ["--token-plugin", "TokenFile", "--token-source", "redis"],
      { tokens: "./redis" },
    ],
    [
      "TokenRedis, every field",
      [
        "--token-plugin",
        "TokenRedis",
        "--token-source",
        "r.internal:6380:2:pw:vnc",
      ],
      {
        tokens: "redis",
        tokenStore: "redis://:pw@r.internal:6380/2",
        tokenPrefix: "vnc:",
      },
    ],
    [
      "TokenRedis, host only",
      ["--token-plugin", "TokenRedis", "--token-source", "r.internal"],
      {
        tokens: "redis",
        tokenStore: "redis://r.internal:6379/0",
        tokenPrefix: "",
      },
    ],
    [
      "JWTTokenApi",
      ["--token-plugin", "JWTTokenApi", "--token-source", "/k"],
      { tokenApi: { jwtKeyFile: "/k" } },
    ],
    [
      "JSONTokenApi",
      ["--token-plugin", "JSONTokenApi", "--token-source", "http://x/%s"],
      { tokenApi: { jsonUrl: "http://x/%s" } },
    ],
    [
      "--host-token",
      ["--token-plugin", "TokenFile", "--token-source", "/t", "--host-token"],
      { tokens: "/t", hostToken: true },
    ],
  ];
  for (const [name, argv, keys] of cases) {
    await t.step(name, () => {
      const options = optionsOf([...argv, "6080"]);
      for (const route of options.routes!) {
        assertEquals(route, { path: route.path, framing: "raw", ...keys });
      }
      // The gateway accepts what the mapping builds.
      resolveOptions(options);
    });
  }
  assertRefused(
    ["--token-plugin", "TokenRedis", "--token-source", "h:port", "6080"],
    /--token-source: invalid value "h:port" \(expected host\[:port/,
  );
  assertThrows(() => settingsOf(["--web-auth", "6080", "h:1"]));
});
