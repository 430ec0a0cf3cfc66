import assert from "node:assert/strict";
import {
  formatIpAddress,
  isIpv4Address,
  parseIpAddress,
} from "../../src/security/ip_address.ts";

function roundTrip(text: string): string | undefined {
  const bytes = parseIpAddress(text);
  return bytes === undefined ? undefined : formatIpAddress(bytes);
}

Deno.test("parseIpAddress accepts every IPv6 text form and normalises it", async (t) => {
  const cases: [string, string][] = [
    ["::", "::"],
    ["::1", "::1"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["1::", "1::"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"],
    ["2001:DB8::A", "2001:db8::a"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"],
    ["fe80::1:2", "fe80::1:2"],
    ["::ffff:127.0.0.1", "127.0.0.1"],
    ["::ffff:7f00:1", "127.0.0.1"],
    ["::FFFF:C0A8:0101", "192.168.1.1"],
    ["0:0:0:0:0:ffff:10.1.2.3", "10.1.2.3"],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
    ["::127.0.0.1", "::7f00:1"],
  ];
  for (const [input, expected] of cases) {
    await t.step(input, () => assert.equal(roundTrip(input), expected));
  }
});

Deno.test("parseIpAddress rejects malformed and ambiguous addresses", async (t) => {
  const cases = [
    "",
    "1.2.3",
    "1.2.3.4.5",
    "127.1",
    "256.0.0.1",
    "010.0.0.1",
    "0x7f.0.0.1",
    "1.2.3.-4",
    " 1.2.3.4",
    "1.2.3.4 ",
    ":",
    ":::",
    "1:::2",
    "1::2::3",
    ":1::2",
    "1::2:",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7:8::",
    "12345::",
    "g::1",
    "fe80::1%eth0",
    "[::1]",
    "::1.2.3",
    "::ffff:1.2.3.4:5",
    "1.2.3.4::",
    "::ffff:01.2.3.4",
    "1:2:3:4:5:6:7:1.2.3.4",
  ];
  for (const input of cases) {
    await t.step(JSON.stringify(input), () => {
      assert.equal(parseIpAddress(input), undefined);
    });
  }
});

Deno.test("parseIpAddress gives IPv4 and its IPv4-mapped IPv6 spellings the same bytes", () => {
  const a = parseIpAddress("127.0.0.1")!;
  assert.deepEqual(parseIpAddress("::ffff:127.0.0.1"), a);
  assert.deepEqual(parseIpAddress("::ffff:7f00:1"), a);
  assert.ok(isIpv4Address(a));
  assert.ok(!isIpv4Address(parseIpAddress("::7f00:1")!));
});

Deno.test("formatIpAddress compresses the first of two equal zero runs and no single zero group", () => {
  assert.equal(roundTrip("1:0:0:2:0:0:3:4"), "1::2:0:0:3:4");
  assert.equal(roundTrip("1:0:2:3:4:5:6:7"), "1:0:2:3:4:5:6:7");
  assert.throws(() => formatIpAddress(new Uint8Array(4)), RangeError);
});
