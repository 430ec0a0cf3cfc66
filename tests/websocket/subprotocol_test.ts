import { assertEquals } from "../_util/assert.ts";
import {
  chooseSubprotocol,
  splitSubprotocols,
} from "../../src/websocket/subprotocol.ts";

Deno.test("chooseSubprotocol on a route without subprotocols relays transparently", async (t) => {
  const cases: [string, string, string | undefined][] = [
    ["nothing offered answers without the header", "", undefined],
    ["binary is answered", "binary", "binary"],
    ["binary wins over base64", "binary, base64", "binary"],
    ["binary wins wherever it is offered", "base64, binary", "binary"],
    ["binary wins over an earlier offer", "mqtt, binary", "binary"],
    ["mqtt is echoed for end-to-end protocols", "mqtt", "mqtt"],
    ["the first of two unknown offers is echoed", "foo, bar", "foo"],
    ["base64 is skipped for the next offer", "base64, mqtt", "mqtt"],
  ];
  for (const [name, header, expected] of cases) {
    await t.step(name, () => {
      assertEquals(
        chooseSubprotocol(splitSubprotocols(header), []),
        { kind: "accept", protocol: expected },
      );
    });
  }
});

Deno.test("chooseSubprotocol refuses base64 offered alone with a reason naming binary", () => {
  const choice = chooseSubprotocol(["base64"], []);
  assertEquals(choice.kind, "refuse");
  if (choice.kind === "refuse") {
    assertEquals(
      choice.body,
      "The base64 subprotocol is not supported: offer binary",
    );
  }
});

Deno.test("chooseSubprotocol on a route with subprotocols stays strict", async (t) => {
  await t.step("a listed offer is answered", () => {
    assertEquals(chooseSubprotocol(["x", "mqttv3.1", "mqtt"], ["mqtt"]), {
      kind: "accept",
      protocol: "mqtt",
    });
  });
  await t.step("binary is not answered unless listed", () => {
    assertEquals(chooseSubprotocol(["binary"], ["mqtt"]).kind, "refuse");
  });
  await t.step("two unknown offers are refused", () => {
    const choice = chooseSubprotocol(["foo", "bar"], ["mqtt"]);
    assertEquals(choice.kind, "refuse");
    if (choice.kind === "refuse") {
      assertEquals(choice.body, "None of the offered subprotocols is accepted");
    }
  });
  await t.step("nothing offered still upgrades without the header", () => {
    assertEquals(chooseSubprotocol([], ["mqtt"]), {
      kind: "accept",
      protocol: undefined,
    });
  });
});

Deno.test("splitSubprotocols trims and drops empty entries", () => {
  assertEquals(splitSubprotocols("a, b ,,c"), ["a", "b", "c"]);
  assertEquals(splitSubprotocols(""), []);
  assertEquals(splitSubprotocols(undefined), []);
});

Deno.test("splitSubprotocols trims only SP and HTAB, not U+00A0", () => {
  assertEquals(splitSubprotocols("\u00a0binary,\tbase64 "), [
    "\u00a0binary",
    "base64",
  ]);
});
