import assert from "node:assert/strict";
import {
  encodeProxyHeaderV1,
  encodeProxyHeaderV2,
  parseProxyHeader,
  type ProxyHeader,
} from "../../src/security/proxy_protocol.ts";

const SIGNATURE = [
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
];
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const ascii = (value: string): Uint8Array => new TextEncoder().encode(value);

function parseComplete(bytes: Uint8Array): ProxyHeader {
  const result = parseProxyHeader(bytes);
  assert.equal(result.kind, "header");
  if (result.kind !== "header") throw new Error("unreachable");
  return result.header;
}

const TCP4 = {
  source: { address: "192.168.0.1", port: 56324 },
  destination: { address: "192.168.0.11", port: 443 },
};
const TCP6 = {
  source: { address: "2001:db8::1", port: 1234 },
  destination: { address: "2001:db8::2", port: 80 },
};

Deno.test("encodeProxyHeaderV1 writes the spec's TCP4, TCP6 and UNKNOWN lines", () => {
  assert.equal(
    text(encodeProxyHeaderV1(TCP4)),
    "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
  );
  assert.equal(
    text(encodeProxyHeaderV1(TCP6)),
    "PROXY TCP6 2001:db8::1 2001:db8::2 1234 80\r\n",
  );
  assert.equal(text(encodeProxyHeaderV1()), "PROXY UNKNOWN\r\n");
});

Deno.test("encodeProxyHeaderV1 writes mixed families as TCP6 and mapped IPv4 pairs as TCP4", () => {
  const mixed = {
    source: { address: "192.0.2.1", port: 1 },
    destination: { address: "2001:DB8:0::5", port: 2 },
  };
  assert.equal(
    text(encodeProxyHeaderV1(mixed)),
    "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::5 1 2\r\n",
  );
  const mapped = {
    source: { address: "::ffff:192.0.2.1", port: 1 },
    destination: { address: "::ffff:c000:202", port: 2 },
  };
  assert.equal(
    text(encodeProxyHeaderV1(mapped)),
    "PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n",
  );
});

Deno.test("encodeProxyHeaderV2 writes the spec's bytes for TCP over IPv4", () => {
  assert.deepEqual([...encodeProxyHeaderV2(TCP4)], [
    ...SIGNATURE,
    0x21, // version 2, PROXY
    0x11, // AF_INET, STREAM
    0x00,
    0x0c, // 12 address bytes
    192,
    168,
    0,
    1,
    192,
    168,
    0,
    11,
    0xdc,
    0x04, // 56324
    0x01,
    0xbb, // 443
  ]);
});

Deno.test("encodeProxyHeaderV2 writes the spec's bytes for TCP over IPv6", () => {
  const src = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
  const dst = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
  assert.deepEqual([...encodeProxyHeaderV2(TCP6)], [
    ...SIGNATURE,
    0x21, // version 2, PROXY
    0x21, // AF_INET6, STREAM
    0x00,
    0x24, // 36 address bytes
    ...src,
    ...dst,
    0x04,
    0xd2, // 1234
    0x00,
    0x50, // 80
  ]);
});

Deno.test("encodeProxyHeaderV2 writes LOCAL with AF_UNSPEC and no address block", () => {
  assert.deepEqual([...encodeProxyHeaderV2()], [
    ...SIGNATURE,
    0x20,
    0x00,
    0x00,
    0x00,
  ]);
});

Deno.test("encodeProxyHeaderV1 and V2 reject bad addresses and ports", async (t) => {
  for (const encode of [encodeProxyHeaderV1, encodeProxyHeaderV2]) {
    await t.step(`${encode.name} bad address`, () => {
      assert.throws(
        () => encode({ ...TCP4, source: { address: "example.com", port: 1 } }),
        TypeError,
      );
    });
    for (const port of [-1, 65536, 1.5, NaN]) {
      await t.step(`${encode.name} port ${port}`, () => {
        assert.throws(
          () =>
            encode({ ...TCP4, destination: { address: "192.0.2.1", port } }),
          RangeError,
        );
      });
    }
  }
});

Deno.test("parseProxyHeader reads back every encoded header and leaves the payload", async (t) => {
  const payload = ascii("GET / HTTP/1.1\r\n");
  const cases: [string, Uint8Array, Partial<ProxyHeader>][] = [
    ["v1 TCP4", encodeProxyHeaderV1(TCP4), {
      version: 1,
      family: "tcp4",
      ...TCP4,
    }],
    ["v1 TCP6", encodeProxyHeaderV1(TCP6), {
      version: 1,
      family: "tcp6",
      ...TCP6,
    }],
    ["v1 UNKNOWN", encodeProxyHeaderV1(), {
      version: 1,
      family: "unknown",
      source: undefined,
    }],
    ["v2 TCP4", encodeProxyHeaderV2(TCP4), {
      version: 2,
      family: "tcp4",
      command: "proxy",
      ...TCP4,
    }],
    ["v2 TCP6", encodeProxyHeaderV2(TCP6), {
      version: 2,
      family: "tcp6",
      ...TCP6,
    }],
    ["v2 LOCAL", encodeProxyHeaderV2(), {
      version: 2,
      family: "unknown",
      command: "local",
      source: undefined,
    }],
  ];
  for (const [name, header, expected] of cases) {
    await t.step(name, () => {
      const bytes = new Uint8Array([...header, ...payload]);
      const parsed = parseComplete(bytes);
      assert.equal(parsed.headerLength, header.length);
      for (const [field, value] of Object.entries(expected)) {
        assert.deepEqual(parsed[field as keyof ProxyHeader], value, field);
      }
      assert.deepEqual(bytes.subarray(parsed.headerLength), payload);
    });
  }
});

Deno.test("parseProxyHeader says incomplete for every strict prefix of a header", async (t) => {
  for (
    const [name, header] of [
      ["v1", encodeProxyHeaderV1(TCP6)],
      ["v2", encodeProxyHeaderV2(TCP6)],
    ] as const
  ) {
    await t.step(name, () => {
      for (let length = 0; length < header.length; length++) {
        assert.deepEqual(parseProxyHeader(header.subarray(0, length)), {
          kind: "incomplete",
        }, `length ${length}`);
      }
      assert.equal(parseProxyHeader(header).kind, "header");
    });
  }
});

Deno.test("parseProxyHeader accepts the spec's 107-byte worst-case v1 line", () => {
  const ffff = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  const line = `PROXY UNKNOWN ${ffff} ${ffff} 65535 65535\r\n`;
  assert.equal(line.length, 107);
  assert.equal(parseComplete(ascii(line)).headerLength, 107);
  const tcp6 = `PROXY TCP6 ${ffff} ${ffff} 65535 65535\r\n`;
  assert.deepEqual(parseComplete(ascii(tcp6)).source, {
    address: ffff,
    port: 65535,
  });
});

Deno.test("parseProxyHeader skips v2 TLVs after the address block", () => {
  const header = encodeProxyHeaderV2(TCP4);
  const tlv = [0x04, 0x00, 0x02, 0xaa, 0xbb]; // PP2_TYPE_NOOP, 2 bytes
  const bytes = new Uint8Array([...header, ...tlv]);
  bytes[15] = 12 + tlv.length;
  const parsed = parseComplete(bytes);
  assert.equal(parsed.headerLength, header.length + tlv.length);
  assert.deepEqual(parsed.source, TCP4.source);
  assert.deepEqual(parseProxyHeader(bytes.subarray(0, bytes.length - 1)), {
    kind: "incomplete",
  });
});

Deno.test("parseProxyHeader reads v2 UDP4 and UNIX families", () => {
  const udp = encodeProxyHeaderV2(TCP4);
  udp[13] = 0x12;
  assert.equal(parseComplete(udp).family, "udp4");
  const unix = new Uint8Array(16 + 216);
  unix.set(SIGNATURE);
  unix.set([0x21, 0x31, 0x00, 216], 12);
  unix.set(ascii("/run/a.sock"), 16);
  unix.set(ascii("/run/b.sock"), 16 + 108);
  const parsed = parseComplete(unix);
  assert.equal(parsed.family, "unix");
  assert.deepEqual(parsed.source, { address: "/run/a.sock", port: 0 });
  assert.deepEqual(parsed.destination, { address: "/run/b.sock", port: 0 });
});

Deno.test("parseProxyHeader throws SyntaxError on malformed headers", async (t) => {
  const v2 = (patch: (bytes: Uint8Array) => void): Uint8Array => {
    const bytes = encodeProxyHeaderV2(TCP4);
    patch(bytes);
    return bytes;
  };
  const cases: [string, Uint8Array][] = [
    ["plain HTTP", ascii("GET / HTTP/1.1\r\n\r\n")],
    ["lower-case proxy", ascii("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n")],
    ["v1 unknown protocol", ascii("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n")],
    ["v1 missing field", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n")],
    ["v1 extra field", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n")],
    ["v1 double space", ascii("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n")],
    ["v1 IPv6 in TCP4", ascii("PROXY TCP4 ::1 ::1 1 2\r\n")],
    ["v1 IPv4 in TCP6", ascii("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n")],
    ["v1 bad address", ascii("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n")],
    ["v1 port too large", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n")],
    ["v1 port leading zero", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n")],
    ["v1 bare LF", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n")],
    ["v1 no CRLF in 107 bytes", ascii("PROXY UNKNOWN " + "x".repeat(100))],
    ["v2 version 1", v2((b) => (b[12] = 0x11))],
    ["v2 command 2", v2((b) => (b[12] = 0x22))],
    ["v2 unknown family", v2((b) => (b[13] = 0x41))],
    ["v2 TCP4 block too short", v2((b) => (b[15] = 8))],
    ["v2 TCP6 block too short", v2((b) => (b[13] = 0x21))],
  ];
  for (const [name, bytes] of cases) {
    await t.step(name, () => {
      assert.throws(() => parseProxyHeader(bytes), SyntaxError);
    });
  }
});

Deno.test("parseProxyHeader ignores the address block of a v2 LOCAL header", () => {
  const bytes = encodeProxyHeaderV2(TCP4);
  bytes[12] = 0x20;
  const parsed = parseComplete(bytes);
  assert.equal(parsed.command, "local");
  assert.equal(parsed.family, "unknown");
  assert.equal(parsed.source, undefined);
  assert.equal(parsed.headerLength, 28);
});
