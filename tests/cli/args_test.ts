import { assert, assertEquals, assertThrows } from "../_util/assert.ts";
import {
  buildRunConfig,
  type CliCommand,
  type GivenFlag,
  helpText,
  parseArgs,
  parseByteSize,
  parseDurationMs,
  type RunConfig,
} from "../../src/cli/args.ts";
import { defaultCliSettings, SETTINGS } from "../../src/cli/cli_settings.ts";
import { ConfigError } from "../../src/errors.ts";

const TARGET = ["--target", "127.0.0.1:9000"];
const TARGET_ROUTE = { path: "/", target: "127.0.0.1:9000" };

/** Narrows `command` to a run or demo command. */
function runCommand(
  command: CliCommand,
): Extract<CliCommand, { kind: "run" | "demo" }> {
  assert(
    command.kind === "run" || command.kind === "demo",
    `expected a run or demo command, got ${command.kind}`,
  );
  return command;
}

/** parseArgs + buildRunConfig, as the CLI does (without file I/O). */
function runConfig(
  argv: readonly string[],
  file?: unknown,
  baseDir = "/etc/wsgate",
): RunConfig {
  const command = runCommand(parseArgs(argv));
  return buildRunConfig(
    command.flags,
    file === undefined ? undefined : { json: file, baseDir },
    command.kind === "demo",
  );
}

/** The problems `action` throws as a ConfigError. */
function problemsOf(action: () => unknown): readonly string[] {
  let problems: readonly string[] | undefined;
  assertThrows(action, (error: unknown) => {
    assert(error instanceof ConfigError, `not a ConfigError: ${error}`);
    problems = error.problems;
    return true;
  });
  return problems!;
}

/**
 * Asserts that parsing argv and building the run config fails with exactly
 * one single-line problem naming `flag`, quoting `value` (when given), and
 * saying what was expected ("expected ..." or "must be ...").
 */
function assertRejectsArgs(
  argv: readonly string[],
  flag: string,
  value: string | undefined,
): void {
  const problems = problemsOf(() => runConfig(argv));
  assertEquals(problems.length, 1, problems.join("\n"));
  const line = problems[0]!;
  assert(!line.includes("\n"), `more than one line: ${line}`);
  assert(line.includes(flag), `"${line}" does not name ${flag}`);
  if (value !== undefined) {
    assert(line.includes(`"${value}"`), `"${line}" does not quote ${value}`);
  }
  assert(
    /expected|must be/.test(line),
    `"${line}" does not say what is expected`,
  );
}

Deno.test("parseArgs returns help and version before anything else", async (t) => {
  const cases: [string, string[], CliCommand][] = [
    ["--help", ["--help"], { kind: "help" }],
    ["-h", ["-h"], { kind: "help" }],
    ["--version", ["--version"], { kind: "version" }],
    ["--help and --version: help wins", ["--version", "--help"], {
      kind: "help",
    }],
    ["--help after other flags, without --target", [
      "--listen",
      "127.0.0.1:0",
      "--help",
    ], { kind: "help" }],
    ["--help after a bad flag", ["--bogus", "--listen", "nope", "--help"], {
      kind: "help",
    }],
    ["--version after a bad value", ["--buffer", "1g", "--version"], {
      kind: "version",
    }],
    ["demo --help", ["demo", "--help"], { kind: "help" }],
    ["ticket --help", ["ticket", "--help"], { kind: "help", topic: "ticket" }],
    ["ticket -h after flags", ["ticket", "--route", "/c", "-h"], {
      kind: "help",
      topic: "ticket",
    }],
    ["replay --version", ["replay", "--version"], { kind: "version" }],
  ];
  for (const [name, argv, expected] of cases) {
    await t.step(name, () => assertEquals(parseArgs(argv), expected));
  }
});

Deno.test("parseArgs returns a run command with the converted flags in order", () => {
  const command = runCommand(
    parseArgs(["--ping-interval", "5s", ...TARGET, "--config", "w.jsonc"]),
  );
  assertEquals(command.kind, "run");
  assertEquals(command.configPath, "w.jsonc");
  assertEquals(
    command.flags.map(({ setting, value }: GivenFlag) => [
      setting.flag,
      value,
    ]),
    [["--ping-interval", 5000], ["--target", "127.0.0.1:9000"]],
  );
});

Deno.test("parseArgs takes --config in both spellings and refuses it empty", async (t) => {
  await t.step("--config FILE", () => {
    assertEquals(
      runCommand(parseArgs(["--config", "/etc/w.jsonc"])).configPath,
      "/etc/w.jsonc",
    );
  });
  await t.step("--config=FILE", () => {
    assertEquals(
      runCommand(parseArgs(["--config=w.jsonc"])).configPath,
      "w.jsonc",
    );
  });
  await t.step("demo --config FILE", () => {
    const command = runCommand(parseArgs(["demo", "--config", "d.jsonc"]));
    assertEquals([command.kind, command.configPath], ["demo", "d.jsonc"]);
  });
  for (const argv of [["--config"], ["--config="]]) {
    await t.step(`${argv.join(" ")} without a value`, () => {
      const problems = problemsOf(() => parseArgs(argv));
      assertEquals(problems.length, 1);
      assert(problems[0]!.startsWith("--config: "), problems[0]);
      assert(problems[0]!.includes("expected"), problems[0]);
    });
  }
});

Deno.test("buildRunConfig applies the defaults and one route at / for --target", () => {
  assertEquals(runConfig(TARGET), {
    options: { hostname: "127.0.0.1", port: 8080, routes: [TARGET_ROUTE] },
    cli: defaultCliSettings(),
  });
});

/**
 * One case per flag: a value, extra arguments it needs, and a check of the
 * built config. Every flag of SETTINGS must appear (see the test below).
 */
const FLAG_CASES: Record<
  string,
  { value: string; extra?: string[]; check: (config: RunConfig) => void }
> = {
  "--listen": {
    value: "[::1]:8081",
    check: ({ options }) =>
      assertEquals([options.hostname, options.port], ["::1", 8081]),
  },
  "--target": {
    value: "unix:/run/app.sock",
    check: ({ options }) =>
      assertEquals(options.routes, [{
        path: "/",
        target: "unix:/run/app.sock",
      }]),
  },
  "--framing": {
    value: "lines,crlf",
    check: ({ options }) =>
      assertEquals(options.routes, [{
        ...TARGET_ROUTE,
        framing: "lines,crlf",
      }]),
  },
  "--framing-to-backend": {
    value: "u16le",
    check: ({ options }) =>
      assertEquals(options.routes, [{
        ...TARGET_ROUTE,
        framingToBackend: "u16le",
      }]),
  },
  "--framing-to-browser": {
    value: "raw",
    check: ({ options }) =>
      assertEquals(options.routes, [{
        ...TARGET_ROUTE,
        framingToBrowser: "raw",
      }]),
  },
  "--subprotocols": {
    value: "mqtt, v2",
    check: ({ options }) =>
      assertEquals(options.routes, [{
        ...TARGET_ROUTE,
        subprotocols: ["mqtt", "v2"],
      }]),
  },
  "--compression": {
    value: "on",
    check: ({ options }) =>
      assertEquals(options.routes, [{ ...TARGET_ROUTE, compression: "on" }]),
  },
  "--compression-memory": {
    value: "8m",
    check: ({ options }) =>
      assertEquals(options.compressionMemoryBytes, 8 * 1024 * 1024),
  },
  "--ping-interval": {
    value: "500ms",
    check: ({ options }) => assertEquals(options.pingIntervalMs, 500),
  },
  "--ping-timeout": {
    value: "1.5s",
    check: ({ options }) => assertEquals(options.pingTimeoutMs, 1500),
  },
  "--connect-timeout": {
    value: "3",
    check: ({ options }) => assertEquals(options.connectTimeoutMs, 3000),
  },
  "--handshake-timeout": {
    value: "0",
    check: ({ options }) => assertEquals(options.handshakeTimeoutMs, 0),
  },
  "--idle-timeout": {
    value: "2m",
    check: ({ options }) => assertEquals(options.idleTimeoutMs, 120000),
  },
  "--max-lifetime": {
    value: "1h",
    check: ({ options }) => assertEquals(options.maxLifetimeMs, 3600000),
  },
  "--drain-timeout": {
    value: "10s",
    check: ({ options }) => assertEquals(options.drainTimeoutMs, 10000),
  },
  "--close-timeout": {
    value: "250ms",
    check: ({ options }) => assertEquals(options.closeTimeoutMs, 250),
  },
  "--stall-timeout": {
    value: "250ms",
    check: ({ options }) => assertEquals(options.stallTimeoutMs, 250),
  },
  "--buffer": {
    value: "64k",
    check: ({ options }) => assertEquals(options.bufferBytes, 65536),
  },
  "--memory-budget": {
    value: "64m",
    check: ({ options }) =>
      assertEquals(options.memoryBudgetBytes, 64 * 1024 * 1024),
  },
  "--max-head": {
    value: "16K",
    check: ({ options }) => assertEquals(options.maxHeadBytes, 16384),
  },
  "--max-sessions": {
    value: "5",
    check: ({ options }) => assertEquals(options.maxSessions, 5),
  },
  "--max-control-rate": {
    value: "20",
    check: ({ options }) => assertEquals(options.maxControlFramesPerSecond, 20),
  },
  "--max-sessions-per-ip": {
    value: "2",
    check: ({ options }) => assertEquals(options.maxSessionsPerIp, 2),
  },
  "--max-handshakes-per-ip": {
    value: "5",
    check: ({ options }) => assertEquals(options.maxHandshakesPerIp, 5),
  },
  "--allow-origin": {
    value: "https://*.example.com",
    extra: ["--allow-origin", "https://app.test"],
    check: ({ options }) =>
      assertEquals(options.allowOrigins, [
        "https://*.example.com",
        "https://app.test",
      ]),
  },
  "--trust-proxy": {
    value: "10.0.0.0/8",
    check: ({ options }) =>
      assertEquals(options.trustedProxies, ["10.0.0.0/8"]),
  },
  "--ticket-secret-file": {
    value: "/run/secrets/ticket",
    check: ({ cli }) =>
      assertEquals(cli.ticketSecretFile, "/run/secrets/ticket"),
  },
  "--ticket-secret-env": {
    value: "MY_SECRET",
    check: ({ cli }) => assertEquals(cli.ticketSecretEnv, "MY_SECRET"),
  },
  "--store": {
    value: "redis://127.0.0.1:6379/1",
    check: ({ options }) =>
      assertEquals(options.store, "redis://127.0.0.1:6379/1"),
  },
  "--store-password-env": {
    value: "STORE_PASSWORD",
    extra: ["--store", "redis://127.0.0.1"],
    check: ({ options }) =>
      assertEquals(options.storePasswordEnv, "STORE_PASSWORD"),
  },
  "--store-password-file": {
    value: "/run/secrets/store",
    extra: ["--store", "redis://127.0.0.1"],
    check: ({ options }) =>
      assertEquals(options.storePasswordFile, "/run/secrets/store"),
  },
  "--store-prefix": {
    value: "fleet:",
    extra: ["--store", "redis://127.0.0.1"],
    check: ({ options }) => assertEquals(options.storePrefix, "fleet:"),
  },
  "--store-timeout": {
    value: "250ms",
    extra: ["--store", "redis://127.0.0.1"],
    check: ({ options }) => assertEquals(options.storeTimeoutMs, 250),
  },
  "--store-lease": {
    value: "5s",
    extra: ["--store", "redis://127.0.0.1"],
    check: ({ options }) => assertEquals(options.storeLeaseMs, 5000),
  },
  "--cert": {
    value: "/tls/cert.pem",
    extra: ["--key", "/tls/key.pem"],
    check: ({ options }) =>
      assertEquals(options.tls, {
        certFile: "/tls/cert.pem",
        keyFile: "/tls/key.pem",
      }),
  },
  "--key": {
    value: "/tls/key.pem",
    extra: ["--cert", "/tls/cert.pem"],
    check: ({ options }) =>
      assertEquals(options.tls, {
        certFile: "/tls/cert.pem",
        keyFile: "/tls/key.pem",
      }),
  },
  "--static": {
    value: "/srv/www",
    check: ({ options }) => assertEquals(options.staticDir, "/srv/www"),
  },
  "--list-directories": {
    value: "true",
    check: ({ options }) => assertEquals(options.listDirectories, true),
  },
  "--console": {
    value: "false",
    check: ({ options }) => assertEquals(options.console, false),
  },
  "--warm-up": {
    value: "false",
    check: ({ options }) => assertEquals(options.warmUp, false),
  },
  "--admin-listen": {
    value: "127.0.0.1:9100",
    check: ({ options, cli }) => {
      assertEquals(cli.adminListen, { hostname: "127.0.0.1", port: 9100 });
      assertEquals(options.metricsOnGatewayPort, false);
    },
  },
  "--log-format": {
    value: "json",
    check: ({ cli }) => assertEquals(cli.logFormat, "json"),
  },
  "--log-level": {
    value: "debug",
    check: ({ cli }) => assertEquals(cli.logLevel, "debug"),
  },
  "--log-traffic": {
    value: "64",
    check: ({ options, cli }) => {
      assertEquals(options.logTrafficBytes, 64);
      assertEquals(cli.logLevel, "debug", "traffic dumps are debug lines");
    },
  },
  "--workers": {
    value: "4",
    check: ({ cli }) => assertEquals(cli.workers, 4),
  },
  "--watch-config": {
    value: "true",
    check: ({ cli }) => assertEquals(cli.watchConfig, true),
  },
};

Deno.test("parseArgs has a test case for every flag of SETTINGS", () => {
  assertEquals(
    Object.keys(FLAG_CASES).sort(),
    SETTINGS.map((setting) => setting.flag).sort(),
  );
});

Deno.test("parseArgs accepts every flag as --flag VALUE and as --flag=VALUE", async (t) => {
  for (const setting of SETTINGS) {
    const { value, extra = [], check } = FLAG_CASES[setting.flag]!;
    const target = setting.flag === "--target" ? [] : TARGET;
    const spaced = setting.kind === "flag"
      ? [setting.flag + (value === "true" ? "" : `=${value}`)]
      : [setting.flag, value];
    const joined = [`${setting.flag}=${value}`];
    await t.step(`${spaced.join(" ")}`, () => {
      check(runConfig([...spaced, ...extra, ...target]));
    });
    await t.step(`${joined[0]}`, () => {
      const config = runConfig([...joined, ...extra, ...target]);
      check(config);
      assertEquals(config, runConfig([...spaced, ...extra, ...target]));
    });
  }
});

Deno.test("parseArgs reads a boolean flag alone as true and =false as false", async (t) => {
  for (const setting of SETTINGS.filter((item) => item.kind === "flag")) {
    await t.step(setting.flag, () => {
      const on = runConfig([setting.flag, ...TARGET]);
      const off = runConfig([`${setting.flag}=false`, ...TARGET]);
      assertEquals(on, runConfig([`${setting.flag}=true`, ...TARGET]));
      assert(
        JSON.stringify(on) !== JSON.stringify(off),
        `${setting.flag} and ${setting.flag}=false build the same config`,
      );
    });
  }
});

Deno.test("parseArgs accepts --workers auto as 0 (one per core)", () => {
  assertEquals(runConfig(["--workers", "auto", ...TARGET]).cli.workers, 0);
  assertEquals(runConfig(["--workers=auto", ...TARGET]).cli.workers, 0);
});

Deno.test("parseArgs keeps the last value of a repeated flag and all of a repeatable one", async (t) => {
  await t.step("--listen twice", () => {
    const { options } = runConfig([
      "--listen",
      "127.0.0.1:1",
      "--listen=127.0.0.1:2",
      ...TARGET,
    ]);
    assertEquals(options.port, 2);
  });
  await t.step("--trust-proxy twice", () => {
    const { options } = runConfig([
      "--trust-proxy",
      "10.0.0.0/8",
      "--trust-proxy=192.168.0.0/16",
      ...TARGET,
    ]);
    assertEquals(options.trustedProxies, ["10.0.0.0/8", "192.168.0.0/16"]);
  });
  await t.step("--allow-origin '*' wins over listed origins", () => {
    const { options } = runConfig([
      "--allow-origin",
      "https://a.test",
      "--allow-origin=*",
      "--allow-origin",
      "https://b.test",
      ...TARGET,
    ]);
    assertEquals(options.allowOrigins, "*");
  });
});

/** A malformed value for each kind of setting. */
const BAD_VALUE_BY_KIND: Record<string, string> = {
  address: "nope",
  listen: "nope",
  target: "nope",
  framing: "u33be",
  duration: "soon",
  bytes: "1g",
  count: "many",
  choice: "xml",
  list: "",
  path: "",
  name: "",
  flag: "maybe",
  workers: "0",
};

Deno.test("parseArgs rejects a bad value of every flag naming the flag, the value and what was expected", async (t) => {
  for (const setting of SETTINGS) {
    const bad = BAD_VALUE_BY_KIND[setting.kind];
    assert(bad !== undefined, `no bad value for kind ${setting.kind}`);
    const target = setting.flag === "--target" ? [] : TARGET;
    await t.step(`${setting.flag}=${bad}`, () => {
      assertRejectsArgs(
        [`${setting.flag}=${bad}`, ...target],
        setting.flag,
        bad,
      );
    });
    if (setting.kind !== "flag") {
      await t.step(`${setting.flag} ${bad}`, () => {
        assertRejectsArgs([setting.flag, bad, ...target], setting.flag, bad);
      });
    }
  }
});

Deno.test("parseArgs rejects a value flag at the end without its value", async (t) => {
  for (const setting of SETTINGS.filter((item) => item.kind !== "flag")) {
    await t.step(setting.flag, () => {
      const argv = setting.flag === "--target"
        ? ["--target"]
        : [...TARGET, setting.flag];
      assertRejectsArgs(argv, setting.flag, undefined);
    });
  }
});

Deno.test("parseArgs rejects malformed values naming the flag, the value and what was expected", async (t) => {
  // [case name, argv, the flag, the offending value]
  const cases: [string, string[], string, string][] = [
    [
      "--listen without a port",
      ["--listen", "localhost"],
      "--listen",
      "localhost",
    ],
    [
      "--listen port out of range",
      [
        "--listen",
        "127.0.0.1:70000",
      ],
      "--listen",
      "127.0.0.1:70000",
    ],
    ["--listen unclosed IPv6", ["--listen=[::1"], "--listen", "[::1"],
    [
      "--framing-to-backend bad option",
      [
        "--framing-to-backend",
        "u32be,max=0",
      ],
      "--framing-to-backend",
      "u32be,max=0",
    ],
    [
      "--framing-to-browser unknown kind",
      [
        "--framing-to-browser=json",
      ],
      "--framing-to-browser",
      "json",
    ],
    [
      "--connect-timeout negative",
      [
        "--connect-timeout=-1",
      ],
      "--connect-timeout",
      "-1",
    ],
    [
      "--idle-timeout unknown unit",
      [
        "--idle-timeout",
        "5d",
      ],
      "--idle-timeout",
      "5d",
    ],
    ["--buffer fraction", ["--buffer", "1.5k"], "--buffer", "1.5k"],
    [
      "--max-sessions negative",
      [
        "--max-sessions",
        "-1",
      ],
      "--max-sessions",
      "-1",
    ],
    ["--workers negative", ["--workers=-2"], "--workers", "-2"],
    ["--log-level unknown", ["--log-level", "loud"], "--log-level", "loud"],
    ["--console with a word", ["--console=no"], "--console", "no"],
  ];
  for (const [name, argv, flag, value] of cases) {
    await t.step(
      name,
      () => assertRejectsArgs([...argv, ...TARGET], flag, value),
    );
  }
});

// Regression: a zero size or count passed parseArgs and was only refused by
// resolveOptions as `bufferBytes: ...` (twice, with `routes[0].bufferBytes`),
// naming neither the flag the user typed nor its value.
Deno.test("buildRunConfig rejects a zero --buffer, --max-head or --max-sessions naming the flag", async (t) => {
  for (const flag of ["--buffer", "--max-head", "--max-sessions"]) {
    await t.step(
      flag,
      () => assertRejectsArgs([flag, "0", ...TARGET], flag, "0"),
    );
  }
});

Deno.test("parseArgs rejects unknown flags and stray arguments with one line", async (t) => {
  const cases: [string, string[], string][] = [
    ["unknown flag", ["--bogus", ...TARGET], "--bogus"],
    ["unknown flag with =", ["--bogus=1", ...TARGET], "--bogus"],
    ["single dash", ["-x", ...TARGET], "-x"],
    ["stray argument", ["stray", ...TARGET], "stray"],
    ["demo not first", [...TARGET, "demo"], "demo"],
    ["boolean flag followed by a word", [
      "--console",
      "false",
      ...TARGET,
    ], "false"],
  ];
  for (const [name, argv, needle] of cases) {
    await t.step(name, () => {
      const problems = problemsOf(() => parseArgs(argv));
      assertEquals(problems.length, 1, problems.join("\n"));
      assert(problems[0]!.includes(needle), `"${problems[0]}" lacks ${needle}`);
      assert(problems[0]!.includes("--help"), `"${problems[0]}" lacks --help`);
    });
  }
});

// Regression: parseArgs passed --target through unchecked, so a bad target
// surfaced later as `routes[0].target: ...`, naming a config path instead of
// the flag the user typed.
Deno.test("parseArgs rejects a bad --target value naming the flag and value", async (t) => {
  const cases: [string, string][] = [
    ["no port", "nope"],
    ["port out of range", "127.0.0.1:99999"],
    ["port 0", "127.0.0.1:0"],
    ["relative unix path", "unix:run/app.sock"],
    ["empty host", ":9000"],
  ];
  for (const [name, value] of cases) {
    await t.step(
      name,
      () => assertRejectsArgs(["--target", value], "--target", value),
    );
    await t.step(`${name} with =`, () => {
      assertRejectsArgs([`--target=${value}`], "--target", value);
    });
  }
});

Deno.test("parseArgs accepts IPv6, host name and unix targets", () => {
  for (
    const target of ["[::1]:9000", "localhost:9000", "unix:/tmp/wsgate.sock"]
  ) {
    assertEquals(runConfig(["--target", target]).options.routes, [
      { path: "/", target },
    ]);
  }
});

Deno.test("buildRunConfig refuses a run without --target or routes", () => {
  const problems = problemsOf(() => runConfig(["--listen", "127.0.0.1:0"]));
  assertEquals(problems.length, 1, problems.join("\n"));
  assert(problems[0]!.startsWith("--target: "), problems[0]);
  assert(problems[0]!.includes("expected"), problems[0]);
});

Deno.test("buildRunConfig refuses --framing without --target", async (t) => {
  for (
    const flag of ["--framing", "--framing-to-backend", "--framing-to-browser"]
  ) {
    await t.step(flag, () => {
      const argv = [flag, "raw", "--listen", "127.0.0.1:0"];
      const problems = problemsOf(() => runConfig(argv));
      assert(
        problems.some((line) =>
          line.includes("--framing") && line.includes("--target")
        ),
        problems.join("\n"),
      );
    });
  }
});

Deno.test("buildRunConfig refuses --cert without --key and --key without --cert", async (t) => {
  for (const flag of ["--cert", "--key"]) {
    await t.step(flag, () => {
      const problems = problemsOf(() =>
        runConfig([flag, "/tls/x.pem", ...TARGET])
      );
      assertEquals(problems.length, 1, problems.join("\n"));
      assert(problems[0]!.includes("--cert"), problems[0]);
      assert(problems[0]!.includes("--key"), problems[0]);
    });
  }
});

Deno.test("buildRunConfig builds a demo that needs no --target", async (t) => {
  await t.step("demo --listen", () => {
    const command = parseArgs(["demo", "--listen", "127.0.0.1:0"]);
    assertEquals(runCommand(command).kind, "demo");
    assertEquals(runConfig(["demo", "--listen", "127.0.0.1:0"]), {
      options: { hostname: "127.0.0.1", port: 0, routes: [] },
      cli: defaultCliSettings(),
    });
  });
  await t.step("demo with --target adds the route", () => {
    assertEquals(runConfig(["demo", ...TARGET]).options.routes, [
      TARGET_ROUTE,
    ]);
  });
  await t.step("demo rejects bad values like run", () => {
    assertRejectsArgs(["demo", "--listen", "nope"], "--listen", "nope");
  });
});

Deno.test("buildRunConfig lets command-line flags override the config file", () => {
  const file = {
    listen: "127.0.0.1:1",
    pingInterval: "5s",
    idleTimeout: 30,
    logFormat: "json",
    logLevel: "warn",
    console: false,
    workers: 2,
    target: "127.0.0.1:8",
    framing: "raw",
  };
  const config = runConfig([
    "--listen",
    "127.0.0.1:2",
    "--ping-interval=1s",
    "--log-format",
    "text",
    "--console",
    "--target",
    "127.0.0.1:9",
  ], file);
  assertEquals(config.options, {
    hostname: "127.0.0.1",
    port: 2,
    pingIntervalMs: 1000,
    idleTimeoutMs: 30000,
    console: true,
    routes: [{ path: "/", target: "127.0.0.1:9", framing: "raw" }],
  });
  assertEquals(config.cli, {
    ...defaultCliSettings(),
    logFormat: "text",
    logLevel: "warn",
    workers: 2,
  });
});

Deno.test("buildRunConfig keeps the file's routes and adds --target last at /", () => {
  const file = {
    routes: [
      { path: "/a", target: "127.0.0.1:1" },
      { path: "/b", target: "127.0.0.1:2" },
    ],
  };
  assertEquals(runConfig([], file).options.routes, file.routes);
  // Last, so problems about the file's routes keep the file's indices.
  assertEquals(runConfig(TARGET, file).options.routes, [
    ...file.routes,
    TARGET_ROUTE,
  ]);
});

Deno.test("buildRunConfig refuses --target when the file has a route at /", () => {
  const file = { routes: [{ path: "/", target: "127.0.0.1:1" }] };
  const problems = problemsOf(() => runConfig(TARGET, file));
  assertEquals(problems.length, 1, problems.join("\n"));
  assert(problems[0]!.startsWith("--target: "), problems[0]);
});

Deno.test("buildRunConfig resolves the file's relative paths against its directory and the flags' against the working directory", () => {
  const config = runConfig(
    ["--static", "public", "--ticket-secret-file=/abs/secret"],
    {
      cert: "tls/cert.pem",
      key: "/abs/key.pem",
      static: "www",
      ticketSecretFile: "secret.txt",
      routes: [{ path: "/a", target: "127.0.0.1:1", record: "rec" }],
    },
    "/etc/wsgate",
  );
  assertEquals(config.options.tls, {
    certFile: "/etc/wsgate/tls/cert.pem",
    keyFile: "/abs/key.pem",
  });
  assert(
    ["public", "./public"].includes(config.options.staticDir ?? ""),
    `--static public became ${config.options.staticDir}`,
  );
  assertEquals(config.cli.ticketSecretFile, "/abs/secret");
  assertEquals(config.options.routes?.[0]?.recordDir, "/etc/wsgate/rec");
});

Deno.test("buildRunConfig reports every problem of the file and the flags at once", () => {
  const problems = problemsOf(() =>
    runConfig(["--cert", "/c.pem", ...TARGET], {
      listen: "nope",
      bogus: 1,
      routes: [
        { path: "/", target: "127.0.0.1:1" },
        { path: "/b", target: "127.0.0.1:2", framing: "u7" },
      ],
    })
  );
  const prefixes = problems.map((line) => line.slice(0, line.indexOf(": ")));
  assertEquals(prefixes.sort(), [
    "--cert/--key",
    "--target",
    "bogus",
    "listen",
    "routes[1].framing",
  ]);
});

Deno.test("parseArgs parses the ticket command", async (t) => {
  await t.step("defaults: 60 s, secret from WSGATE_TICKET_SECRET", () => {
    assertEquals(parseArgs(["ticket", "--route", "/chat"]), {
      kind: "ticket",
      route: "/chat",
      target: undefined,
      ttlSec: 60,
      withJti: false,
      secretFile: undefined,
      secretEnv: "WSGATE_TICKET_SECRET",
    });
  });
  await t.step("every flag", () => {
    assertEquals(
      parseArgs([
        "ticket",
        "--jti",
        "--route",
        "/vnc",
        "--target",
        "10.0.0.5:5900",
        "--ttl",
        "300",
        "--ticket-secret-env",
        "MY_SECRET",
      ]),
      {
        kind: "ticket",
        route: "/vnc",
        target: "10.0.0.5:5900",
        ttlSec: 300,
        withJti: true,
        secretFile: undefined,
        secretEnv: "MY_SECRET",
      },
    );
  });
  await t.step("a secret file replaces the default variable", () => {
    assertEquals(
      parseArgs([
        "ticket",
        "--route",
        "/chat",
        "--ticket-secret-file",
        "/run/secret",
      ]),
      {
        kind: "ticket",
        route: "/chat",
        target: undefined,
        ttlSec: 60,
        withJti: false,
        secretFile: "/run/secret",
        secretEnv: undefined,
      },
    );
  });
});

// Regression: `ticket --route=/chat` failed with "missing value" although
// every other flag takes the `--flag=VALUE` spelling.
Deno.test("parseArgs accepts the ticket flags as --flag=VALUE", () => {
  assertEquals(
    parseArgs(["ticket", "--route=/chat", "--ttl=30", "--target=127.0.0.1:9"]),
    parseArgs([
      "ticket",
      "--route",
      "/chat",
      "--ttl",
      "30",
      "--target",
      "127.0.0.1:9",
    ]),
  );
});

Deno.test("parseArgs rejects a bad ticket command naming the flag and the value", async (t) => {
  const cases: [string, string[], string[]][] = [
    ["no --route", ["ticket", "--ttl", "60"], ["--route", "expected"]],
    ["relative --route", ["ticket", "--route", "chat"], [
      "--route",
      '"chat"',
      "expected",
    ]],
    ["zero --ttl", ["ticket", "--route", "/a", "--ttl", "0"], [
      "--ttl",
      '"0"',
      "expected",
    ]],
    ["--ttl with a unit", ["ticket", "--route", "/a", "--ttl", "1m"], [
      "--ttl",
      '"1m"',
      "expected",
    ]],
    ["unknown flag", ["ticket", "--route", "/a", "--bogus", "1"], [
      "--bogus",
      "expected",
    ]],
    ["missing value", ["ticket", "--route"], ["--route"]],
  ];
  for (const [name, argv, needles] of cases) {
    await t.step(name, () => {
      const problems = problemsOf(() => parseArgs(argv));
      assertEquals(problems.length, 1, problems.join("\n"));
      assert(problems[0]!.startsWith("ticket "), problems[0]);
      for (const needle of needles) {
        assert(
          problems[0]!.includes(needle),
          `"${problems[0]}" lacks ${needle}`,
        );
      }
    });
  }
});

Deno.test("parseArgs parses replay FILE and refuses anything else", async (t) => {
  await t.step("replay FILE", () => {
    assertEquals(parseArgs(["replay", "rec/s1.wsrec"]), {
      kind: "replay",
      file: "rec/s1.wsrec",
    });
  });
  const bad: [string, string[]][] = [
    ["no file", ["replay"]],
    ["two files", ["replay", "a", "b"]],
    ["a flag instead of a file", ["replay", "--listen"]],
  ];
  for (const [name, argv] of bad) {
    await t.step(name, () => {
      const problems = problemsOf(() => parseArgs(argv));
      assertEquals(problems.length, 1, problems.join("\n"));
      assert(problems[0]!.startsWith("replay: "), problems[0]);
      assert(problems[0]!.includes("FILE"), problems[0]);
    });
  }
});

Deno.test("parseDurationMs and parseByteSize are re-exported for the CLI", () => {
  assertEquals(parseDurationMs("5m"), 300000);
  assertEquals(parseByteSize("64k"), 65536);
});

Deno.test("helpText lists every flag with its config key and every command", () => {
  const text = helpText("9.9.9");
  assert(text.startsWith("wsgate 9.9.9"));
  for (const setting of SETTINGS) {
    const line = text.split("\n").find((item) =>
      item.trimStart().startsWith(`${setting.flag} `)
    );
    assert(line !== undefined, `help lacks ${setting.flag}`);
    assert(
      line.includes(`[${setting.key}]`),
      `"${line}" lacks [${setting.key}]`,
    );
  }
  for (
    const needle of [
      "--config",
      "--help",
      "--version",
      " demo",
      " ticket",
      " replay",
    ]
  ) {
    assert(text.includes(needle), `help lacks ${needle}`);
  }
});

// Regression (issue 18): a refused route was followed by a spurious
// "--target: missing", which sent new users looking for the wrong mistake.
Deno.test("buildRunConfig reports a refused route or --framing without --target once, without a spurious --target: missing", async (t) => {
  for (
    const [name, argv, file, expected] of [
      ["a route with a bad target", [], {
        routes: [{ path: "/x", target: "nope" }],
      }, /^routes\[0\]\.target: /],
      ["a route without a path", [], {
        routes: [{ target: "127.0.0.1:9" }],
      }, /^routes\[0\]\.path: missing/],
      [
        "routes that are not a list",
        [],
        { routes: { path: "/x" } },
        /^routes: /,
      ],
      [
        "--framing without --target",
        ["--framing", "u32be"],
        undefined,
        /--target is missing/,
      ],
    ] as const
  ) {
    await t.step(name, () => {
      const problems = problemsOf(() => runConfig(argv, file));
      assertEquals(problems.length, 1, problems.join("\n"));
      assert(expected.test(problems[0]!), problems[0]);
    });
  }
  await t.step("no routes at all still says --target: missing", () => {
    const problems = problemsOf(() => runConfig([], { routes: [] }));
    assertEquals(problems.length, 1, problems.join("\n"));
    assert(problems[0]!.startsWith("--target: missing"), problems[0]);
  });
});

Deno.test("parseArgs takes --quiet as a command-line-only flag", () => {
  const command = runCommand(parseArgs(["--quiet", ...TARGET]));
  assertEquals(command.isQuiet, true);
  assertEquals(command.flags.length, 1);
  assertEquals(runCommand(parseArgs(TARGET)).isQuiet, undefined);
});

Deno.test("parseArgs takes --check-targets[=true|false] as a command-line-only flag", () => {
  assertEquals(
    runCommand(parseArgs(["--check-targets", ...TARGET])).isTargetCheck,
    true,
  );
  const off = runCommand(parseArgs(["--check-targets=false", ...TARGET]));
  assertEquals([off.isTargetCheck, off.flags.length], [false, 1]);
  assertEquals(runCommand(parseArgs(TARGET)).isTargetCheck, undefined);
  assertEquals(problemsOf(() => parseArgs(["--check-targets=maybe"])), [
    '--check-targets: invalid value "maybe" (expected true or false)',
  ]);
});
