import { assert, assertEquals, assertThrows } from "../_util/assert.ts";
import {
  convertValue,
  defaultCliSettings,
  EXPECTED,
  parseByteSize,
  parseDurationMs,
  type SettingDefinition,
  type SettingKind,
  SETTINGS,
  type SettingTargets,
} from "../../src/config/settings.ts";

/** The setting with `flag`. */
function setting(flag: string): SettingDefinition {
  const found = SETTINGS.find((item) => item.flag === flag);
  assert(found !== undefined, `no setting ${flag}`);
  return found;
}

/** Fresh targets whose relative paths resolve against `baseDir`. */
function freshTargets(baseDir = "/etc/wsgate"): SettingTargets {
  return { options: {}, route: {}, cli: defaultCliSettings(), baseDir };
}

/** Converts `raw` for `flag` and applies it to `targets`. */
function apply(flag: string, raw: unknown, targets: SettingTargets): void {
  const definition = setting(flag);
  definition.apply(convertValue(definition, raw), targets);
}

/** `--max-sessions-per-ip` -> `maxSessionsPerIp`. */
function camelKey(flag: string): string {
  return flag.slice(2).replace(
    /-([a-z])/g,
    (_, letter) => letter.toUpperCase(),
  );
}

Deno.test("SETTINGS pairs every flag with the camelCase config key of the same name", () => {
  for (const { flag, key } of SETTINGS) {
    assert(/^--[a-z]+(-[a-z]+)*$/.test(flag), `${flag} is not --kebab-case`);
    assertEquals(key, camelKey(flag), `${flag} has the key ${key}`);
  }
});

Deno.test("SETTINGS has no repeated flag or key", () => {
  const flags = SETTINGS.map((item) => item.flag);
  const keys = SETTINGS.map((item) => item.key);
  assertEquals(new Set(flags).size, flags.length, flags.join(" "));
  assertEquals(new Set(keys).size, keys.length, keys.join(" "));
  assert(!keys.includes("routes"), "routes is the file's own key");
  assert(!flags.includes("--config"), "--config is not a file setting");
});

Deno.test("SETTINGS documents every setting and gives choices to choice settings", () => {
  for (const item of SETTINGS) {
    assert(item.help.length > 0, `${item.flag} has no help`);
    assert(EXPECTED[item.kind].length > 0, `${item.kind} has no wording`);
    if (item.kind === "choice") {
      assert((item.choices?.length ?? 0) > 1, `${item.flag} has no choices`);
    }
    if (item.isRepeatable === true) {
      assertEquals(item.kind, "list", `${item.flag} repeats but is no list`);
    }
  }
});

Deno.test("convertValue accepts each kind's strings and, from a file, its numbers and lists", async (t) => {
  // [flag, raw value, converted value]
  const cases: [string, unknown, unknown][] = [
    ["--listen", "0.0.0.0:8080", { hostname: "0.0.0.0", port: 8080 }],
    ["--listen", "[::1]:0", { hostname: "::1", port: 0 }],
    ["--listen", "unix:/run/wsgate.sock", { unixSocket: "/run/wsgate.sock" }],
    ["--target", "127.0.0.1:9000", "127.0.0.1:9000"],
    ["--target", "unix:/run/app.sock", "unix:/run/app.sock"],
    ["--framing", "u32be,max=1m", "u32be,max=1m"],
    ["--ping-interval", "500ms", 500],
    ["--ping-interval", "20", 20000],
    ["--ping-interval", 20, 20000],
    ["--ping-interval", 0.5, 500],
    ["--buffer", "64k", 65536],
    ["--buffer", 4096, 4096],
    ["--max-sessions", "10", 10],
    ["--max-sessions", 10, 10],
    ["--log-format", "json", "json"],
    ["--log-level", "warn", "warn"],
    ["--allow-origin", "https://a.test", ["https://a.test"]],
    ["--allow-origin", ["https://a.test", "*"], ["https://a.test", "*"]],
    ["--trust-proxy", [], []],
    ["--static", "www", "www"],
    ["--ticket-secret-env", "SECRET", "SECRET"],
    ["--console", true, true],
    ["--console", "false", false],
    ["--workers", "auto", 0],
    ["--workers", 3, 3],
  ];
  for (const [flag, raw, expected] of cases) {
    await t.step(`${flag} ${JSON.stringify(raw)}`, () => {
      assertEquals(convertValue(setting(flag), raw), expected);
    });
  }
});

Deno.test("convertValue rejects a bad value saying what its kind expects", async (t) => {
  // [flag, raw value]
  const cases: [string, unknown][] = [
    ["--listen", "8080"],
    ["--listen", 8080],
    ["--listen", "127.0.0.1:65536"],
    ["--listen", "unix:"],
    ["--target", "nope"],
    ["--target", "127.0.0.1:0"],
    ["--target", true],
    ["--framing", "u7"],
    ["--framing", 32],
    ["--ping-interval", "soon"],
    ["--ping-interval", -1],
    ["--ping-interval", null],
    ["--buffer", "1g"],
    ["--buffer", 1.5],
    ["--buffer", [1]],
    ["--max-sessions", "-1"],
    ["--max-sessions", 2.5],
    ["--log-format", "xml"],
    ["--log-format", 1],
    ["--allow-origin", ""],
    ["--allow-origin", ["https://a.test", 1]],
    ["--allow-origin", { origin: "https://a.test" }],
    ["--static", ""],
    ["--ticket-secret-env", ""],
    ["--console", "yes"],
    ["--console", 1],
    ["--workers", "0"],
    ["--workers", 0],
    ["--workers", "two"],
  ];
  for (const [flag, raw] of cases) {
    await t.step(`${flag} ${JSON.stringify(raw)}`, () => {
      const definition = setting(flag);
      assertThrows(() => convertValue(definition, raw), (error: unknown) => {
        assert(error instanceof Error);
        assert(
          /expected|must be/.test(error.message),
          `"${error.message}" does not say what is expected`,
        );
        return true;
      });
    });
  }
});

Deno.test("convertValue words every kind's error with EXPECTED or the listed choices", async (t) => {
  const byKind = new Map<SettingKind, SettingDefinition>();
  for (const item of SETTINGS) {
    if (!byKind.has(item.kind)) byKind.set(item.kind, item);
  }
  for (const [kind, definition] of byKind) {
    // A structured value no kind accepts: the error is the generic one.
    await t.step(kind, () => {
      assertThrows(
        () => convertValue(definition, { nope: true }),
        (error: unknown) => {
          assert(error instanceof TypeError, String(error));
          const wording = kind === "choice"
            ? definition.choices!.join(", ")
            : EXPECTED[kind];
          assert(
            error.message.includes(wording),
            `"${error.message}" lacks "${wording}"`,
          );
          return true;
        },
      );
    });
  }
});

Deno.test("SETTINGS resolves relative paths against the base directory and keeps absolute ones", async (t) => {
  await t.step("relative", () => {
    const targets = freshTargets("/etc/wsgate");
    apply("--ticket-secret-file", "secret.txt", targets);
    apply("--cert", "tls/cert.pem", targets);
    apply("--key", "tls/key.pem", targets);
    apply("--static", "www", targets);
    assertEquals(targets.cli.ticketSecretFile, "/etc/wsgate/secret.txt");
    assertEquals(targets.options.tls, {
      certFile: "/etc/wsgate/tls/cert.pem",
      keyFile: "/etc/wsgate/tls/key.pem",
    });
    assertEquals(targets.options.staticDir, "/etc/wsgate/www");
  });
  await t.step("absolute", () => {
    const targets = freshTargets("/etc/wsgate");
    apply("--ticket-secret-file", "/run/secret", targets);
    apply("--static", "/srv/www", targets);
    assertEquals(targets.cli.ticketSecretFile, "/run/secret");
    assertEquals(targets.options.staticDir, "/srv/www");
  });
});

Deno.test("SETTINGS --cert and --key fill one tls pair in either order", async (t) => {
  await t.step("cert then key", () => {
    const targets = freshTargets("/d");
    apply("--cert", "/c.pem", targets);
    apply("--key", "/k.pem", targets);
    assertEquals(targets.options.tls, {
      certFile: "/c.pem",
      keyFile: "/k.pem",
    });
  });
  await t.step("key then cert", () => {
    const targets = freshTargets("/d");
    apply("--key", "/k.pem", targets);
    apply("--cert", "/c.pem", targets);
    assertEquals(targets.options.tls, {
      certFile: "/c.pem",
      keyFile: "/k.pem",
    });
  });
  await t.step("key alone leaves the certificate empty", () => {
    const targets = freshTargets("/d");
    apply("--key", "/k.pem", targets);
    assertEquals(targets.options.tls, { certFile: "", keyFile: "/k.pem" });
  });
});

Deno.test("SETTINGS lists append, and '*' in --allow-origin allows every origin for good", () => {
  const targets = freshTargets();
  apply("--allow-origin", ["https://a.test"], targets);
  apply("--allow-origin", "https://b.test", targets);
  assertEquals(targets.options.allowOrigins, [
    "https://a.test",
    "https://b.test",
  ]);
  apply("--allow-origin", "*", targets);
  apply("--allow-origin", "https://c.test", targets);
  assertEquals(targets.options.allowOrigins, "*");
  apply("--trust-proxy", ["10.0.0.0/8"], targets);
  apply("--trust-proxy", "192.168.0.0/16", targets);
  assertEquals(targets.options.trustedProxies, [
    "10.0.0.0/8",
    "192.168.0.0/16",
  ]);
});

Deno.test("SETTINGS --admin-listen moves /metrics off the gateway port", () => {
  const targets = freshTargets();
  apply("--admin-listen", "127.0.0.1:9100", targets);
  assertEquals(targets.cli.adminListen, { hostname: "127.0.0.1", port: 9100 });
  assertEquals(targets.options.metricsOnGatewayPort, false);
});

Deno.test("SETTINGS --log-traffic above 0 turns on debug lines and 0 leaves the level", () => {
  const on = freshTargets();
  apply("--log-traffic", "128", on);
  assertEquals([on.options.logTrafficBytes, on.cli.logLevel], [128, "debug"]);
  const off = freshTargets();
  apply("--log-level", "warn", off);
  apply("--log-traffic", "0", off);
  assertEquals([off.options.logTrafficBytes, off.cli.logLevel], [0, "warn"]);
});

Deno.test("SETTINGS --target and --framing build the single route, not the route list", () => {
  const targets = freshTargets();
  apply("--target", "127.0.0.1:9000", targets);
  apply("--framing", "raw", targets);
  apply("--framing-to-backend", "u16be", targets);
  apply("--framing-to-browser", "lines", targets);
  assertEquals(targets.route, {
    target: "127.0.0.1:9000",
    framing: "raw",
    framingToBackend: "u16be",
    framingToBrowser: "lines",
  });
  assertEquals(targets.options.routes, undefined);
});

Deno.test("defaultCliSettings returns a fresh object with the documented defaults", () => {
  const first = defaultCliSettings();
  assertEquals(first, {
    logFormat: "text",
    logLevel: "info",
    workers: 1,
    adminListen: undefined,
    watchConfig: false,
    ticketSecretFile: undefined,
    ticketSecretEnv: undefined,
  });
  first.workers = 8;
  assertEquals(defaultCliSettings().workers, 1);
});

Deno.test("parseDurationMs reads plain seconds and ms, s, m, h units", () => {
  assertEquals(
    ["20", "20s", "500ms", "1.5s", "5m", "1h", "0", " 7 "].map(parseDurationMs),
    [20000, 20000, 500, 1500, 300000, 3600000, 0, 7000],
  );
});

Deno.test("parseDurationMs refuses negative, unitless words and unknown units", () => {
  for (const text of ["", "-1", "1d", "s", "1e3", "1 s", "ms", "1.s"]) {
    assertEquals(parseDurationMs(text), undefined, JSON.stringify(text));
  }
});

Deno.test("parseByteSize reads whole bytes with k and m suffixes in either case", () => {
  assertEquals(
    ["0", "65536", "64k", "64K", "1m", "1M"].map(parseByteSize),
    [0, 65536, 65536, 65536, 1048576, 1048576],
  );
});

Deno.test("parseByteSize refuses fractions, signs and other units", () => {
  for (const text of ["", "1g", "1.5k", "-1", "k", "1kb", "0x10"]) {
    assertEquals(parseByteSize(text), undefined, JSON.stringify(text));
  }
});

Deno.test("SETTINGS --compression-memory sets the gateway's compression budget in bytes, 0 included", () => {
  const targets = freshTargets();
  apply("--compression-memory", "16m", targets);
  assertEquals(targets.options.compressionMemoryBytes, 16 * 1024 * 1024);
  apply("--compression-memory", "0", targets);
  assertEquals(targets.options.compressionMemoryBytes, 0);
});
