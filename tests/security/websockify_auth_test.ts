import { assertEquals, assertThrows } from "../_util/assert.ts";
import {
  basicHttpAuth,
  expectOrigin,
} from "../../src/security/websockify_auth.ts";

function headers(entries: [string, string][]): Map<string, string> {
  return new Map(entries);
}

Deno.test("basicHttpAuth lets the right credentials through", () => {
  const check = basicHttpAuth("alice:pa:ss");
  assertEquals(
    check(headers([["authorization", `Basic ${btoa("alice:pa:ss")}`]])),
    undefined,
  );
});

Deno.test("basicHttpAuth demands credentials with 401 and WWW-Authenticate", async (t) => {
  const check = basicHttpAuth("alice:secret");
  for (
    const [name, entries] of [
      ["missing header", []],
      ["wrong password", [["authorization", `Basic ${btoa("alice:nope")}`]]],
      ["password prefix", [["authorization", `Basic ${btoa("alice:secre")}`]]],
    ] as [string, [string, string][]][]
  ) {
    await t.step(name, () => {
      const refusal = check(headers(entries));
      assertEquals(refusal?.status, 401);
      assertEquals(refusal?.headers, {
        "www-authenticate": 'Basic realm="Websockify"',
      });
    });
  }
});

Deno.test("basicHttpAuth answers 403 to a malformed Authorization", async (t) => {
  const check = basicHttpAuth("alice:secret");
  for (
    const value of ["Bearer x", "Basic !!!", `Basic ${btoa("nocolon")}`]
  ) {
    await t.step(value, () => {
      assertEquals(
        check(headers([["authorization", value]]))?.status,
        403,
      );
    });
  }
});

Deno.test("basicHttpAuth refuses a source without a colon", () => {
  assertThrows(() => basicHttpAuth("alice"), SyntaxError);
});

Deno.test("expectOrigin refuses unlisted and missing origins with 403", () => {
  const check = expectOrigin(" https://a.example\thttps://b.example ");
  assertEquals(check(headers([["origin", "https://a.example"]])), undefined);
  const refusal = check(headers([["origin", "https://c.example"]]));
  assertEquals(refusal?.status, 403);
  assertEquals(refusal?.body, "Invalid Origin");
  assertEquals(check(headers([]))?.status, 403);
});
