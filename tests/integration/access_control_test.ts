/**
 * End-to-end tests of every refusal path before the upgrade, over real
 * sockets: origins (403), tickets (401), routes and tokens (404), dynamic
 * targets (403), session limits (503/429), slow and oversized heads,
 * subprotocols (400), PROXY protocol headers, X-Forwarded-For, and a gateway
 * with one fixed target that must never connect anywhere else.
 */

import { assert, assertEquals, within } from "../_util/assert.ts";
import {
  concat,
  startEchoBackend,
  startRecordingBackend,
  type TestBackend,
  u32beFrame,
  writeAll,
} from "../_util/backends.ts";
import { startGateway } from "../_util/gateway_fixture.ts";
import { closePolitely, politely } from "../_util/polite_close.ts";
import { RawWsClient } from "../_util/raw_ws_client.ts";
import { importTicketKey, signTicket } from "../../src/security/ticket.ts";
import type { TicketClaims } from "../../src/security/ticket.ts";
import type { GatewayEvent } from "../../src/observability/events.ts";
import {
  encodeClientFrame,
  Opcode,
} from "../../src/websocket/ws_frame_codec.ts";

const utf8 = new TextEncoder();
const latin1 = new TextDecoder("latin1");
const SECRET = "0123456789abcdef0123456789abcdef";
const OTHER_SECRET = "fedcba9876543210fedcba9876543210";
const POLL_INTERVAL_MS = 100;

type SessionOpen = Extract<GatewayEvent, { type: "session_open" }>;

function isSessionOpen(event: GatewayEvent): event is SessionOpen {
  return event.type === "session_open";
}

/** The answer to one hand-written request. */
interface Answer {
  /** The HTTP status (0 when the connection closed without a head). */
  status: number;
  /** The response head as text. */
  head: string;
}

/**
 * Sends `request` (a complete head, or anything) to the gateway, reads the
 * response head, and on a 101 ends the session with a close frame and waits
 * (bounded) for the gateway to close the connection.
 */
async function exchange(port: number, request: string): Promise<Answer> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(conn, utf8.encode(request));
    const buffer = new Uint8Array(16 * 1024);
    let filled = 0;
    let head = "";
    await within(
      (async () => {
        for (let reads = 0; reads < 1000; reads++) {
          const count = await conn.read(buffer.subarray(filled)).catch(() =>
            null
          );
          if (count === null) break;
          filled += count;
          const text = latin1.decode(buffer.subarray(0, filled));
          const end = text.indexOf("\r\n\r\n");
          if (end >= 0) {
            head = text.slice(0, end);
            return;
          }
        }
        head = latin1.decode(buffer.subarray(0, filled));
      })(),
      5000,
      "a response head",
    );
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
    if (status === 101) {
      await writeAll(
        conn,
        encodeClientFrame(Opcode.CLOSE, Uint8Array.of(3, 232)),
      );
      await within(
        (async () => {
          for (let reads = 0; reads < 1000; reads++) {
            const count = await conn.read(buffer).catch(() => null);
            if (count === null) return;
          }
        })(),
        5000,
        "the gateway to end the session",
      );
    }
    return { status, head };
  } finally {
    conn.close();
  }
}

/** A complete upgrade request head for `target` with extra header lines. */
function upgradeRequest(
  port: number,
  target: string,
  headers: Record<string, string> = {},
): string {
  const all: Record<string, string> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
    ...headers,
  };
  let head = `GET ${target} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(all)) {
    head += `${name}: ${value}\r\n`;
  }
  return head + "\r\n";
}

/** The status of an upgrade of `target` (a 101 session is ended at once). */
async function upgradeStatus(
  port: number,
  target: string,
  headers: Record<string, string> = {},
): Promise<number> {
  return (await exchange(port, upgradeRequest(port, target, headers))).status;
}

/** The value of response header `name` in `head` (case-insensitive). */
function headerValue(head: string, name: string): string | undefined {
  for (const line of head.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (line.slice(0, colon).trim().toLowerCase() === name.toLowerCase()) {
      return line.slice(colon + 1).trim();
    }
  }
  return undefined;
}

function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}

async function ticket(
  claims: Partial<TicketClaims>,
  secret = SECRET,
): Promise<string> {
  return await signTicket(
    { exp: nowSec() + 60, ...claims } as TicketClaims,
    await importTicketKey(secret),
  );
}

function base64Url(text: string): string {
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Polls `check` every 100 ms until it returns true, for at most `boundMs`. */
async function pollUntil(
  check: () => Promise<boolean>,
  boundMs: number,
): Promise<boolean> {
  const deadline = Date.now() + boundMs;
  for (let poll = 0; poll < boundMs / POLL_INTERVAL_MS + 1; poll++) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  return false;
}

// ---- origins ---------------------------------------------------------------

Deno.test("allowOrigins admits a listed exact origin and refuses others with 403", async (t) => {
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    allowOrigins: ["https://app.example.com"],
    routes: [{ path: "/ws", target: backend.target }],
  });
  const cases: [string, string, number][] = [
    ["the listed origin", "https://app.example.com", 101],
    [
      "the listed origin with its default port",
      "https://app.example.com:443",
      101,
    ],
    ["another host", "https://evil.example.com", 403],
    ["another scheme", "http://app.example.com", 403],
    ["another port", "https://app.example.com:8443", 403],
    ["a suffix trick", "https://app.example.com.evil.net", 403],
    ["an opaque origin", "null", 403],
    ["a malformed origin", "not an origin", 403],
    ["the gateway's own origin", `http://127.0.0.1:${gateway.port}`, 403],
  ];
  for (const [name, origin, expected] of cases) {
    await t.step(`${name} -> ${expected}`, async () => {
      assertEquals(
        await upgradeStatus(gateway.port, "/ws", { Origin: origin }),
        expected,
      );
    });
  }
  assertEquals(backend.accepted, 2);
  const refused = gateway.events.filter((event) =>
    event.type === "handshake_refused" && event.status === 403
  );
  assertEquals(refused.length, 7);
});

Deno.test("allowOrigins with a wildcard pattern admits subdomains only", async (t) => {
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    allowOrigins: ["https://*.example.com"],
    routes: [{ path: "/ws", target: backend.target }],
  });
  const cases: [string, number][] = [
    ["https://a.example.com", 101],
    ["https://a.b.example.com", 101],
    ["https://example.com", 403],
    ["http://a.example.com", 403],
    ["https://a.example.com.evil.net", 403],
    ["https://aexample.com", 403],
    ["https://a.example.org", 403],
  ];
  for (const [origin, expected] of cases) {
    await t.step(`${origin} -> ${expected}`, async () => {
      assertEquals(
        await upgradeStatus(gateway.port, "/ws", { Origin: origin }),
        expected,
      );
    });
  }
  assertEquals(backend.accepted, 2);
});

Deno.test("default origin policy admits same-origin and origin-less requests and refuses cross-origin with 403", async (t) => {
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    routes: [{ path: "/ws", target: backend.target }],
  });
  const port = gateway.port;
  const cases: [string, Record<string, string>, number][] = [
    ["same origin", { Origin: `http://127.0.0.1:${port}` }, 101],
    ["no Origin header (not a browser)", {}, 101],
    ["another host", { Origin: "http://evil.example" }, 403],
    ["same host, another port", { Origin: "http://127.0.0.1:1" }, 403],
    // By design the scheme is not compared (a TLS terminator may sit in front).
    ["same host, another scheme", { Origin: `https://127.0.0.1:${port}` }, 101],
    ["an opaque origin", { Origin: "null" }, 403],
  ];
  for (const [name, headers, expected] of cases) {
    await t.step(`${name} -> ${expected}`, async () => {
      assertEquals(await upgradeStatus(port, "/ws", headers), expected);
    });
  }
  assertEquals(backend.accepted, 3);
});

Deno.test("default origin policy on a loopback gateway refuses a DNS-rebinding Host with 403 and logs why", async (t) => {
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    routes: [{ path: "/ws", target: backend.target }],
  });
  const port = gateway.port;
  const cases: [string, number][] = [
    [`rebind.attacker.example:${port}`, 403],
    [`localhost:${port}`, 101],
    [`127.0.0.1:${port}`, 101],
  ];
  for (const [host, expected] of cases) {
    await t.step(`Host and Origin ${host} -> ${expected}`, async () => {
      assertEquals(
        await upgradeStatus(port, "/ws", {
          Host: host,
          Origin: `http://${host}`,
        }),
        expected,
      );
    });
  }
  assertEquals(backend.accepted, 2);
  const refused = gateway.events.filter((event) =>
    event.type === "handshake_refused"
  );
  assertEquals(refused.length, 1);
  assert(refused[0]?.type === "handshake_refused");
  assertEquals(
    refused[0].detail,
    `host "rebind.attacker.example:${port}" refused: a loopback gateway ` +
      `accepts only loopback Host names (localhost, 127.0.0.1, [::1]) on ` +
      `port ${port} unless origins are listed (DNS rebinding); list the ` +
      `pages allowed to connect with --allow-origin (or name a proxy in ` +
      `front with --trust-proxy)`,
  );
});

Deno.test("a cross-origin refusal logs the --allow-origin that would admit the page", async () => {
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    routes: [{ path: "/ws", target: backend.target }],
  });
  assertEquals(
    await upgradeStatus(gateway.port, "/ws", {
      Origin: "http://127.0.0.1:8000",
    }),
    403,
  );
  const refusal = gateway.events.find((event) =>
    event.type === "handshake_refused"
  );
  assert(refusal?.type === "handshake_refused");
  assertEquals(
    refusal.detail,
    'origin "http://127.0.0.1:8000" refused (cross-origin): add --allow-origin http://127.0.0.1:8000',
  );
  assertEquals(backend.accepted, 0);
});

Deno.test('allowOrigins "*" admits any origin and emits a warning', async () => {
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    allowOrigins: "*",
    routes: [{ path: "/ws", target: backend.target }],
  });
  assertEquals(
    await upgradeStatus(gateway.port, "/ws", { Origin: "https://any.example" }),
    101,
  );
  assertEquals(
    await upgradeStatus(gateway.port, "/ws", { Origin: "http://evil.example" }),
    101,
  );
  assert(gateway.events.some((event) => event.type === "warning"));
  assertEquals(backend.accepted, 2);
});

// ---- tickets ---------------------------------------------------------------

Deno.test("requireTicket refuses missing, expired, forged, malformed and wrong-route tickets with 401", async (t) => {
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    ticketSecret: SECRET,
    routes: [
      { path: "/vnc", target: backend.target, requireTicket: true },
      { path: "/other", target: backend.target },
    ],
  });
  const port = gateway.port;
  const claims = { route: "/vnc", target: backend.target };
  const valid = await ticket(claims);
  const [validHeader, , validSignature] = valid.split(".");
  const otherClaims = base64Url(
    JSON.stringify({ ...claims, exp: nowSec() + 3600, sub: "admin" }),
  );
  const noneHeader = base64Url(JSON.stringify({ alg: "none", typ: "JWT" }));
  const nonePayload = base64Url(
    JSON.stringify({ ...claims, exp: nowSec() + 60 }),
  );
  const cases: [string, string, number][] = [
    ["no ticket", "/vnc", 401],
    ["an empty ticket", "/vnc?ticket=", 401],
    [
      "an expired ticket",
      `/vnc?ticket=${await ticket({ ...claims, exp: nowSec() - 120 })}`,
      401,
    ],
    [
      "a ticket not yet valid",
      `/vnc?ticket=${await ticket({ ...claims, nbf: nowSec() + 600 })}`,
      401,
    ],
    [
      "a ticket signed with another secret",
      `/vnc?ticket=${await ticket(claims, OTHER_SECRET)}`,
      401,
    ],
    [
      "a valid signature over other claims",
      `/vnc?ticket=${validHeader}.${otherClaims}.${validSignature}`,
      401,
    ],
    ["alg none", `/vnc?ticket=${noneHeader}.${nonePayload}.`, 401],
    ["a malformed ticket", "/vnc?ticket=abc", 401],
    [
      "a ticket for another route",
      `/vnc?ticket=${await ticket({ ...claims, route: "/other" })}`,
      401,
    ],
    [
      "a ticket without a route",
      `/vnc?ticket=${await ticket({ target: backend.target })}`,
      401,
    ],
    [
      "a ticket naming another target",
      `/vnc?ticket=${await ticket({ ...claims, target: "127.0.0.1:1" })}`,
      401,
    ],
    ["a valid ticket", `/vnc?ticket=${valid}`, 101],
    ["no ticket on a route that needs none", "/other", 101],
  ];
  for (const [name, target, expected] of cases) {
    await t.step(`${name} -> ${expected}`, async () => {
      assertEquals(await upgradeStatus(port, target), expected);
    });
  }
  assertEquals(backend.accepted, 2);
  const refusals = gateway.events.filter((event) =>
    event.type === "handshake_refused"
  );
  assertEquals(refusals.length, 11);
  for (const refusal of refusals) {
    assert(refusal.type === "handshake_refused" && refusal.status === 401);
  }
});

Deno.test("requireTicket accepts a ticket without a target claim on a fixed-target route", async () => {
  // Regression: a ticket with only a route claim (what `wsgate ticket
  // --route /vnc` prints) was refused as "wrong target" on fixed routes.
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    ticketSecret: SECRET,
    routes: [{ path: "/vnc", target: backend.target, requireTicket: true }],
  });
  const routeOnly = await ticket({ route: "/vnc" });
  assertEquals(
    await upgradeStatus(gateway.port, `/vnc?ticket=${routeOnly}`),
    101,
  );
  assertEquals(backend.accepted, 1);
});

Deno.test("requireTicket on token and dynamic routes binds a ticket's target claim to the target asked for", async (t) => {
  await using dir = await tempDir();
  await using alpha = startEchoBackend();
  await using beta = startEchoBackend();
  const file = `${dir.path}/tokens.cfg`;
  await Deno.writeTextFile(
    file,
    `alpha: ${alpha.target}\nbeta: ${beta.target}\n`,
  );
  await using gateway = await startGateway({
    ticketSecret: SECRET,
    routes: [
      { path: "/t", tokens: file, requireTicket: true },
      {
        path: "/d",
        requireTicket: true,
        dynamic: { cidrs: ["127.0.0.0/8"], ports: [alpha.port, beta.port] },
      },
    ],
  });
  const port = gateway.port;
  const toAlpha = await ticket({ route: "/t", target: alpha.target });
  const dynamicAlpha = await ticket({ route: "/d", target: alpha.target });
  const cases: [string, string, number][] = [
    ["token route, matching target", `/t?token=alpha&ticket=${toAlpha}`, 101],
    ["token route, other token", `/t?token=beta&ticket=${toAlpha}`, 401],
    [
      "dynamic route, matching target",
      `/d?host=127.0.0.1&port=${alpha.port}&ticket=${dynamicAlpha}`,
      101,
    ],
    [
      "dynamic route, other allowed target",
      `/d?host=127.0.0.1&port=${beta.port}&ticket=${dynamicAlpha}`,
      401,
    ],
  ];
  for (const [name, target, expected] of cases) {
    await t.step(`${name} -> ${expected}`, async () => {
      assertEquals(await upgradeStatus(port, target), expected);
    });
  }
  assertEquals([alpha.accepted, beta.accepted], [2, 0]);
});

Deno.test({
  name:
    "requireTicket refuses a request without a valid ticket with 401 before looking up its token or target",
  fn: async (t) => {
    await using dir = await tempDir();
    await using backend = startEchoBackend();
    const file = `${dir.path}/tokens.cfg`;
    await Deno.writeTextFile(file, `alpha: ${backend.target}\n`);
    await using gateway = await startGateway({
      ticketSecret: SECRET,
      routes: [
        { path: "/t", tokens: file, requireTicket: true },
        {
          path: "/d",
          requireTicket: true,
          dynamic: { hosts: ["*.test"], cidrs: ["127.0.0.0/8"] },
        },
      ],
    });
    const forged = await ticket({ route: "/t" }, OTHER_SECRET);
    const cases: [string, string][] = [
      ["known token, no ticket", "/t?token=alpha"],
      ["unknown token, no ticket", "/t?token=nope"],
      ["unknown token, forged ticket", `/t?token=nope&ticket=${forged}`],
      ["unlisted host, no ticket", "/d?host=example.com&port=80"],
      ["listed name that does not resolve", "/d?host=nowhere.test&port=80"],
      ["no host, no ticket", "/d"],
    ];
    for (const [name, target] of cases) {
      await t.step(name, async () => {
        assertEquals(await upgradeStatus(gateway.port, target), 401);
      });
    }
    assertEquals(backend.accepted, 0);
  },
});

Deno.test("requireTicket accepts a ticket in a Sec-WebSocket-Protocol entry and echoes it only when offered alone", async (t) => {
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    ticketSecret: SECRET,
    routes: [
      { path: "/plain", target: backend.target, requireTicket: true },
      {
        path: "/chat",
        target: backend.target,
        requireTicket: true,
        subprotocols: ["chat.v1"],
      },
    ],
  });
  const port = gateway.port;
  const target = backend.target;
  await t.step(
    "ticket entry alone -> 101 answering with that entry",
    async () => {
      const entry = `wsgate.ticket.${await ticket({
        route: "/plain",
        target,
      })}`;
      const answer = await exchange(
        port,
        upgradeRequest(port, "/plain", { "Sec-WebSocket-Protocol": entry }),
      );
      assertEquals(answer.status, 101);
      // Regression: no Sec-WebSocket-Protocol was sent here, which Chromium
      // answers by failing the connection (1006). The client's own entry is
      // the only one it offered, so it is the one answered.
      assert(
        answer.head.includes(`Sec-WebSocket-Protocol: ${entry}`),
        answer.head,
      );
    },
  );
  await t.step(
    "ticket entry plus an accepted subprotocol -> that subprotocol only",
    async () => {
      const entry = `wsgate.ticket.${await ticket({ route: "/chat", target })}`;
      const answer = await exchange(
        port,
        upgradeRequest(port, "/chat", {
          "Sec-WebSocket-Protocol": `${entry}, chat.v1`,
        }),
      );
      assertEquals(answer.status, 101);
      assertEquals(
        headerValue(answer.head, "sec-websocket-protocol"),
        "chat.v1",
      );
      assert(!answer.head.includes("wsgate.ticket"), answer.head);
    },
  );
  await t.step("a forged ticket entry -> 401", async () => {
    const entry = `wsgate.ticket.${await ticket(
      { route: "/plain", target },
      OTHER_SECRET,
    )}`;
    assertEquals(
      await upgradeStatus(port, "/plain", { "Sec-WebSocket-Protocol": entry }),
      401,
    );
  });
  await t.step("a ticket entry for another route -> 401", async () => {
    const entry = `wsgate.ticket.${await ticket({ route: "/chat", target })}`;
    assertEquals(
      await upgradeStatus(port, "/plain", { "Sec-WebSocket-Protocol": entry }),
      401,
    );
  });
  assertEquals(backend.accepted, 2);
});

Deno.test("singleUseTickets refuses a replayed ticket and one without jti with 401", async (t) => {
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    ticketSecret: SECRET,
    routes: [{
      path: "/once",
      target: backend.target,
      requireTicket: true,
      singleUseTickets: true,
    }],
  });
  const port = gateway.port;
  const claims = { route: "/once", target: backend.target };
  const once = await ticket({ ...claims, jti: crypto.randomUUID() });
  await t.step("first use -> 101", async () => {
    assertEquals(await upgradeStatus(port, `/once?ticket=${once}`), 101);
  });
  await t.step("replay in the query -> 401", async () => {
    assertEquals(await upgradeStatus(port, `/once?ticket=${once}`), 401);
  });
  await t.step("replay in a Sec-WebSocket-Protocol entry -> 401", async () => {
    assertEquals(
      await upgradeStatus(port, "/once", {
        "Sec-WebSocket-Protocol": `wsgate.ticket.${once}`,
      }),
      401,
    );
  });
  await t.step("no jti -> 401", async () => {
    const noJti = await ticket(claims);
    assertEquals(await upgradeStatus(port, `/once?ticket=${noJti}`), 401);
  });
  await t.step("a fresh jti -> 101", async () => {
    const fresh = await ticket({ ...claims, jti: crypto.randomUUID() });
    assertEquals(await upgradeStatus(port, `/once?ticket=${fresh}`), 101);
  });
  assertEquals(backend.accepted, 2);
});

// ---- routes and tokens -----------------------------------------------------

Deno.test("gateway answers 404 to an upgrade of an unknown route", async () => {
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    routes: [{ path: "/ws", target: backend.target }],
  });
  for (const path of ["/", "/other", "/ws/", "/WS", "/ws/x"]) {
    assertEquals(await upgradeStatus(gateway.port, path), 404, path);
  }
  assertEquals(backend.accepted, 0);
});

Deno.test("token route answers 404 to an unknown token and reaches the known token's backend", async () => {
  await using dir = await tempDir();
  await using alpha = startEchoBackend();
  await using beta = startEchoBackend();
  const file = `${dir.path}/tokens.cfg`;
  await Deno.writeTextFile(
    file,
    `# token file\nalpha: ${alpha.target}\nbeta: ${beta.target}\n`,
  );
  await using gateway = await startGateway({
    routes: [{ path: "/t", tokens: file }],
  });
  const port = gateway.port;
  assertEquals(await upgradeStatus(port, "/t"), 404);
  assertEquals(await upgradeStatus(port, "/t?token="), 404);
  assertEquals(await upgradeStatus(port, "/t?token=gamma"), 404);
  assertEquals(await upgradeStatus(port, "/t?token=ALPHA"), 404);
  assertEquals(await upgradeStatus(port, "/t?token=%23"), 404);
  assertEquals(await upgradeStatus(port, "/t?token=alpha"), 101);
  assertEquals([alpha.accepted, beta.accepted], [1, 0]);
  assertEquals(await upgradeStatus(port, "/t?token=beta"), 101);
  assertEquals([alpha.accepted, beta.accepted], [1, 1]);
});

Deno.test("token route picks up a rewritten token file without a restart", async () => {
  await using dir = await tempDir();
  await using first = startEchoBackend();
  await using second = startEchoBackend();
  const file = `${dir.path}/tokens.cfg`;
  await Deno.writeTextFile(file, `old: ${first.target}\n`);
  await using gateway = await startGateway({
    routes: [{ path: "/t", tokens: file }],
  });
  const port = gateway.port;
  assertEquals(await upgradeStatus(port, "/t?token=old"), 101);
  assertEquals(await upgradeStatus(port, "/t?token=new"), 404);
  await Deno.writeTextFile(file, `new: ${second.target}\n`);
  const isPickedUp = await pollUntil(
    async () => await upgradeStatus(port, "/t?token=new") === 101,
    5000,
  );
  assert(isPickedUp, "the new token was not served within 5 s");
  assertEquals(await upgradeStatus(port, "/t?token=old"), 404);
  assertEquals(first.accepted, 1);
  assertEquals(second.accepted, 1);
});

// ---- dynamic targets -------------------------------------------------------

Deno.test("dynamic route refuses targets outside its allow-list with 403 and never dials them", async (t) => {
  await using allowed = startEchoBackend();
  await using decoy = startEchoBackend();
  await using gateway = await startGateway({
    routes: [{
      path: "/d",
      dynamic: {
        hosts: ["db.internal.test"],
        cidrs: ["127.0.0.1/32"],
        ports: [allowed.port],
      },
    }],
  });
  const port = gateway.port;
  const cases: [string, string, number][] = [
    [
      "a listed address on another port",
      `host=127.0.0.1&port=${decoy.port}`,
      403,
    ],
    [
      "an unlisted loopback address",
      `host=127.0.0.2&port=${allowed.port}`,
      403,
    ],
    ["an unlisted name", `host=example.com&port=${allowed.port}`, 403],
    ["localhost (not listed)", `host=localhost&port=${allowed.port}`, 403],
    ["IPv6 loopback", `host=%5B%3A%3A1%5D&port=${allowed.port}`, 403],
    ["the unspecified address", `host=0.0.0.0&port=${allowed.port}`, 403],
    ["a shorthand address", `host=127.1&port=${allowed.port}`, 403],
    ["a decimal address", `host=2130706433&port=${allowed.port}`, 403],
    ["a hex address", `host=0x7f000001&port=${allowed.port}`, 403],
    [
      "a name with a port",
      `host=127.0.0.1:${decoy.port}&port=${allowed.port}`,
      403,
    ],
    [
      "a URL as host",
      `host=http://127.0.0.1:${decoy.port}/&port=${allowed.port}`,
      403,
    ],
    ["no host", `port=${allowed.port}`, 400],
    ["no port", "host=127.0.0.1", 400],
    ["port 0", "host=127.0.0.1&port=0", 400],
    ["port out of range", "host=127.0.0.1&port=70000", 400],
  ];
  for (const [name, query, expected] of cases) {
    await t.step(`${name} -> ${expected}`, async () => {
      assertEquals(await upgradeStatus(port, `/d?${query}`), expected);
    });
  }
  assertEquals(decoy.accepted, 0);
  assertEquals(allowed.accepted, 0);
});

Deno.test("dynamic route refuses with 403 a listed name that resolves only to a denied address", async () => {
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    routes: [{ path: "/d", dynamic: { hosts: ["localhost"] } }],
  });
  assertEquals(
    await upgradeStatus(gateway.port, `/d?host=localhost&port=${backend.port}`),
    403,
  );
  const refusal = gateway.events.find((event) =>
    event.type === "handshake_refused"
  );
  assert(refusal?.type === "handshake_refused");
  assertEquals(refusal.status, 403);
  assert(/denied/.test(refusal.detail), refusal.detail);
  assertEquals(backend.accepted, 0);
});

Deno.test("dynamic route reaches an allowed target covered by a listed loopback CIDR", async (t) => {
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    routes: [{
      path: "/d",
      dynamic: {
        hosts: ["localhost"],
        cidrs: ["127.0.0.0/8"],
        ports: [backend.port],
      },
    }],
  });
  const port = gateway.port;
  const cases: [string, string][] = [
    ["an IPv4 literal", "127.0.0.1"],
    ["an IPv4-mapped IPv6 literal", "%5B%3A%3Affff%3A127.0.0.1%5D"],
    ["a listed name resolving into the CIDR", "localhost"],
  ];
  let expected = 0;
  for (const [name, host] of cases) {
    await t.step(name, async () => {
      assertEquals(
        await upgradeStatus(port, `/d?host=${host}&port=${backend.port}`),
        101,
      );
      expected++;
      assertEquals(backend.accepted, expected);
    });
  }
  const opens = gateway.events.filter(isSessionOpen);
  assertEquals(opens.length, 3);
  for (const open of opens) assert(open.target.includes("127.0.0.1"));
});

// ---- limits ----------------------------------------------------------------

/**
 * With `limit` set to one session, holds a session open, expects a second
 * upgrade to be refused with `status` and `Retry-After: 5`, then expects a
 * new upgrade to be admitted once the first session has closed.
 */
async function checkSecondSessionRefused(
  limit: { maxSessions: 1 } | { maxSessionsPerIp: 1 },
  status: number,
): Promise<void> {
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    ...limit,
    routes: [{ path: "/ws", target: backend.target }],
  });
  const { client, response } = await RawWsClient.connect(gateway.port, "/ws");
  assertEquals(response.status, 101);
  {
    await using _client = politely(client);
    const refused = await exchange(
      gateway.port,
      upgradeRequest(gateway.port, "/ws"),
    );
    assertEquals(refused.status, status);
    assertEquals(headerValue(refused.head, "retry-after"), "5");
  }
  await within(gateway.nextClose(), 5000, "session_close");
  assertEquals(await upgradeStatus(gateway.port, "/ws"), 101);
  assertEquals(backend.accepted, 2);
}

Deno.test("maxSessions refuses with 503 beyond the limit and admits again after a close", async () => {
  await checkSecondSessionRefused({ maxSessions: 1 }, 503);
});

Deno.test("maxSessionsPerIp refuses a second session from the same address with 429", async () => {
  await checkSecondSessionRefused({ maxSessionsPerIp: 1 }, 429);
});

Deno.test("maxSessionsPerIp counts the forwarded client behind a trusted proxy", async () => {
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    maxSessionsPerIp: 1,
    trustedProxies: ["127.0.0.0/8"],
    routes: [{ path: "/ws", target: backend.target }],
  });
  const port = gateway.port;
  const { client } = await RawWsClient.connect(port, "/ws", {
    "X-Forwarded-For": "198.51.100.7",
  });
  await using _client = politely(client);
  assertEquals(
    await upgradeStatus(port, "/ws", { "X-Forwarded-For": "198.51.100.7" }),
    429,
  );
  assertEquals(
    await upgradeStatus(port, "/ws", { "X-Forwarded-For": "198.51.100.8" }),
    101,
  );
});

// ---- the request head ------------------------------------------------------

Deno.test("handshakeTimeoutMs answers 408 and closes a connection that sends half a head and then nothing", async () => {
  const handshakeTimeoutMs = 300;
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    handshakeTimeoutMs,
    routes: [{ path: "/ws", target: backend.target }],
  });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: gateway.port,
  });
  try {
    const started = performance.now();
    await writeAll(
      conn,
      utf8.encode(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${gateway.port}\r\nUp`),
    );
    const received: Uint8Array[] = [];
    const buffer = new Uint8Array(1024);
    await within(
      (async () => {
        for (let reads = 0; reads < 100; reads++) {
          const count = await conn.read(buffer).catch(() => null);
          if (count === null) return;
          received.push(buffer.slice(0, count));
        }
      })(),
      handshakeTimeoutMs + 2000,
      "the gateway to close a slow handshake",
    );
    const elapsed = performance.now() - started;
    assert(
      elapsed >= handshakeTimeoutMs - 50,
      `closed after ${elapsed} ms, before handshakeTimeoutMs`,
    );
    assert(
      elapsed < handshakeTimeoutMs + 1000,
      `closed after ${elapsed} ms`,
    );
    const response = latin1.decode(concat(received));
    assert(
      response.startsWith("HTTP/1.1 408 Request Timeout\r\n"),
      JSON.stringify(response),
    );
    assert(response.endsWith("\r\n\r\nRequest head timeout\n"), response);
  } finally {
    conn.close();
  }
  assertEquals(backend.accepted, 0);
  const refusal = gateway.events.find((event) =>
    event.type === "handshake_refused"
  );
  assert(refusal?.type === "handshake_refused");
  assertEquals(refusal.status, 408);
  assertEquals(
    refusal.detail,
    `no complete request head within ${handshakeTimeoutMs} ms`,
  );
  // The gateway still serves.
  assertEquals(await upgradeStatus(gateway.port, "/ws"), 101);
});

Deno.test("maxHeadBytes refuses a longer head with 431 and admits one of exactly that size", async () => {
  const maxHeadBytes = 1024;
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    maxHeadBytes,
    routes: [{ path: "/ws", target: backend.target }],
  });
  const port = gateway.port;
  const bare = upgradeRequest(port, "/ws", { "X-Pad": "" });
  const padTo = (size: number) =>
    upgradeRequest(port, "/ws", { "X-Pad": "p".repeat(size - bare.length) });
  assertEquals(padTo(maxHeadBytes).length, maxHeadBytes);
  assertEquals((await exchange(port, padTo(maxHeadBytes))).status, 101);
  assertEquals((await exchange(port, padTo(maxHeadBytes + 1))).status, 431);
  assertEquals((await exchange(port, padTo(4 * maxHeadBytes))).status, 431);
  // A head that never ends is cut at maxHeadBytes too.
  const endless = `GET /ws HTTP/1.1\r\nX-Pad: ${"p".repeat(2 * maxHeadBytes)}`;
  assertEquals((await exchange(port, endless)).status, 431);
  assertEquals(backend.accepted, 1);
});

// ---- subprotocols ----------------------------------------------------------

Deno.test("route subprotocols: the first offered one the route accepts is chosen", async (t) => {
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    routes: [
      { path: "/p", target: backend.target, subprotocols: ["b.v1", "a.v1"] },
      { path: "/none", target: backend.target },
    ],
  });
  const port = gateway.port;
  const cases: [
    string,
    string,
    Record<string, string>,
    number,
    string | undefined,
  ][] = [
    [
      "first offered that the route accepts",
      "/p",
      {
        "Sec-WebSocket-Protocol": "x.v9, a.v1, b.v1",
      },
      101,
      "a.v1",
    ],
    [
      "offered over two header lines",
      "/p",
      {
        "Sec-WebSocket-Protocol": "x.v9",
        "sec-websocket-protocol": "b.v1",
      },
      101,
      "b.v1",
    ],
    ["none offered -> no header", "/p", {}, 101, undefined],
    [
      "offered but none accepted -> 400",
      "/p",
      {
        "Sec-WebSocket-Protocol": "x.v9, A.V1",
      },
      400,
      undefined,
    ],
    [
      // A route that lists none relays transparently: the first offer is
      // answered, so the page and the backend speak it end to end.
      "offered to a route that accepts none -> the first offer",
      "/none",
      {
        "Sec-WebSocket-Protocol": "a.v1, b.v1",
      },
      101,
      "a.v1",
    ],
    [
      "only base64 offered to a route that accepts none -> 400",
      "/none",
      {
        "Sec-WebSocket-Protocol": "base64",
      },
      400,
      undefined,
    ],
    ["none offered to a route that accepts none", "/none", {}, 101, undefined],
  ];
  for (const [name, path, headers, status, chosen] of cases) {
    await t.step(name, async () => {
      const answer = await exchange(port, upgradeRequest(port, path, headers));
      assertEquals(answer.status, status);
      if (status === 101) {
        assertEquals(
          headerValue(answer.head, "sec-websocket-protocol"),
          chosen,
        );
      }
    });
  }
  assertEquals(backend.accepted, 5);
});

// ---- PROXY protocol --------------------------------------------------------

/** Opens a session, sends `message`, ends it; returns what the backend got. */
async function proxiedBytes(
  backend: ReturnType<typeof startRecordingBackend>,
  port: number,
  message: Uint8Array,
): Promise<{ received: Uint8Array; clientPort: number }> {
  const ended = backend.ended();
  const { client, response } = await RawWsClient.connect(port, "/p");
  assertEquals(response.status, 101);
  const clientPort = client.conn.localAddr.port;
  await client.send(message);
  await closePolitely(client);
  await within(ended, 5000, "backend EOF");
  const received = backend.received()[0];
  assert(received !== undefined, "the backend saw no connection");
  return { received, clientPort };
}

Deno.test("route proxyProtocol v1 sends the exact PROXY line before the first frame", async () => {
  await using backend = startRecordingBackend();
  await using gateway = await startGateway({
    routes: [{ path: "/p", target: backend.target, proxyProtocol: "v1" }],
  });
  const message = utf8.encode("after the header");
  const { received, clientPort } = await proxiedBytes(
    backend,
    gateway.port,
    message,
  );
  const header = utf8.encode(
    `PROXY TCP4 127.0.0.1 127.0.0.1 ${clientPort} ${gateway.port}\r\n`,
  );
  assertEquals(
    latin1.decode(received.subarray(0, header.length)),
    latin1.decode(header),
  );
  assertEquals([...received], [...concat([header, u32beFrame(message)])]);
});

Deno.test("route proxyProtocol v2 sends the exact binary header before the first frame", async () => {
  await using backend = startRecordingBackend();
  await using gateway = await startGateway({
    routes: [{ path: "/p", target: backend.target, proxyProtocol: "v2" }],
  });
  const message = utf8.encode("after the header");
  const { received, clientPort } = await proxiedBytes(
    backend,
    gateway.port,
    message,
  );
  const header = Uint8Array.of(
    // Signature.
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
    // Version 2, PROXY; TCP over IPv4; 12 address bytes.
    0x21,
    0x11,
    0x00,
    0x0c,
    // Source 127.0.0.1, destination 127.0.0.1.
    127,
    0,
    0,
    1,
    127,
    0,
    0,
    1,
    // Source port, destination port (big-endian).
    clientPort >> 8,
    clientPort & 0xff,
    gateway.port >> 8,
    gateway.port & 0xff,
  );
  assertEquals([...received.subarray(0, 28)], [...header]);
  assertEquals([...received], [...concat([header, u32beFrame(message)])]);
});

// ---- X-Forwarded-For -------------------------------------------------------

/** Opens one session with `headers`; returns its session_open client text. */
async function openedClient(
  options: { trustedProxies?: string[] },
  headers: Record<string, string>,
  backend: TestBackend,
): Promise<{ client: string; peer: string }> {
  await using gateway = await startGateway({
    ...options,
    routes: [{ path: "/ws", target: backend.target }],
  });
  const { client, response } = await RawWsClient.connect(
    gateway.port,
    "/ws",
    headers,
  );
  await using _client = politely(client);
  assertEquals(response.status, 101);
  const open = await within(
    gateway.waitForEvent(isSessionOpen),
    5000,
    "session_open",
  );
  return {
    client: open.client,
    peer: `127.0.0.1:${client.conn.localAddr.port}`,
  };
}

Deno.test("X-Forwarded-For from a trusted proxy names the client in session_open; from others it is ignored", async (t) => {
  await using backend = startEchoBackend();
  await t.step("trusted proxy, one hop", async () => {
    const { client } = await openedClient(
      { trustedProxies: ["127.0.0.0/8"] },
      { "X-Forwarded-For": "198.51.100.7" },
      backend,
    );
    assertEquals(client.split(" ")[0], "198.51.100.7");
  });
  await t.step("trusted proxy, the right-most untrusted hop wins", async () => {
    const { client } = await openedClient(
      { trustedProxies: ["127.0.0.0/8"] },
      { "X-Forwarded-For": "203.0.113.9, 198.51.100.7, 127.0.0.9" },
      backend,
    );
    assertEquals(client.split(" ")[0], "198.51.100.7");
  });
  await t.step("peer outside trustedProxies", async () => {
    const { client, peer } = await openedClient(
      { trustedProxies: ["192.0.2.0/24"] },
      { "X-Forwarded-For": "198.51.100.7" },
      backend,
    );
    assertEquals(client, peer);
  });
  await t.step("no trustedProxies", async () => {
    const { client, peer } = await openedClient(
      {},
      { "X-Forwarded-For": "198.51.100.7" },
      backend,
    );
    assertEquals(client, peer);
  });
});

Deno.test({
  name:
    "X-Forwarded-For hops that are not IP addresses are not taken as the client",
  fn: async (t) => {
    await using backend = startRecordingBackend();
    await using gateway = await startGateway({
      trustedProxies: ["127.0.0.0/8"],
      routes: [{ path: "/p", target: backend.target, proxyProtocol: "v1" }],
    });
    for (const hop of ["not-an-ip", "198.51.100.7:1234"]) {
      await t.step(hop, async () => {
        const { client, response } = await RawWsClient.connect(
          gateway.port,
          "/p",
          { "X-Forwarded-For": hop },
        );
        await using _client = politely(client);
        assertEquals(response.status, 101);
        await client.send(utf8.encode("ping"));
        const open = await within(
          gateway.waitForEvent(isSessionOpen),
          5000,
          "session_open",
        );
        assert(!open.client.startsWith(hop), open.client);
      });
    }
  },
});

// ---- no open proxy ---------------------------------------------------------

Deno.test("gateway with one fixed target never connects anywhere else whatever the browser sends", async (t) => {
  await using fixed = startEchoBackend();
  await using decoy = startEchoBackend();
  await using gateway = await startGateway({
    routes: [{ path: "/ws", target: fixed.target }],
  });
  const port = gateway.port;
  const d = decoy.port;
  const decoyHost = `127.0.0.1:${d}`;
  const upgrade = (target: string, headers: Record<string, string> = {}) =>
    upgradeRequest(port, target, headers);
  const decoyTicket = await ticket({ route: "/ws", target: decoyHost });
  const cases: [string, string, number][] = [
    ["host and port parameters", upgrade(`/ws?host=127.0.0.1&port=${d}`), 101],
    ["a token parameter", upgrade(`/ws?token=${decoyHost}`), 101],
    [
      "target parameters",
      upgrade(`/ws?target=${decoyHost}&backend=${decoyHost}`),
      101,
    ],
    ["a ticket naming the decoy", upgrade(`/ws?ticket=${decoyTicket}`), 101],
    ["Host naming the decoy", upgrade("/ws", { Host: decoyHost }), 101],
    [
      // A browser Host naming another port than the listener's is refused
      // on a loopback gateway (DNS rebinding defence).
      "Host and Origin naming the decoy",
      upgrade("/ws", { Host: decoyHost, Origin: `http://${decoyHost}` }),
      403,
    ],
    [
      "forwarding headers naming the decoy",
      upgrade("/ws", {
        "X-Forwarded-Host": decoyHost,
        Forwarded: `host=${decoyHost}`,
        "X-Forwarded-For": "127.0.0.1",
        "X-Original-URL": `/ws?host=127.0.0.1&port=${d}`,
      }),
      101,
    ],
    [
      // Answered as the route's transparent subprotocol; the session still
      // goes to the fixed target only.
      "a subprotocol naming the decoy",
      upgrade("/ws", { "Sec-WebSocket-Protocol": decoyHost }),
      101,
    ],
    ["an encoded route path", upgrade("/w%73"), 101],
    ["absolute-form http target", upgrade(`http://${decoyHost}/ws`), 400],
    ["absolute-form ws target", upgrade(`ws://${decoyHost}/ws`), 400],
    [
      "authority-form CONNECT",
      `CONNECT ${decoyHost} HTTP/1.1\r\nHost: ${decoyHost}\r\n\r\n`,
      400,
    ],
    ["asterisk-form target", upgrade("*"), 400],
    ["a scheme-relative path", upgrade(`//${decoyHost}/ws`), 404],
    ["a path with ../", upgrade("/ws/../ws"), 404],
    ["a path with ./", upgrade("/./ws"), 404],
    ["an encoded ../", upgrade("/%2e%2e/ws"), 404],
    ["an encoded slash", upgrade("/ws%2f..%2fws"), 404],
    ["an encoded query", upgrade(`/ws%3fhost=127.0.0.1%26port=${d}`), 404],
    ["a NUL in the path", upgrade("/ws%00"), 404],
    ["a malformed escape", upgrade("/ws%zz"), 400],
    ["a second route path", upgrade("/other"), 404],
    ["the root path", upgrade(`/?host=127.0.0.1&port=${d}`), 404],
    [
      "a plain GET with target parameters",
      `GET /ws?host=127.0.0.1&port=${d} HTTP/1.1\r\nHost: ${decoyHost}\r\n\r\n`,
      -1,
    ],
    [
      "a second request pipelined after the upgrade",
      upgrade("/ws") + upgrade(`/ws?host=127.0.0.1&port=${d}`),
      101,
    ],
  ];
  let upgrades = 0;
  for (const [name, request, expected] of cases) {
    await t.step(
      `${name} -> ${expected === -1 ? "any answer" : expected}`,
      async () => {
        const answer = await exchange(port, request);
        if (expected !== -1) assertEquals(answer.status, expected, answer.head);
        if (answer.status === 101) upgrades++;
        assertEquals(decoy.accepted, 0);
      },
    );
  }
  assertEquals(fixed.accepted, upgrades);
  assertEquals(decoy.accepted, 0);
  for (const open of gateway.events.filter(isSessionOpen)) {
    assertEquals(open.target, fixed.target);
  }
});

/** A temporary directory removed by `await using`. */
async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "wsgate_access_" });
  return {
    path,
    [Symbol.asyncDispose]: () =>
      Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}
