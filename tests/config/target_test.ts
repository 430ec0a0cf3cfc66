import {
  assert,
  assertEquals,
  assertStrictEquals,
  assertThrows,
} from "../_util/assert.ts";
import { parseHostPort, parseTarget } from "../../src/config/target.ts";

Deno.test("parseTarget parses host:port, [v6]:port and unix:/path", async (t) => {
  const cases: [string, unknown][] = [
    ["127.0.0.1:9000", {
      transport: "tcp",
      hostname: "127.0.0.1",
      port: 9000,
    }],
    ["db.internal:5432", {
      transport: "tcp",
      hostname: "db.internal",
      port: 5432,
    }],
    ["[::1]:1", { transport: "tcp", hostname: "::1", port: 1 }],
    ["[2001:db8::1]:65535", {
      transport: "tcp",
      hostname: "2001:db8::1",
      port: 65535,
    }],
    ["h:080", { transport: "tcp", hostname: "h", port: 80 }],
    ["unix:/run/vnc.sock", { transport: "unix", path: "/run/vnc.sock" }],
    ["unix:/", { transport: "unix", path: "/" }],
  ];
  for (const [text, expected] of cases) {
    await t.step(text, () => {
      assertEquals(parseTarget(text), expected);
    });
  }
});

Deno.test("parseTarget rejects malformed targets with the error class and message", async (t) => {
  const cases: [string, string | undefined, typeof Error, string][] = [
    [
      "undefined",
      undefined,
      TypeError,
      "Cannot parse target as it must be a string",
    ],
    [
      "relative unix path",
      "unix:run/s",
      TypeError,
      'Cannot parse target "unix:run/s": expected unix:/absolute/path',
    ],
    [
      "empty unix path",
      "unix:",
      TypeError,
      'Cannot parse target "unix:": expected unix:/absolute/path',
    ],
    [
      "port 0",
      "h:0",
      RangeError,
      'Cannot parse target "h:0": port must be from 1 to 65535',
    ],
    [
      "port 65536",
      "h:65536",
      RangeError,
      'Cannot parse target "h:65536": port must be from 0 to 65535',
    ],
    [
      "port of six digits",
      "h:000080",
      RangeError,
      'Cannot parse target "h:000080": port must be from 0 to 65535',
    ],
    [
      "signed port",
      "h:+80",
      RangeError,
      'Cannot parse target "h:+80": port must be from 0 to 65535',
    ],
    [
      "empty port",
      "h:",
      RangeError,
      'Cannot parse target "h:": port must be from 0 to 65535',
    ],
    [
      "no port",
      "h",
      TypeError,
      'Cannot parse target "h": expected HOST:PORT',
    ],
    [
      "empty host",
      ":80",
      TypeError,
      'Cannot parse target ":80": expected HOST:PORT',
    ],
    [
      "bare IPv6",
      "::1:80",
      TypeError,
      'Cannot parse target "::1:80": expected HOST:PORT',
    ],
    [
      "IPv6 without a port",
      "[::1]",
      TypeError,
      'Cannot parse target "[::1]": expected [IPv6]:PORT',
    ],
    [
      "empty brackets",
      "[]:80",
      TypeError,
      'Cannot parse target "[]:80": expected HOST:PORT with a host name, an IPv4 address or a bracketed IPv6 address',
    ],
    [
      "a name in brackets",
      "[example.com]:80",
      TypeError,
      'Cannot parse target "[example.com]:80": expected HOST:PORT with a host name, an IPv4 address or a bracketed IPv6 address',
    ],
    [
      "a space in the host",
      "a b:1",
      TypeError,
      'Cannot parse target "a b:1": expected HOST:PORT with a host name, an IPv4 address or a bracketed IPv6 address',
    ],
    [
      "empty text",
      "",
      TypeError,
      'Cannot parse target "": expected HOST:PORT',
    ],
  ];
  for (const [name, text, errorClass, message] of cases) {
    await t.step(name, () => {
      assertThrows(() => parseTarget(text), (error: unknown) => {
        assert(error instanceof errorClass, String(error));
        assertStrictEquals((error as Error).message, message);
        return true;
      });
    });
  }
});

Deno.test("parseHostPort accepts port 0 and names what it parses in messages", () => {
  assertEquals(parseHostPort("0.0.0.0:0", "listen"), {
    hostname: "0.0.0.0",
    port: 0,
  });
  assertEquals(parseHostPort("[::]:8080", "listen"), {
    hostname: "::",
    port: 8080,
  });
  assertThrows(
    () => parseHostPort("nope", "--admin-listen"),
    {
      name: "TypeError",
      message: 'Cannot parse --admin-listen "nope": expected HOST:PORT',
    },
  );
  assertThrows(
    () => parseHostPort("[::1]:99999", "listen"),
    {
      name: "RangeError",
      message:
        'Cannot parse listen "[::1]:99999": port must be from 0 to 65535',
    },
  );
});
