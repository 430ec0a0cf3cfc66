import { assert, assertEquals } from "../_util/assert.ts";
import { convertValue, EXPECTED } from "../../src/config/settings.ts";
import {
  type CliSettingDefinition,
  type CliSettingTargets,
  defaultCliSettings,
  SETTINGS,
} from "../../src/cli/cli_settings.ts";

/** The setting with `flag`. */
function setting(flag: string): CliSettingDefinition {
  const found = SETTINGS.find((item) => item.flag === flag);
  assert(found !== undefined, `no setting ${flag}`);
  return found;
}

/** Fresh targets whose relative paths resolve against `baseDir`. */
function freshTargets(baseDir = "/etc/wsgate"): CliSettingTargets {
  return { options: {}, route: {}, cli: defaultCliSettings(), baseDir };
}

/** Converts `raw` for `flag` and applies it to `targets`. */
function apply(flag: string, raw: unknown, targets: CliSettingTargets): void {
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

Deno.test("SETTINGS --compression-memory sets the gateway's compression budget in bytes, 0 included", () => {
  const targets = freshTargets();
  apply("--compression-memory", "16m", targets);
  assertEquals(targets.options.compressionMemoryBytes, 16 * 1024 * 1024);
  apply("--compression-memory", "0", targets);
  assertEquals(targets.options.compressionMemoryBytes, 0);
});
