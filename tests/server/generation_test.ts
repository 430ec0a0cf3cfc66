import {
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
} from "../_util/assert.ts";
import { resolveOptions } from "../../src/config/config.ts";
import { ConfigError } from "../../src/errors.ts";
import {
  buildGeneration,
  initGeneration,
} from "../../src/server/generation.ts";

const TARGET = "127.0.0.1:9";

async function withTempDir(
  body: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function initProblems(
  generation: ReturnType<typeof buildGeneration>,
): Promise<readonly string[]> {
  let problems: readonly string[] = [];
  await assertRejects(initGeneration(generation), (error: unknown) => {
    assert(error instanceof ConfigError, String(error));
    problems = error.problems;
    return true;
  });
  return problems;
}

Deno.test("buildGeneration leaves trustedProxies undefined when none are configured", () => {
  const generation = buildGeneration(
    resolveOptions({ routes: [{ path: "/", target: TARGET }] }),
  );
  assertStrictEquals(generation.trustedProxies, undefined);
  assertStrictEquals(generation.staticFiles, undefined);
  assertStrictEquals(generation.backendTls.size, 0);
});

Deno.test("buildGeneration compiles trustedProxies into a matcher over IPv4, IPv6 and mapped addresses", () => {
  const generation = buildGeneration(resolveOptions({
    trustedProxies: ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"],
  }));
  const isTrusted = generation.trustedProxies!;
  assertStrictEquals(isTrusted("10.255.0.1"), true);
  assertStrictEquals(isTrusted("11.0.0.1"), false);
  assertStrictEquals(isTrusted("2001:db8::7"), true);
  assertStrictEquals(isTrusted("2001:db9::7"), false);
  assertStrictEquals(isTrusted("192.0.2.1"), true);
  assertStrictEquals(isTrusted("192.0.2.2"), false);
  assertStrictEquals(isTrusted("::ffff:10.0.0.1"), true);
  assertStrictEquals(isTrusted("not an address"), false);
});

Deno.test("buildGeneration gives each generation its own policy", () => {
  const config = resolveOptions({ maxSessions: 1 });
  const first = buildGeneration(config);
  const second = buildGeneration(config);
  assertStrictEquals(first.config, config);
  assert(first.policy !== second.policy);
});

Deno.test("initGeneration opens the static root and reads backend TLS settings per route", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/ca.pem`,
      "-----BEGIN CERTIFICATE-----\nx\n",
    );
    await Deno.writeTextFile(`${dir}/index.html`, "hi");
    const generation = buildGeneration(resolveOptions({
      staticDir: dir,
      routes: [
        { path: "/plain", target: TARGET },
        { path: "/tls", target: TARGET, backendTls: true },
        {
          path: "/ca",
          target: TARGET,
          backendTls: { caFile: `${dir}/ca.pem`, serverName: "db.internal" },
        },
      ],
    }));
    await initGeneration(generation);
    assert(generation.staticFiles !== undefined);
    const index = await generation.staticFiles.resolve("/");
    if (index.body instanceof Deno.FsFile) index.body.close();
    assertStrictEquals(index.status, 200);
    assertEquals([...generation.backendTls.keys()], ["/tls", "/ca"]);
    assertEquals(generation.backendTls.get("/tls"), {});
    assertEquals(generation.backendTls.get("/ca"), {
      serverName: "db.internal",
      caCerts: ["-----BEGIN CERTIFICATE-----\nx\n"],
    });
  });
});

Deno.test("initGeneration loads token files and the ticket key without problems", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/tokens`, "vm1: 127.0.0.1:5901\n");
    const generation = buildGeneration(resolveOptions({
      ticketSecret: "0123456789abcdef0123456789abcdef",
      routes: [{ path: "/t", tokens: `${dir}/tokens`, requireTicket: true }],
    }));
    await initGeneration(generation);
  });
});

Deno.test("initGeneration reports a missing static root, CA file, TLS files and token file together", async () => {
  const generation = buildGeneration(resolveOptions({
    staticDir: "/nonexistent/wsgate/static",
    tls: {
      certFile: "/nonexistent/wsgate/cert.pem",
      keyFile: "/nonexistent/wsgate/key.pem",
    },
    routes: [
      { path: "/t", tokens: "/nonexistent/wsgate/tokens" },
      {
        path: "/ca",
        target: TARGET,
        backendTls: { caFile: "/nonexistent/wsgate/ca.pem" },
      },
    ],
  }));
  const problems = await initProblems(generation);
  const prefixes = [
    "route /t: tokens: ",
    "staticDir: ",
    "route /ca: backendTls.caFile: ",
    "tls: ",
    "tls: ",
  ];
  assertStrictEquals(problems.length, prefixes.length, problems.join("\n"));
  for (const [i, prefix] of prefixes.entries()) {
    assert(problems[i]!.startsWith(prefix), problems[i]);
  }
  assert(problems[1]!.includes('"/nonexistent/wsgate/static"'), problems[1]);
});
