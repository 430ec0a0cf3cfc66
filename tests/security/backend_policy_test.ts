import assert from "node:assert/strict";
import {
  compileBackendPolicy,
  isSpecialAddress,
} from "../../src/security/backend_policy.ts";

Deno.test("compileBackendPolicy allows nothing without options", () => {
  const policy = compileBackendPolicy();
  assert.equal(policy.isAllowedName("example.com"), false);
  assert.equal(policy.isAllowedAddress("192.0.2.1", 80), false);
  assert.deepEqual(policy.checkTarget("example.com", 80), {
    kind: "refused",
    reason: "name not listed",
  });
});

Deno.test("BackendPolicy.isAllowedName matches exact names and *.suffix but never the apex", async (t) => {
  const policy = compileBackendPolicy({
    hosts: ["*.internal.example", "DB.Example.com."],
  });
  const cases: [string, boolean][] = [
    ["vm1.internal.example", true],
    ["a.b.internal.example", true],
    ["VM1.INTERNAL.EXAMPLE.", true],
    ["internal.example", false],
    ["xinternal.example", false],
    ["vm1.internal.example.evil.com", false],
    ["db.example.com", true],
    ["db.example.com.", true],
    ["x.db.example.com", false],
    ["example.com", false],
    ["", false],
    ["vm1..internal.example", false],
    ["-vm1.internal.example", false],
    ["vm 1.internal.example", false],
  ];
  for (const [name, expected] of cases) {
    await t.step(`${JSON.stringify(name)} -> ${expected}`, () => {
      assert.equal(policy.isAllowedName(name), expected);
    });
  }
});

Deno.test("BackendPolicy.isAllowedName refuses names that resolvers read as IPv4", async (t) => {
  const policy = compileBackendPolicy({ hosts: ["*"] });
  assert.ok(policy.isAllowedName("anything.example"));
  for (
    const name of [
      "127.0.0.1",
      "127.1",
      "2130706433",
      "0x7f.1",
      "0177.0.0.1",
      "1.0x7f",
      "0x7f000001",
    ]
  ) {
    await t.step(name, () => assert.equal(policy.isAllowedName(name), false));
  }
});

Deno.test("BackendPolicy.isAllowedAddress needs a listed CIDR for an IP literal", async (t) => {
  const policy = compileBackendPolicy({
    cidrs: ["10.1.0.0/16", "2001:db8:1::/48", "192.0.2.7"],
  });
  const cases: [string, boolean][] = [
    ["10.1.2.3", true],
    ["10.2.0.1", false],
    ["::ffff:10.1.2.3", true],
    ["::ffff:a01:203", true],
    ["2001:db8:1:ffff::1", true],
    ["[2001:db8:1::1]", true],
    ["2001:db8:2::1", false],
    ["192.0.2.7", true],
    ["192.0.2.8", false],
    ["8.8.8.8", false],
    ["not an ip", false],
  ];
  for (const [ip, expected] of cases) {
    await t.step(`${ip} -> ${expected}`, () => {
      assert.equal(policy.isAllowedAddress(ip, 22), expected);
    });
  }
});

Deno.test("BackendPolicy.isAllowedResolvedAddress refuses special addresses a name resolves to", async (t) => {
  const policy = compileBackendPolicy({ hosts: ["*.example.com"] });
  const denied = [
    "127.0.0.1",
    "127.255.0.9",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "0:0:0:0:0:ffff:7f00:0001",
    "0.0.0.0",
    "::",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "::ffff:169.254.169.254",
    "100.64.0.1",
    "fe80::1",
    "febf::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "224.0.0.1",
    "255.255.255.255",
    "::127.0.0.1",
    "64:ff9b::7f00:1",
    "64:ff9b::10.0.0.1",
    "garbage",
  ];
  for (const ip of denied) {
    await t.step(`denies ${ip}`, () => {
      assert.equal(policy.isAllowedResolvedAddress(ip, 443), false);
    });
  }
  const allowed = [
    "93.184.216.34",
    "172.32.0.1",
    "2606:2800:220:1::1",
    "64:ff9b::8.8.8.8",
  ];
  for (const ip of allowed) {
    await t.step(`allows ${ip}`, () => {
      assert.equal(policy.isAllowedResolvedAddress(ip, 443), true);
    });
  }
});

Deno.test("BackendPolicy allows a special address only when a listed CIDR explicitly covers it", () => {
  const policy = compileBackendPolicy({
    hosts: ["*.internal.example"],
    cidrs: ["10.0.0.0/8", "::1/128", "127.0.0.1/32"],
  });
  assert.ok(policy.isAllowedResolvedAddress("10.9.8.7", 5900));
  assert.ok(policy.isAllowedResolvedAddress("::1", 5900));
  assert.ok(policy.isAllowedResolvedAddress("::ffff:127.0.0.1", 5900));
  assert.ok(!policy.isAllowedResolvedAddress("127.0.0.2", 5900));
  assert.ok(!policy.isAllowedResolvedAddress("192.168.0.1", 5900));
  assert.ok(!policy.isAllowedResolvedAddress("fe80::1", 5900));
});

Deno.test("BackendPolicy IPv6 ::/0 covers IPv4 too, 0.0.0.0/0 covers only IPv4", () => {
  const all = compileBackendPolicy({ cidrs: ["::/0"] });
  assert.ok(all.isAllowedAddress("127.0.0.1", 1));
  assert.ok(all.isAllowedAddress("::1", 1));
  const v4 = compileBackendPolicy({ cidrs: ["0.0.0.0/0"] });
  assert.ok(v4.isAllowedAddress("127.0.0.1", 1));
  assert.ok(v4.isAllowedAddress("::ffff:127.0.0.1", 1));
  assert.ok(!v4.isAllowedAddress("::1", 1));
});

Deno.test("BackendPolicy.isAllowedPort honours single ports and inclusive ranges", async (t) => {
  const policy = compileBackendPolicy({ ports: [22, "443", "5900-5999"] });
  const cases: [number, boolean][] = [
    [22, true],
    [23, false],
    [443, true],
    [5899, false],
    [5900, true],
    [5999, true],
    [6000, false],
    [0, false],
    [22.5, false],
    [NaN, false],
  ];
  for (const [port, expected] of cases) {
    await t.step(`${port} -> ${expected}`, () => {
      assert.equal(policy.isAllowedPort(port), expected);
    });
  }
  const anyPort = compileBackendPolicy({ cidrs: ["192.0.2.0/24"] });
  assert.ok(anyPort.isAllowedPort(65535));
  assert.ok(!anyPort.isAllowedPort(0));
  assert.ok(!anyPort.isAllowedPort(65536));
  assert.ok(
    !policy.isAllowedAddress("192.0.2.1", 5900),
    "address still needs a CIDR",
  );
});

Deno.test("BackendPolicy.checkTarget tells a literal, a name, and each refusal apart", async (t) => {
  const policy = compileBackendPolicy({
    hosts: ["*.internal.example"],
    cidrs: ["10.0.0.0/8"],
    ports: ["5900-5999"],
  });
  const cases: [string, number, unknown][] = [
    ["10.1.2.3", 5900, { kind: "address", address: "10.1.2.3" }],
    ["::ffff:10.1.2.3", 5900, { kind: "address", address: "10.1.2.3" }],
    ["[::ffff:a01:203]", 5900, { kind: "address", address: "10.1.2.3" }],
    ["VM.internal.example.", 5900, {
      kind: "name",
      name: "vm.internal.example",
    }],
    ["127.0.0.1", 5900, { kind: "refused", reason: "address not listed" }],
    ["::ffff:127.0.0.1", 5900, {
      kind: "refused",
      reason: "address not listed",
    }],
    ["vm.other.example", 5900, { kind: "refused", reason: "name not listed" }],
    ["vm.internal.example", 22, {
      kind: "refused",
      reason: "port not allowed",
    }],
    ["10.1.2.3", 22, { kind: "refused", reason: "port not allowed" }],
    ["bad host!", 5900, { kind: "refused", reason: "malformed host" }],
    ["127.1", 5900, { kind: "refused", reason: "malformed host" }],
    ["[vm.internal.example]", 5900, {
      kind: "refused",
      reason: "malformed host",
    }],
  ];
  for (const [host, port, expected] of cases) {
    await t.step(`${host}:${port}`, () => {
      assert.deepEqual(policy.checkTarget(host, port), expected);
    });
  }
});

Deno.test("compileBackendPolicy throws TypeError on a bad entry", async (t) => {
  const cases: [string, Parameters<typeof compileBackendPolicy>[0]][] = [
    ["host with port", { hosts: ["db.example:22"] }],
    ["star in the middle", { hosts: ["db.*.example"] }],
    ["bare *.", { hosts: ["*."] }],
    ["numeric name", { hosts: ["127.0.0.1"] }],
    ["CIDR prefix too long", { cidrs: ["10.0.0.0/33"] }],
    ["IPv6 prefix too long", { cidrs: ["::/129"] }],
    ["CIDR host bits set", { cidrs: ["10.0.0.1/8"] }],
    ["CIDR leading zero prefix", { cidrs: ["10.0.0.0/08"] }],
    ["CIDR not an address", { cidrs: ["example.com/8"] }],
    ["CIDR empty prefix", { cidrs: ["10.0.0.0/"] }],
    ["port zero", { ports: [0] }],
    ["port too large", { ports: ["65536"] }],
    ["reversed range", { ports: ["6000-5900"] }],
    ["open range", { ports: ["5900-"] }],
    ["port word", { ports: ["ssh"] }],
  ];
  for (const [name, options] of cases) {
    await t.step(name, () => {
      assert.throws(() => compileBackendPolicy(options), TypeError);
    });
  }
});

Deno.test("isSpecialAddress fails closed on unparsable input", () => {
  assert.ok(isSpecialAddress("localhost"));
  assert.ok(isSpecialAddress(new Uint8Array(4)));
  assert.ok(!isSpecialAddress("[2606:2800:220:1::1]"));
});
