import { assertEquals, assertStrictEquals } from "../_util/assert.ts";
import {
  type ClientAddress,
  clientAddress,
  proxyHeader,
  remoteAddress,
} from "../../src/server/client_address.ts";
import {
  parseRequestHead,
  type RequestHead,
} from "../../src/http/request_head.ts";
import { parseProxyHeader } from "../../src/security/proxy_protocol.ts";

const PEER: ClientAddress = remoteAddress({
  transport: "tcp",
  hostname: "10.0.0.1",
  port: 4000,
});

/** A request head with the given extra header lines. */
function headWith(...lines: string[]): RequestHead {
  const text = ["GET / HTTP/1.1", "Host: gw", ...lines, "", ""].join("\r\n");
  const result = parseRequestHead(new TextEncoder().encode(text), 8192);
  if (result.kind !== "head") throw new Error(`bad head: ${result.kind}`);
  return result.head;
}

/** Trusts 10.0.0.0/8 and ::1 (a tiny stand-in for a compiled CIDR list). */
function isTrusted(ip: string): boolean {
  return ip.startsWith("10.") || ip === "::1";
}

Deno.test("remoteAddress formats IPv4, IPv6 and non-IP peers", async (t) => {
  await t.step("IPv4", () => {
    assertEquals(
      remoteAddress({ transport: "tcp", hostname: "192.0.2.1", port: 80 }),
      { ip: "192.0.2.1", port: 80, text: "192.0.2.1:80" },
    );
  });
  await t.step("IPv6 in brackets in text only", () => {
    assertEquals(
      remoteAddress({ transport: "tcp", hostname: "2001:db8::1", port: 1 }),
      { ip: "2001:db8::1", port: 1, text: "[2001:db8::1]:1" },
    );
  });
  await t.step("a Unix socket peer", () => {
    assertEquals(
      remoteAddress({ transport: "unix", path: "/run/s" }),
      { ip: "unix", port: 0, text: "unix" },
    );
  });
});

Deno.test("clientAddress ignores X-Forwarded-For without trusted proxies", () => {
  assertStrictEquals(
    clientAddress(PEER, headWith("X-Forwarded-For: 192.0.2.7"), undefined),
    PEER,
  );
});

Deno.test("clientAddress ignores X-Forwarded-For from a peer that is not trusted", () => {
  const peer = remoteAddress({
    transport: "tcp",
    hostname: "192.0.2.50",
    port: 1,
  });
  assertStrictEquals(
    clientAddress(peer, headWith("X-Forwarded-For: 192.0.2.7"), isTrusted),
    peer,
  );
});

Deno.test("clientAddress returns the peer when a trusted proxy sends no X-Forwarded-For", () => {
  assertStrictEquals(clientAddress(PEER, headWith(), isTrusted), PEER);
});

Deno.test("clientAddress takes the only hop from a trusted proxy, keeping the peer's port", () => {
  assertEquals(
    clientAddress(PEER, headWith("X-Forwarded-For: 192.0.2.7"), isTrusted),
    { ip: "192.0.2.7", port: 4000, text: "192.0.2.7 (via 10.0.0.1:4000)" },
  );
});

Deno.test("clientAddress walks a chain of trusted proxies to the right-most untrusted hop", async (t) => {
  const cases: [string, string][] = [
    ["192.0.2.7, 10.0.0.2, 10.0.0.3", "192.0.2.7"],
    // The left-most entries are whatever the client claimed: not trusted.
    ["198.51.100.1, 192.0.2.7, 10.0.0.2", "192.0.2.7"],
    ["198.51.100.1,192.0.2.7", "192.0.2.7"],
    [" , 192.0.2.7 ,, 10.9.9.9 , ", "192.0.2.7"],
  ];
  for (const [header, ip] of cases) {
    await t.step(header, () => {
      assertStrictEquals(
        clientAddress(PEER, headWith(`X-Forwarded-For: ${header}`), isTrusted)
          .ip,
        ip,
      );
    });
  }
});

Deno.test("clientAddress reads a chain split over repeated X-Forwarded-For headers", () => {
  const head = headWith(
    "X-Forwarded-For: 198.51.100.1",
    "X-Forwarded-For: 192.0.2.7, 10.0.0.2",
  );
  assertStrictEquals(clientAddress(PEER, head, isTrusted).ip, "192.0.2.7");
});

Deno.test("clientAddress returns the peer when every hop is a trusted proxy", () => {
  assertStrictEquals(
    clientAddress(
      PEER,
      headWith("X-Forwarded-For: 10.1.1.1, 10.2.2.2"),
      isTrusted,
    ),
    PEER,
  );
});

Deno.test("clientAddress stops at a hop that is not an IP address and returns the peer", async (t) => {
  for (
    const header of [
      "unknown",
      "192.0.2.7, unknown",
      "192.0.2.7, _hidden, 10.0.0.2",
      "192.0.2.7:5678",
      "[2001:db8::7]",
      "",
    ]
  ) {
    await t.step(JSON.stringify(header), () => {
      assertStrictEquals(
        clientAddress(PEER, headWith(`X-Forwarded-For: ${header}`), isTrusted),
        PEER,
      );
    });
  }
});

Deno.test("clientAddress accepts IPv6 hops and IPv6 trusted proxies", () => {
  const peer = remoteAddress({ transport: "tcp", hostname: "::1", port: 9 });
  assertEquals(
    clientAddress(
      peer,
      headWith("X-Forwarded-For: 2001:db8::7, ::1"),
      isTrusted,
    ),
    { ip: "2001:db8::7", port: 9, text: "2001:db8::7 (via [::1]:9)" },
  );
});

Deno.test("clientAddress asks isTrusted about the peer and each hop from the right", () => {
  const asked: string[] = [];
  clientAddress(
    PEER,
    headWith("X-Forwarded-For: 192.0.2.1, 192.0.2.2, 10.0.0.3"),
    (ip) => {
      asked.push(ip);
      return isTrusted(ip);
    },
  );
  assertEquals(asked, ["10.0.0.1", "10.0.0.3", "192.0.2.2"]);
});

Deno.test("proxyHeader announces the client and the gateway's local address", async (t) => {
  const client = { ip: "192.0.2.7", port: 4000, text: "192.0.2.7:4000" };
  const local: Deno.Addr = {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 8080,
  };
  await t.step("v1", () => {
    assertStrictEquals(
      new TextDecoder().decode(proxyHeader("v1", client, local)),
      "PROXY TCP4 192.0.2.7 127.0.0.1 4000 8080\r\n",
    );
  });
  await t.step("v2 parses back to the same addresses", () => {
    const parsed = parseProxyHeader(proxyHeader("v2", client, local));
    assertStrictEquals(parsed.kind, "header");
    if (parsed.kind !== "header") return;
    assertEquals(parsed.header.source, { address: "192.0.2.7", port: 4000 });
    assertEquals(parsed.header.destination, {
      address: "127.0.0.1",
      port: 8080,
    });
  });
  await t.step("an IPv6 client with an IPv4 local address is TCP6", () => {
    const text = new TextDecoder().decode(proxyHeader(
      "v1",
      { ip: "2001:db8::7", port: 1, text: "[2001:db8::7]:1" },
      local,
    ));
    assertStrictEquals(
      text,
      "PROXY TCP6 2001:db8::7 ::ffff:127.0.0.1 1 8080\r\n",
    );
  });
  await t.step("a non-TCP local address becomes 0.0.0.0 port 0", () => {
    assertStrictEquals(
      new TextDecoder().decode(
        proxyHeader("v1", client, { transport: "unix", path: "/run/gw" }),
      ),
      "PROXY TCP4 192.0.2.7 0.0.0.0 4000 0\r\n",
    );
  });
});
