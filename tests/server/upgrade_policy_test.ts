import {
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
  within,
} from "../_util/assert.ts";
import {
  type GatewayOptions,
  resolveOptions,
} from "../../src/config/config.ts";
import { ConfigError } from "../../src/errors.ts";
import { targetLookups } from "../../src/server/target_lookups.ts";
import { importTicketKey, signTicket } from "../../src/security/ticket.ts";
import { ReplayCache } from "../../src/security/replay_cache.ts";
import {
  awaitTargetLookup,
  TICKET_SUBPROTOCOL_PREFIX,
  type UpgradeDecision,
  UpgradePolicy,
} from "../../src/server/upgrade_policy.ts";
import {
  parseRequestHead,
  type RequestHead,
} from "../../src/http/request_head.ts";

const SECRET = "0123456789abcdef0123456789abcdef";
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const TARGET = "127.0.0.1:9000";

/** The headers of a valid same-origin upgrade request to host `gw`. */
const UPGRADE: Record<string, string> = {
  Host: "gw",
  Upgrade: "websocket",
  Connection: "Upgrade",
  "Sec-WebSocket-Key": KEY,
  "Sec-WebSocket-Version": "13",
};

/** A request head for `target` with the upgrade headers, changed by `headers` (null removes). */
function request(
  target: string,
  headers: Record<string, string | null> = {},
  method = "GET",
  version = "HTTP/1.1",
): RequestHead {
  let text = `${method} ${target} ${version}\r\n`;
  for (const [name, value] of Object.entries({ ...UPGRADE, ...headers })) {
    if (value !== null) text += `${name}: ${value}\r\n`;
  }
  const result = parseRequestHead(
    new TextEncoder().encode(`${text}\r\n`),
    8192,
  );
  if (result.kind !== "head") throw new Error(`bad head: ${result.kind}`);
  return result.head;
}

async function policyFor(options: GatewayOptions): Promise<UpgradePolicy> {
  const policy = new UpgradePolicy(resolveOptions(options));
  await policy.init();
  return policy;
}

function assertRefused(
  decision: UpgradeDecision,
  status: number,
  body: string,
): string {
  assert(decision.kind === "refuse", `accepted: ${JSON.stringify(decision)}`);
  assertStrictEquals(decision.refusal.status, status, decision.detail);
  assertStrictEquals(decision.refusal.body, body);
  return decision.detail;
}

function assertAccepted(
  decision: UpgradeDecision,
): Extract<UpgradeDecision, { kind: "accept" }> {
  assert(
    decision.kind === "accept",
    decision.kind === "refuse" ? `refused: ${decision.detail}` : "",
  );
  return decision;
}

async function ticket(claims: Record<string, unknown>): Promise<string> {
  const key = await importTicketKey(SECRET);
  return await signTicket({ exp: Date.now() / 1000 + 60, ...claims }, key);
}

async function withTokenFile<T>(
  text: string,
  body: (path: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/tokens.cfg`;
    await Deno.writeTextFile(path, text);
    return await body(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("UpgradePolicy.decide accepts a valid upgrade of a fixed-target route", async () => {
  const policy = await policyFor({
    routes: [{ path: "/vnc", target: TARGET }],
  });
  const decision = assertAccepted(await policy.decide(request("/vnc")));
  assertStrictEquals(decision.route.path, "/vnc");
  assertEquals(decision.target, {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 9000,
  });
  assertStrictEquals(decision.targetText, TARGET);
  assertStrictEquals(decision.key, KEY);
  assertStrictEquals(decision.subprotocol, undefined);
});

Deno.test("UpgradePolicy.decide refuses an unknown path with 404 before any other check", async () => {
  const policy = await policyFor({
    routes: [{ path: "/vnc", target: TARGET }],
  });
  const detail = assertRefused(
    await policy.decide(
      request("/other", { Origin: "https://evil.example" }, "POST"),
    ),
    404,
    "No such route",
  );
  assertStrictEquals(detail, 'no route for path "/other"');
});

Deno.test("UpgradePolicy.decide refuses bad upgrade headers with the handshake's status", async (t) => {
  const policy = await policyFor({ routes: [{ path: "/", target: TARGET }] });
  const cases: [string, RequestHead, number, string][] = [
    ["POST", request("/", {}, "POST"), 405, "WebSocket upgrade requires GET"],
    [
      "no Connection: Upgrade",
      request("/", { Connection: "keep-alive" }),
      400,
      "Missing Connection: Upgrade",
    ],
    ["no Host", request("/", { Host: null }), 400, "Missing Host header"],
    [
      "version 8",
      request("/", { "Sec-WebSocket-Version": "8" }),
      426,
      "Unsupported Sec-WebSocket-Version (expected 13)",
    ],
    [
      "a short key",
      request("/", { "Sec-WebSocket-Key": "abc" }),
      400,
      "Missing or invalid Sec-WebSocket-Key",
    ],
  ];
  for (const [name, head, status, body] of cases) {
    await t.step(`${name} -> ${status}`, async () => {
      const detail = assertRefused(await policy.decide(head), status, body);
      assertStrictEquals(detail, body);
    });
  }
  await t.step("405 and 426 carry their response headers", async () => {
    const post = await policy.decide(request("/", {}, "POST"));
    assert(post.kind === "refuse");
    assertEquals(post.refusal.headers, { allow: "GET" });
    const old = await policy.decide(
      request("/", { "Sec-WebSocket-Version": "8" }),
    );
    assert(old.kind === "refuse");
    assertEquals(old.refusal.headers, { "sec-websocket-version": "13" });
  });
});

Deno.test("UpgradePolicy.decide refuses an HTTP/1.0 upgrade with 400", async () => {
  // Regression: an HTTP/1.0 upgrade was accepted; RFC 6455 section 4.2.1
  // requires HTTP/1.1 or higher for the opening handshake.
  const policy = await policyFor({ routes: [{ path: "/", target: TARGET }] });
  const detail = assertRefused(
    await policy.decide(request("/", {}, "GET", "HTTP/1.0")),
    400,
    "WebSocket upgrade requires HTTP/1.1",
  );
  assertStrictEquals(detail, "WebSocket upgrade requires HTTP/1.1");
});

Deno.test("UpgradePolicy.decide refuses a cross-origin request with 403 under the default policy", async () => {
  // Host "gw" on a gateway that others can reach: on a loopback listener
  // only loopback Host names pass (see the DNS rebinding test below).
  const policy = await policyFor({
    hostname: "0.0.0.0",
    routes: [{ path: "/", target: TARGET }],
  });
  const detail = assertRefused(
    await policy.decide(request("/", { Origin: "https://evil.example" })),
    403,
    "Origin not allowed",
  );
  assert(detail.includes('"https://evil.example"'), detail);
  assertAccepted(await policy.decide(request("/", { Origin: "http://gw" })));
  assertAccepted(await policy.decide(request("/")));
});

Deno.test("UpgradePolicy.decide names the --allow-origin to add in the log detail of a cross-origin refusal", async () => {
  const policy = await policyFor({ routes: [{ path: "/", target: TARGET }] });
  const detail = assertRefused(
    await policy.decide(
      request("/", {
        Host: "127.0.0.1:8080",
        Origin: "http://127.0.0.1:8000",
      }),
      { listenPort: 8080 },
    ),
    403,
    "Origin not allowed",
  );
  assertStrictEquals(
    detail,
    'origin "http://127.0.0.1:8000" refused (cross-origin): add --allow-origin http://127.0.0.1:8000',
  );
  const listed = await policyFor({
    allowOrigins: ["https://app.example.com"],
    routes: [{ path: "/", target: TARGET }],
  });
  assertStrictEquals(
    assertRefused(
      await listed.decide(
        request("/", { Origin: "HTTPS://Other.Example:443" }),
      ),
      403,
      "Origin not allowed",
    ),
    'origin "https://other.example" refused (not-listed): add --allow-origin https://other.example',
  );
});

Deno.test("UpgradePolicy.decide on a loopback gateway refuses a non-loopback Host with 403 and says why (DNS rebinding)", async () => {
  const policy = await policyFor({
    hostname: "127.0.0.1",
    port: 0,
    routes: [{ path: "/", target: TARGET }],
  });
  const rebound = {
    Host: "rebind.attacker.example:8080",
    Origin: "http://rebind.attacker.example:8080",
  };
  const detail = assertRefused(
    await policy.decide(request("/", rebound), { listenPort: 8080 }),
    403,
    "Origin not allowed",
  );
  assertStrictEquals(
    detail,
    'host "rebind.attacker.example:8080" refused: a loopback gateway accepts only loopback Host names (localhost, 127.0.0.1, [::1]) on port 8080 unless origins are listed (DNS rebinding); list the pages allowed to connect with --allow-origin (or name a proxy in front with --trust-proxy)',
  );
  for (const host of ["localhost:8080", "127.0.0.1:8080", "[::1]:8080"]) {
    assertAccepted(
      await policy.decide(
        request("/", { Host: host, Origin: `http://${host}` }),
        { listenPort: 8080 },
      ),
    );
  }
  // The port the request came in on counts, not another loopback port.
  assertRefused(
    await policy.decide(
      request("/", { Host: "localhost:9000", Origin: "http://localhost:9000" }),
      { listenPort: 8080 },
    ),
    403,
    "Origin not allowed",
  );
  // Without a port given, the configured one is used (none when it is 0).
  const fixed = await policyFor({
    hostname: "127.0.0.1",
    port: 8080,
    routes: [{ path: "/", target: TARGET }],
  });
  assertAccepted(
    await fixed.decide(
      request("/", { Host: "localhost:8080", Origin: "http://localhost:8080" }),
    ),
  );
  assertRefused(
    await fixed.decide(
      request("/", { Host: "localhost:9000", Origin: "http://localhost:9000" }),
    ),
    403,
    "Origin not allowed",
  );
  // Behind a trusted proxy the Host names the proxy: same-origin only.
  assertAccepted(
    await policy.decide(request("/", rebound), {
      listenPort: 8080,
      isFromTrustedProxy: true,
    }),
  );
  // Listing origins is the way to admit other names.
  const listed = await policyFor({
    allowOrigins: ["http://rebind.attacker.example:8080"],
    routes: [{ path: "/", target: TARGET }],
  });
  assertAccepted(
    await listed.decide(request("/", rebound), { listenPort: 8080 }),
  );
});

Deno.test("UpgradePolicy.decide applies allowOrigins", async () => {
  const policy = await policyFor({
    allowOrigins: ["https://app.example.com"],
    routes: [{ path: "/", target: TARGET }],
  });
  assertAccepted(
    await policy.decide(request("/", { Origin: "https://app.example.com" })),
  );
  assertRefused(
    await policy.decide(request("/", { Origin: "http://gw" })),
    403,
    "Origin not allowed",
  );
});

Deno.test("UpgradePolicy.decide refuses with 400 when no offered subprotocol is accepted", async () => {
  const policy = await policyFor({
    routes: [{ path: "/", target: TARGET, subprotocols: ["binary", "base64"] }],
  });
  const detail = assertRefused(
    await policy.decide(request("/", { "Sec-WebSocket-Protocol": "chat, x" })),
    400,
    "None of the offered subprotocols is accepted",
  );
  assertStrictEquals(
    detail,
    'offered ["chat","x"], accepted ["binary","base64"]',
  );
  const chosen = assertAccepted(
    await policy.decide(
      request("/", { "Sec-WebSocket-Protocol": "x, base64, binary" }),
    ),
  );
  assertStrictEquals(chosen.subprotocol, "base64");
});

Deno.test("UpgradePolicy.decide on a route without subprotocols answers binary or the first offer and never base64", async (t) => {
  // Regression: such a route refused every offer with 400, so websockify-era
  // pages (binary) and MQTT-over-WebSocket clients (mqtt) could not connect.
  const policy = await policyFor({ routes: [{ path: "/", target: TARGET }] });
  const cases: [string, string | undefined][] = [
    ["binary", "binary"],
    ["base64, binary", "binary"],
    ["mqtt, binary", "binary"],
    ["mqtt", "mqtt"],
    ["x-one, x-two", "x-one"],
    ["base64, mqtt", "mqtt"],
  ];
  for (const [offered, expected] of cases) {
    await t.step(`offered "${offered}" answers ${expected}`, async () => {
      const chosen = assertAccepted(
        await policy.decide(
          request("/", { "Sec-WebSocket-Protocol": offered }),
        ),
      );
      assertStrictEquals(chosen.subprotocol, expected);
    });
  }
  await t.step("nothing offered answers without the header", async () => {
    const chosen = assertAccepted(await policy.decide(request("/")));
    assertStrictEquals(chosen.subprotocol, undefined);
  });
  await t.step("only base64 offered is refused with 400", async () => {
    assertRefused(
      await policy.decide(
        request("/", { "Sec-WebSocket-Protocol": "base64" }),
      ),
      400,
      "The base64 subprotocol is not supported: offer binary",
    );
  });
});

Deno.test("UpgradePolicy.decide refuses missing and bad tickets with 401", async (t) => {
  const policy = await policyFor({
    ticketSecret: SECRET,
    routes: [{ path: "/", target: TARGET, requireTicket: true }],
  });
  await t.step("no ticket", async () => {
    assertStrictEquals(
      assertRefused(await policy.decide(request("/")), 401, "Unauthorized"),
      "ticket missing",
    );
  });
  await t.step("an empty ticket parameter", async () => {
    assertStrictEquals(
      assertRefused(
        await policy.decide(request("/?ticket=")),
        401,
        "Unauthorized",
      ),
      "ticket missing",
    );
  });
  await t.step("a forged ticket", async () => {
    const other = await signTicket(
      { route: "/", exp: Date.now() / 1000 + 60 },
      await importTicketKey("x".repeat(32)),
    );
    const detail = assertRefused(
      await policy.decide(request(`/?ticket=${other}`)),
      401,
      "Unauthorized",
    );
    assert(detail.startsWith("ticket refused: "), detail);
  });
  await t.step("a ticket for another route", async () => {
    assertRefused(
      await policy.decide(request(`/?ticket=${await ticket({ route: "/x" })}`)),
      401,
      "Unauthorized",
    );
  });
  await t.step("a valid ticket in the query", async () => {
    assertAccepted(
      await policy.decide(request(`/?ticket=${await ticket({ route: "/" })}`)),
    );
  });
});

Deno.test("UpgradePolicy.decide takes a ticket from a subprotocol entry and echoes it only when offered alone", async () => {
  const policy = await policyFor({
    ticketSecret: SECRET,
    routes: [{
      path: "/",
      target: TARGET,
      requireTicket: true,
      subprotocols: ["v1"],
    }],
  });
  const entry = `${TICKET_SUBPROTOCOL_PREFIX}${await ticket({ route: "/" })}`;
  const alone = assertAccepted(
    await policy.decide(request("/", { "Sec-WebSocket-Protocol": entry })),
  );
  assertStrictEquals(alone.subprotocol, entry);
  const withOther = assertAccepted(
    await policy.decide(
      request("/", { "Sec-WebSocket-Protocol": `${entry}, v1` }),
    ),
  );
  assertStrictEquals(withOther.subprotocol, "v1");
});

Deno.test("UpgradePolicy.decide ignores ticket entries on a route without requireTicket", async () => {
  const policy = await policyFor({ routes: [{ path: "/", target: TARGET }] });
  const decision = assertAccepted(
    await policy.decide(
      request("/", {
        "Sec-WebSocket-Protocol": `${TICKET_SUBPROTOCOL_PREFIX}junk`,
      }),
    ),
  );
  assertStrictEquals(decision.subprotocol, `${TICKET_SUBPROTOCOL_PREFIX}junk`);
});

Deno.test("UpgradePolicy.decide refuses a ticket whose target claim is another target with 401", async () => {
  const policy = await policyFor({
    ticketSecret: SECRET,
    routes: [{ path: "/", target: TARGET, requireTicket: true }],
  });
  const detail = assertRefused(
    await policy.decide(
      request(`/?ticket=${await ticket({ route: "/", target: "10.0.0.1:1" })}`),
    ),
    401,
    "Unauthorized",
  );
  assertStrictEquals(
    detail,
    `ticket refused: wrong target: expected "${TARGET}", ticket has "10.0.0.1:1"`,
  );
  assertAccepted(
    await policy.decide(
      request(`/?ticket=${await ticket({ route: "/", target: TARGET })}`),
    ),
  );
});

Deno.test("UpgradePolicy.decide refuses a replayed single-use ticket and one without jti with 401", async () => {
  const replayCache = new ReplayCache();
  const policy = new UpgradePolicy(
    resolveOptions({
      ticketSecret: SECRET,
      routes: [{
        path: "/",
        target: TARGET,
        requireTicket: true,
        singleUseTickets: true,
      }],
    }),
    { replayCache },
  );
  await policy.init();
  const once = await ticket({ route: "/", jti: crypto.randomUUID() });
  const first = assertAccepted(
    await policy.decide(request(`/?ticket=${once}`)),
  );
  // decide only checks the id; the session table spends it once it admits.
  assertAccepted(await policy.decide(request(`/?ticket=${once}`)));
  replayCache.use(
    first.ticketUse!.id,
    first.ticketUse!.expiresAtMs,
    Date.now(),
  );
  const detail = assertRefused(
    await policy.decide(request(`/?ticket=${once}`)),
    401,
    "Unauthorized",
  );
  assert(detail.startsWith("ticket refused: "), detail);
  // The detail used to repeat itself: "missing jti: Cannot accept ticket as
  // it is refused: missing jti".
  assertStrictEquals(
    assertRefused(
      await policy.decide(request(`/?ticket=${await ticket({ route: "/" })}`)),
      401,
      "Unauthorized",
    ),
    "ticket refused: missing jti (single-use tickets need a jti claim: wsgate ticket --jti)",
  );
});

Deno.test("UpgradePolicy.decide refuses a ticket id spent in a shared replay cache, which outlives the policy", async () => {
  const replayCache = new ReplayCache();
  const options: GatewayOptions = {
    ticketSecret: SECRET,
    routes: [{
      path: "/",
      target: TARGET,
      requireTicket: true,
      singleUseTickets: true,
    }],
  };
  const first = new UpgradePolicy(resolveOptions(options), { replayCache });
  await first.init();
  const once = await ticket({ route: "/", jti: crypto.randomUUID() });
  const decision = assertAccepted(
    await first.decide(request(`/?ticket=${once}`)),
  );
  const use = decision.ticketUse!;
  assertStrictEquals(
    replayCache.use(use.id, use.expiresAtMs, Date.now()),
    "fresh",
  );
  // A reload builds a new policy with the process's cache: still spent.
  const second = new UpgradePolicy(resolveOptions(options), { replayCache });
  await second.init();
  assertRefused(
    await second.decide(request(`/?ticket=${once}`)),
    401,
    "Unauthorized",
  );
});

Deno.test("UpgradePolicy.decide resolves token routes and refuses unknown or missing tokens with 404", async () => {
  await withTokenFile(
    "vm1: 127.0.0.1:5901\nsock: unix:/run/vnc.sock\n",
    async (tokens) => {
      const policy = await policyFor({ routes: [{ path: "/t", tokens }] });
      const known = assertAccepted(
        await policy.decide(request("/t?token=vm1")),
      );
      assertEquals(known.target, {
        transport: "tcp",
        hostname: "127.0.0.1",
        port: 5901,
      });
      assertStrictEquals(known.targetText, "127.0.0.1:5901");
      const unix = assertAccepted(
        await policy.decide(request("/t?token=sock")),
      );
      assertStrictEquals(unix.targetText, "unix:/run/vnc.sock");
      assertStrictEquals(
        assertRefused(
          await policy.decide(request("/t?token=nope")),
          404,
          "Unknown token",
        ),
        'unknown token "nope"',
      );
      assertRefused(await policy.decide(request("/t")), 404, "Unknown token");
    },
  );
});

Deno.test("UpgradePolicy.decide checks the ticket before looking up the token", async () => {
  await withTokenFile("vm1: 127.0.0.1:5901\n", async (tokens) => {
    const policy = await policyFor({
      ticketSecret: SECRET,
      routes: [{ path: "/t", tokens, requireTicket: true }],
    });
    // Without a ticket, a known and an unknown token look the same.
    assertRefused(
      await policy.decide(request("/t?token=vm1")),
      401,
      "Unauthorized",
    );
    assertRefused(
      await policy.decide(request("/t?token=nope")),
      401,
      "Unauthorized",
    );
  });
});

Deno.test("UpgradePolicy.decide refuses malformed dynamic targets with 400", async (t) => {
  const policy = await policyFor({
    routes: [{ path: "/d", dynamic: { cidrs: ["127.0.0.0/8"] } }],
  });
  for (
    const query of [
      "",
      "?host=127.0.0.1",
      "?port=80",
      "?host=127.0.0.1&port=0",
      "?host=127.0.0.1&port=65536",
      "?host=127.0.0.1&port=0x50",
      "?host=127.0.0.1&port=8e1",
      "?host=127.0.0.1&port=-1",
    ]
  ) {
    await t.step(query || "(none)", async () => {
      assertRefused(
        await policy.decide(request(`/d${query}`)),
        400,
        "Expected host and port parameters",
      );
    });
  }
});

Deno.test("UpgradePolicy.decide refuses dynamic targets outside the allow-list with 403", async (t) => {
  const policy = await policyFor({
    routes: [{
      path: "/d",
      dynamic: {
        hosts: ["localhost"],
        cidrs: ["192.0.2.0/24"],
        ports: ["5900-5999"],
      },
    }],
  });
  const cases: [string, string][] = [
    ["an unlisted address", "?host=198.51.100.1&port=5900"],
    ["a listed address on an unlisted port", "?host=192.0.2.1&port=22"],
    ["an unlisted name", "?host=db.internal&port=5900"],
    ["loopback, not covered by a CIDR", "?host=127.0.0.1&port=5900"],
  ];
  for (const [name, query] of cases) {
    await t.step(name, async () => {
      const detail = assertRefused(
        await policy.decide(request(`/d${query}`)),
        403,
        "Target not allowed",
      );
      assert(detail.startsWith("dynamic target "), detail);
    });
  }
  await t.step("a listed name that resolves only to loopback", async () => {
    const detail = assertRefused(
      await within(
        policy.decide(request("/d?host=localhost&port=5900")),
        10000,
        "lookup",
      ),
      403,
      "Target not allowed",
    );
    assert(detail.includes("resolves only to denied addresses"), detail);
  });
});

Deno.test("UpgradePolicy.decide accepts allowed dynamic targets and dials the checked address", async (t) => {
  const policy = await policyFor({
    routes: [{
      path: "/d",
      dynamic: { hosts: ["localhost"], cidrs: ["127.0.0.0/8"] },
    }],
  });
  await t.step("an address", async () => {
    const decision = assertAccepted(
      await policy.decide(request("/d?host=127.0.0.2&port=80")),
    );
    assertEquals(decision.target, {
      transport: "tcp",
      hostname: "127.0.0.2",
      port: 80,
    });
    assertStrictEquals(decision.targetText, "127.0.0.2:80");
  });
  await t.step(
    "an IPv4-mapped IPv6 address becomes the dotted quad",
    async () => {
      const decision = assertAccepted(
        await policy.decide(request("/d?host=%3A%3Affff%3A127.0.0.3&port=80")),
      );
      assertEquals(decision.target, {
        transport: "tcp",
        hostname: "127.0.0.3",
        port: 80,
      });
    },
  );
  await t.step("a name, resolved once", async () => {
    const decision = assertAccepted(
      await within(
        policy.decide(request("/d?host=localhost&port=81")),
        10000,
        "lookup",
      ),
    );
    // The resolved address is dialled; the asked-for name stays for TLS.
    assertEquals(decision.target, {
      transport: "tcp",
      hostname: "127.0.0.1",
      port: 81,
      serverName: "localhost",
    });
    assertStrictEquals(decision.targetText, "localhost:81 (127.0.0.1:81)");
  });
});

Deno.test("UpgradePolicy.decide refuses a listed name that does not resolve with 502", async () => {
  const policy = await policyFor({
    routes: [{ path: "/d", dynamic: { hosts: ["*.invalid"] } }],
  });
  const detail = assertRefused(
    await within(
      policy.decide(request("/d?host=wsgate-test.invalid&port=80")),
      10000,
      "lookup",
    ),
    502,
    "Target name does not resolve",
  );
  assert(detail.startsWith('cannot resolve "wsgate-test.invalid": '), detail);
});

// Regression (issue 17 item 10): lookups that outlived their 504 were neither
// counted nor bounded.
Deno.test("UpgradePolicy.decide refuses with 503 while the process's target lookups are at their bound, and resolves again once they finish", async () => {
  const policy = await policyFor({
    routes: [{ path: "/d", dynamic: { hosts: ["*.invalid"] } }],
  });
  const answers: (() => void)[] = [];
  const hung: Promise<void>[] = [];
  for (let index = targetLookups.inFlight; index < targetLookups.max; index++) {
    const lookup = targetLookups.track(() =>
      new Promise<void>((resolve) => answers.push(resolve))
    );
    assert(lookup !== undefined);
    hung.push(lookup);
  }
  try {
    const detail = assertRefused(
      await policy.decide(request("/d?host=wsgate-test.invalid&port=80")),
      503,
      "Too many target lookups in progress",
    );
    assert(detail.includes(`limit ${targetLookups.max}`), detail);
  } finally {
    for (const answer of answers) answer();
    await Promise.all(hung);
  }
  assertRefused(
    await within(
      policy.decide(request("/d?host=wsgate-test.invalid&port=80")),
      10000,
      "lookup",
    ),
    502,
    "Target name does not resolve",
  );
});

Deno.test("awaitTargetLookup refuses a lookup still unanswered at the deadline with 504", async () => {
  // Regression: the dynamic target lookup had no gateway-side deadline,
  // only the resolver's own timeouts. A real resolver cannot be made slow
  // offline, so a lookup that never answers stands in for one.
  const result = await within(
    awaitTargetLookup("slow.example", new Promise(() => {}), 20),
    5000,
    "the deadline",
  );
  assertEquals(result, {
    refusal: { status: 504, body: "Target name lookup timed out" },
    detail: 'cannot resolve "slow.example": no answer within 20 ms',
  });
});

Deno.test("awaitTargetLookup ignores a lookup that fails after the deadline", async () => {
  const lookingUp = Promise.withResolvers<{ address: string }[]>();
  const result = await awaitTargetLookup("late.example", lookingUp.promise, 1);
  assert("refusal" in result);
  assertStrictEquals(result.refusal.status, 504);
  // Handled: an unhandled rejection here would fail the test run.
  lookingUp.reject(new Error("getaddrinfo EAI_AGAIN late.example"));
  await lookingUp.promise.catch(() => {});
});

Deno.test("awaitTargetLookup refuses a failed lookup with 502 and returns a timely answer", async (t) => {
  await t.step("failed", async () => {
    const result = await awaitTargetLookup(
      "gone.example",
      Promise.reject(new Error("getaddrinfo ENOTFOUND gone.example")),
      60_000,
    );
    assertEquals(result, {
      refusal: { status: 502, body: "Target name does not resolve" },
      detail:
        'cannot resolve "gone.example": getaddrinfo ENOTFOUND gone.example',
    });
  });
  await t.step("answered", async () => {
    const addresses = [{ address: "192.0.2.1" }];
    assertEquals(
      await awaitTargetLookup("ok.example", Promise.resolve(addresses), 60_000),
      { addresses },
    );
  });
});

Deno.test("UpgradePolicy.init rejects with ConfigError naming the route of a missing token file", async () => {
  const policy = new UpgradePolicy(resolveOptions({
    routes: [{ path: "/t", tokens: "/nonexistent/wsgate/tokens.cfg" }],
  }));
  await assertRejects(policy.init(), (error: unknown) => {
    assert(error instanceof ConfigError, String(error));
    assertStrictEquals(error.problems.length, 1);
    assert(
      error.problems[0]!.startsWith("route /t: tokens: "),
      error.problems[0],
    );
    return true;
  });
});

Deno.test("UpgradePolicy.init reports bad token file lines as problems", async () => {
  await withTokenFile("vm1 127.0.0.1:5901\n", async (tokens) => {
    const policy = new UpgradePolicy(
      resolveOptions({ routes: [{ path: "/t", tokens }] }),
    );
    await assertRejects(policy.init(), (error: unknown) => {
      assert(error instanceof ConfigError, String(error));
      assert(error.problems[0]!.startsWith("route /t: "), error.problems[0]);
      return true;
    });
  });
});

Deno.test("UpgradePolicy.decide accepts port 65535 on a dynamic route", async () => {
  // The top valid port: an off-by-one (>= 65535) refused it with 400.
  const policy = await policyFor({
    routes: [{ path: "/d", dynamic: { cidrs: ["127.0.0.0/8"] } }],
  });
  const decision = assertAccepted(
    await policy.decide(request("/d?host=127.0.0.1&port=65535")),
  );
  assertEquals(decision.target, {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 65535,
  });
});

Deno.test("UpgradePolicy.decide accepts a ticket whose target claim is a dynamic name target as the client wrote it", async () => {
  // A name target's claim is "localhost:PORT", not the display text
  // "localhost:PORT (127.0.0.1:PORT)": comparing with the wrong field
  // refused every valid ticket for a name (an IP literal hides the bug, as
  // both spellings agree there).
  const policy = await policyFor({
    ticketSecret: SECRET,
    routes: [{
      path: "/d",
      requireTicket: true,
      dynamic: { hosts: ["localhost"], cidrs: ["127.0.0.0/8"] },
    }],
  });
  const good = await ticket({ route: "/d", target: "localhost:8123" });
  const decision = assertAccepted(
    await within(
      policy.decide(request(`/d?host=localhost&port=8123&ticket=${good}`)),
      10000,
      "lookup",
    ),
  );
  assertEquals(decision.target, {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 8123,
    serverName: "localhost",
  });
  const other = await ticket({ route: "/d", target: "localhost:8124" });
  assertRefused(
    await within(
      policy.decide(request(`/d?host=localhost&port=8123&ticket=${other}`)),
      10000,
      "lookup",
    ),
    401,
    "Unauthorized",
  );
});
