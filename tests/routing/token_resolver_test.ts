import { assertEquals } from "../_util/assert.ts";
import {
  tokenOfRequest,
  unknownToken,
} from "../../src/routing/token_resolver.ts";

function request(query: string, host?: string) {
  return {
    query: new URLSearchParams(query),
    headers: new Map(host === undefined ? [] : [["host", host]]),
  };
}

Deno.test("tokenOfRequest reads ?token= as websockify does", () => {
  assertEquals(
    tokenOfRequest(request("token=vm1"), { isHostToken: false }),
    "vm1",
  );
  assertEquals(
    tokenOfRequest(request("token=vm1%0A"), { isHostToken: false }),
    "vm1",
  );
  assertEquals(
    tokenOfRequest(request("token="), { isHostToken: false }),
    undefined,
  );
  assertEquals(tokenOfRequest(request(""), { isHostToken: false }), undefined);
});

Deno.test("tokenOfRequest with --host-token reads the Host header without its port", () => {
  assertEquals(
    tokenOfRequest(request("token=x", "vm2.example:6080"), {
      isHostToken: true,
    }),
    "vm2.example",
  );
  assertEquals(
    tokenOfRequest(request("token=x", "vm3"), { isHostToken: true }),
    "vm3",
  );
  assertEquals(
    tokenOfRequest(request("token=x"), { isHostToken: true }),
    undefined,
  );
});

Deno.test("unknownToken answers 404 and cuts the token in the log", () => {
  const refusal = unknownToken("x".repeat(100), "why");
  assertEquals(refusal.status, 404);
  assertEquals(refusal.body, "Unknown token");
  assertEquals(refusal.detail, `unknown token "${"x".repeat(64)}": why`);
});
