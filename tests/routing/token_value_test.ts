import assert from "node:assert/strict";
import { parseTokenValue } from "../../src/routing/token_value.ts";

Deno.test("parseTokenValue reads host:port and both websockify JSON forms", async (t) => {
  const cases: [string, string, number][] = [
    ["10.0.0.5:5901", "10.0.0.5", 5901],
    ["  vnc.internal:5900\n", "vnc.internal", 5900],
    ["[::1]:5900", "::1", 5900],
    ['{"host": "10.0.0.5:5901"}', "10.0.0.5", 5901],
    ['{"host": "h", "port": 22}', "h", 22],
    ['{"host": "h", "port": "22"}', "h", 22],
    ['{"host": "::1", "port": 5900}', "::1", 5900],
  ];
  for (const [value, hostname, port] of cases) {
    await t.step(value.trim(), () => {
      assert.deepEqual(parseTokenValue(value), {
        ok: true,
        target: { transport: "tcp", hostname, port },
      });
    });
  }
});

Deno.test("parseTokenValue refuses malformed values with a reason instead of throwing", async (t) => {
  const cases: [string, string][] = [
    ["{not json", "bad_json"],
    ['["h:1"]', "no_port"],
    ["{}", "bad_json"],
    ['{"host": 5}', "bad_json"],
    ["hostonly", "no_port"],
    ["host:", "no_port"],
    ['{"host": "hostonly"}', "no_port"],
    ["host:0", "bad_port"],
    ["host:65536", "bad_port"],
    ["host:http", "bad_port"],
    ['{"host": "h", "port": 70000}', "bad_port"],
    ['{"host": "h", "port": 1.5}', "bad_port"],
    ['{"host": "h", "port": null}', "bad_port"],
    [":5900", "bad_host"],
    ["a b:5900", "bad_host"],
    ["unix:/run/x.sock", "bad_host"],
    ["::1:5900", "bad_host"],
    ["fe80::1:22", "bad_host"],
    ['{"host": "::1:5900"}', "bad_host"],
    ["x".repeat(2000) + ":1", "too_large"],
  ];
  for (const [value, reason] of cases) {
    await t.step(value.slice(0, 40), () => {
      const result = parseTokenValue(value);
      assert.equal(result.ok, false);
      if (!result.ok) {
        assert.equal(result.reason, reason, result.detail);
        assert.ok(result.detail.length < 200);
      }
    });
  }
});

Deno.test("parseTokenValue reads what websockify's TokenRedis stores and refuses what it refuses", () => {
  // These were the cases of a second parser for the same values
  // (parseRedisTokenValue), removed in favour of this one.
  assert.deepEqual(parseTokenValue("127.0.0.1:5900"), {
    ok: true,
    target: { transport: "tcp", hostname: "127.0.0.1", port: 5900 },
  });
  assert.deepEqual(parseTokenValue('{"host":"vm:5901"}'), {
    ok: true,
    target: { transport: "tcp", hostname: "vm", port: 5901 },
  });
  for (
    const bad of ["vm", "vm:0", "vm:x", '{"host":5}', "{bad json"]
  ) {
    assert.equal(parseTokenValue(bad).ok, false, bad);
  }
});
