import { assertEquals, assertThrows } from "../_util/assert.ts";
import { parseStoreUrl } from "../../src/store/store_url.ts";

Deno.test("parseStoreUrl reads every documented form", async (t) => {
  const cases: [string, unknown][] = [
    ["redis://h", {
      transport: "tcp",
      hostname: "h",
      port: 6379,
      path: "",
      db: 0,
    }],
    ["redis://:pw@h:1/2", {
      transport: "tcp",
      hostname: "h",
      port: 1,
      path: "",
      password: "pw",
      db: 2,
    }],
    ["redis://u:p%40ss@h", {
      transport: "tcp",
      hostname: "h",
      port: 6379,
      path: "",
      username: "u",
      password: "p@ss",
      db: 0,
    }],
    ["rediss://[::1]:7000", {
      transport: "tls",
      hostname: "::1",
      port: 7000,
      path: "",
      db: 0,
    }],
    ["unix:///run/r.sock?db=4", {
      transport: "unix",
      hostname: "",
      port: 0,
      path: "/run/r.sock",
      db: 4,
    }],
  ];
  for (const [url, expected] of cases) {
    await t.step(url, () => assertEquals(parseStoreUrl(url), expected));
  }
});

Deno.test("parseStoreUrl refuses malformed URLs without echoing the password", async (t) => {
  for (
    const url of [
      "http://h",
      "redis://",
      "unix://",
      "redis://h/x",
      "not a url :pw@",
    ]
  ) {
    await t.step(url, () => {
      assertThrows(() => parseStoreUrl(url));
    });
  }
  try {
    parseStoreUrl("redis://u:secret@h:99999");
  } catch (error) {
    assertEquals(String(error).includes("secret"), false);
  }
});
