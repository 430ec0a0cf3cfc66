import { assertEquals, assertRejects } from "../_util/assert.ts";
import {
  importJwtKey,
  JwtTokenResolver,
} from "../../src/routing/jwt_token_api.ts";
import { signJwt as sign } from "../_util/jwt.ts";

const NOW_MS = 1_000_000 * 1000;

async function resolveDetail(resolver: JwtTokenResolver, token: string) {
  const resolution = await resolver.resolve(token);
  return resolution.kind === "refuse"
    ? `${resolution.status} ${resolution.detail}`
    : resolution.target;
}

Deno.test("JwtTokenResolver reads host and port claims of a valid HS256 token", async () => {
  // websockify's own test fixture key file holds "secret_sauce".
  const key = await importJwtKey("secret_sauce");
  const resolver = new JwtTokenResolver(key, { now: () => NOW_MS });
  assertEquals(
    await resolveDetail(
      resolver,
      await sign({ host: "vm", port: "5901" }, key),
    ),
    { transport: "tcp", hostname: "vm", port: 5901 },
  );
  assertEquals(
    await resolveDetail(
      resolver,
      await sign({ host: "vm", port: 5900, nbf: 999_999, exp: 1_000_001 }, key),
    ),
    { transport: "tcp", hostname: "vm", port: 5900 },
  );
});

Deno.test("JwtTokenResolver refuses with 404 and a log reason", async (t) => {
  const key = await importJwtKey("secret_sauce");
  const other = await importJwtKey("other_sauce_");
  const resolver = new JwtTokenResolver(key, { now: () => NOW_MS });
  const cases: [string, () => Promise<string>, RegExp][] = [
    [
      "not yet valid",
      () => sign({ host: "h", port: 1, nbf: 1_000_001 }, key),
      /nbf/,
    ],
    ["expired", () => sign({ host: "h", port: 1, exp: 999_999 }, key), /exp/],
    [
      "signed with another key",
      () => sign({ host: "h", port: 1 }, other),
      /bad JWT signature/,
    ],
    [
      "alg none",
      () => sign({ host: "h", port: 1 }, key, { alg: "none" }),
      /not HS256/,
    ],
    ["no port", () => sign({ host: "h" }, key), /host and port/],
    [
      "port out of range",
      () => sign({ host: "h", port: 70000 }, key),
      /host and port/,
    ],
    ["JWE (five parts)", () => Promise.resolve("a.b.c.d.e"), /JWE/],
    ["garbage", () => Promise.resolve("a.b.c"), /malformed/],
  ];
  for (const [name, make, pattern] of cases) {
    await t.step(name, async () => {
      const detail = await resolveDetail(resolver, await make());
      assertEquals(typeof detail, "string");
      assertEquals((detail as string).startsWith("404 "), true);
      assertEquals(pattern.test(detail as string), true, detail as string);
    });
  }
});

Deno.test("importJwtKey refuses an empty key file", async () => {
  await assertRejects(async () => await importJwtKey("\n"), SyntaxError);
});
