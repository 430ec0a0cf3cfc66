import assert from "node:assert/strict";
import { encodeBase64Url } from "../../src/security/base64url.ts";
import { ReplayCache } from "../../src/security/replay_cache.ts";
import {
  importTicketKey,
  signTicket,
  TicketError,
  type TicketErrorReason,
  verifyTicket,
} from "../../src/security/ticket.ts";

const SECRET = "test-secret-0123456789abcdef-0123456789";
const NOW_MS = 1_700_000_000_000;
const NOW_SEC = NOW_MS / 1000;
const encoder = new TextEncoder();

function b64(value: unknown): string {
  return encodeBase64Url(encoder.encode(JSON.stringify(value)));
}

/** Signs any header and payload, so tests can build tickets signTicket refuses to. */
async function signRaw(
  header: unknown,
  payload: unknown,
  key: CryptoKey,
): Promise<string> {
  const input = `${b64(header)}.${b64(payload)}`;
  const signature = await crypto.subtle.sign(
    "HMAC",
    key,
    encoder.encode(input),
  );
  return `${input}.${encodeBase64Url(new Uint8Array(signature))}`;
}

async function assertRefused(
  promise: Promise<unknown>,
  reason: TicketErrorReason,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(
      error instanceof TicketError,
      `expected TicketError, got ${error}`,
    );
    assert.equal(error.reason, reason);
    assert.equal(error.name, "TicketError");
    return true;
  });
}

Deno.test("verifyTicket returns the claims of a valid ticket", async () => {
  const key = await importTicketKey(SECRET);
  const claims = {
    route: "/vnc",
    target: "10.0.0.5:5901",
    exp: NOW_SEC + 60,
    nbf: NOW_SEC - 1,
    jti: "abc",
    sub: "alice",
  };
  const ticket = await signTicket(claims, key);
  assert.equal(ticket.split(".").length, 3);
  assert.doesNotMatch(ticket, /[=+/]/);
  const verified = await verifyTicket(ticket, key, {
    route: "/vnc",
    target: "10.0.0.5:5901",
    nowMs: NOW_MS,
  });
  assert.deepEqual(verified, claims);
});

Deno.test("verifyTicket refuses a ticket signed with another key", async () => {
  const key = await importTicketKey(SECRET);
  const otherKey = await importTicketKey(SECRET + "x");
  const ticket = await signTicket(
    { route: "/vnc", exp: NOW_SEC + 60 },
    otherKey,
  );
  await assertRefused(
    verifyTicket(ticket, key, { route: "/vnc", nowMs: NOW_MS }),
    "bad signature",
  );
});

Deno.test("verifyTicket refuses a ticket whose payload was changed after signing", async () => {
  const key = await importTicketKey(SECRET);
  const ticket = await signTicket({ route: "/guest", exp: NOW_SEC + 60 }, key);
  const [header, , signature] = ticket.split(".");
  const forged = `${header}.${
    b64({ route: "/admin", exp: NOW_SEC + 60 })
  }.${signature}`;
  await assertRefused(
    verifyTicket(forged, key, { route: "/admin", nowMs: NOW_MS }),
    "bad signature",
  );
  const flipped = `${header}.${ticket.split(".")[1]}.${
    signature![0] === "A" ? "B" : "A"
  }${signature!.slice(1)}`;
  await assertRefused(
    verifyTicket(flipped, key, { route: "/guest", nowMs: NOW_MS }),
    "bad signature",
  );
});

Deno.test("verifyTicket refuses alg none, other algorithms and crit headers", async (t) => {
  const key = await importTicketKey(SECRET);
  const payload = { route: "/vnc", exp: NOW_SEC + 60 };
  await t.step("alg none without signature", async () => {
    const token = `${b64({ alg: "none", typ: "JWT" })}.${b64(payload)}.`;
    await assertRefused(
      verifyTicket(token, key, { route: "/vnc", nowMs: NOW_MS }),
      "unsupported algorithm",
    );
  });
  for (
    const header of [{ alg: "HS512" }, { alg: "hs256" }, { typ: "JWT" }, {
      alg: "HS256",
      crit: ["exp"],
    }]
  ) {
    await t.step(JSON.stringify(header), async () => {
      const token = await signRaw(header, payload, key);
      await assertRefused(
        verifyTicket(token, key, { route: "/vnc", nowMs: NOW_MS }),
        "unsupported algorithm",
      );
    });
  }
});

Deno.test("verifyTicket refuses malformed tickets", async (t) => {
  const key = await importTicketKey(SECRET);
  const valid = await signTicket({ route: "/vnc", exp: NOW_SEC + 60 }, key);
  const [header, payload, signature] = valid.split(".") as [
    string,
    string,
    string,
  ];
  const cases: [string, string][] = [
    ["empty", ""],
    ["two parts", `${header}.${payload}`],
    ["four parts", `${valid}.x`],
    ["padding", `${header}.${payload}.${signature}=`],
    [
      "standard base64 characters",
      `${header}.${payload}.${signature.replace(/.$/, "+")}`,
    ],
    [
      "header not JSON",
      `${encodeBase64Url(encoder.encode("{nope"))}.${payload}.${signature}`,
    ],
    ["header an array", `${b64(["HS256"])}.${payload}.${signature}`],
    [
      "header invalid UTF-8",
      `${
        encodeBase64Url(new Uint8Array([0xff, 0xfe]))
      }.${payload}.${signature}`,
    ],
    ["too long", `${header}.${"A".repeat(9000)}.${signature}`],
  ];
  for (const [name, token] of cases) {
    await t.step(name, async () => {
      await assertRefused(
        verifyTicket(token, key, { route: "/vnc", nowMs: NOW_MS }),
        "malformed",
      );
    });
  }
  const badPayloads: [string, unknown][] = [
    ["payload an array", [1]],
    ["payload null", null],
    ["exp a string", { route: "/vnc", exp: String(NOW_SEC + 60) }],
    ["nbf a string", { route: "/vnc", exp: NOW_SEC + 60, nbf: "0" }],
    ["jti a number", { route: "/vnc", exp: NOW_SEC + 60, jti: 7 }],
  ];
  for (const [name, body] of badPayloads) {
    await t.step(name, async () => {
      const token = await signRaw({ alg: "HS256" }, body, key);
      await assertRefused(
        verifyTicket(token, key, { route: "/vnc", nowMs: NOW_MS }),
        "malformed",
      );
    });
  }
});

Deno.test("verifyTicket refuses a ticket without exp", async () => {
  const key = await importTicketKey(SECRET);
  const token = await signRaw(
    { alg: "HS256", typ: "JWT" },
    { route: "/vnc" },
    key,
  );
  await assertRefused(
    verifyTicket(token, key, { route: "/vnc", nowMs: NOW_MS }),
    "missing exp",
  );
  await assert.rejects(
    signTicket({ route: "/vnc" } as unknown as { exp: number }, key),
    TypeError,
  );
});

Deno.test("verifyTicket refuses an expired ticket once the clock skew has passed", async () => {
  const key = await importTicketKey(SECRET);
  const ticket = await signTicket({ route: "/vnc", exp: NOW_SEC }, key);
  const options = { route: "/vnc", clockSkewSec: 30 };
  await verifyTicket(ticket, key, { ...options, nowMs: NOW_MS + 29_999 });
  await assertRefused(
    verifyTicket(ticket, key, { ...options, nowMs: NOW_MS + 30_000 }),
    "expired",
  );
  await assertRefused(
    verifyTicket(ticket, key, {
      route: "/vnc",
      clockSkewSec: 0,
      nowMs: NOW_MS,
    }),
    "expired",
  );
  // Default skew is 30 s.
  await verifyTicket(ticket, key, { route: "/vnc", nowMs: NOW_MS + 29_000 });
  await assertRefused(
    verifyTicket(ticket, key, { route: "/vnc", nowMs: NOW_MS + 31_000 }),
    "expired",
  );
});

Deno.test("verifyTicket refuses a ticket before nbf minus the clock skew", async () => {
  const key = await importTicketKey(SECRET);
  const ticket = await signTicket({
    route: "/vnc",
    exp: NOW_SEC + 600,
    nbf: NOW_SEC + 100,
  }, key);
  await assertRefused(
    verifyTicket(ticket, key, { route: "/vnc", nowMs: NOW_MS }),
    "not yet valid",
  );
  await assertRefused(
    verifyTicket(ticket, key, { route: "/vnc", nowMs: NOW_MS + 69_000 }),
    "not yet valid",
  );
  await verifyTicket(ticket, key, { route: "/vnc", nowMs: NOW_MS + 70_000 });
});

Deno.test("verifyTicket refuses a ticket for another route or none", async () => {
  const key = await importTicketKey(SECRET);
  const ticket = await signTicket({ route: "/guest", exp: NOW_SEC + 60 }, key);
  await assertRefused(
    verifyTicket(ticket, key, { route: "/admin", nowMs: NOW_MS }),
    "wrong route",
  );
  const noRoute = await signTicket({ exp: NOW_SEC + 60 }, key);
  await assertRefused(
    verifyTicket(noRoute, key, { route: "/admin", nowMs: NOW_MS }),
    "wrong route",
  );
});

Deno.test("verifyTicket checks a target claim only when the ticket has one", async () => {
  const key = await importTicketKey(SECRET);
  const scoped = await signTicket({
    route: "/r",
    target: "10.0.0.5:22",
    exp: NOW_SEC + 60,
  }, key);
  await assertRefused(
    verifyTicket(scoped, key, {
      route: "/r",
      target: "10.0.0.6:22",
      nowMs: NOW_MS,
    }),
    "wrong target",
  );
  await assertRefused(
    verifyTicket(scoped, key, { route: "/r", nowMs: NOW_MS }),
    "wrong target",
  );
  // A ticket minted for a route alone is good for whatever target the
  // route resolves to (regression: such tickets were refused on every
  // fixed-target route).
  const unscoped = await signTicket({ route: "/r", exp: NOW_SEC + 60 }, key);
  const claims = await verifyTicket(unscoped, key, {
    route: "/r",
    target: "10.0.0.5:22",
    nowMs: NOW_MS,
  });
  assert.equal(claims.route, "/r");
});

Deno.test("verifyTicket with a replay cache accepts a jti once", async () => {
  const key = await importTicketKey(SECRET);
  const replayCache = new ReplayCache();
  const ticket = await signTicket({
    route: "/r",
    exp: NOW_SEC + 60,
    jti: "one",
  }, key);
  const options = { route: "/r", nowMs: NOW_MS, replayCache };
  await verifyTicket(ticket, key, options);
  await assertRefused(
    verifyTicket(ticket, key, { ...options, nowMs: NOW_MS + 1000 }),
    "replayed",
  );
  const other = await signTicket(
    { route: "/r", exp: NOW_SEC + 60, jti: "two" },
    key,
  );
  await verifyTicket(other, key, options);
  assert.equal(replayCache.size, 2);
});

Deno.test("verifyTicket does not use up the jti of a refused ticket", async () => {
  const key = await importTicketKey(SECRET);
  const replayCache = new ReplayCache();
  const ticket = await signTicket({
    route: "/r",
    exp: NOW_SEC + 60,
    jti: "one",
  }, key);
  await assertRefused(
    verifyTicket(ticket, key, { route: "/other", nowMs: NOW_MS, replayCache }),
    "wrong route",
  );
  assert.equal(replayCache.size, 0);
  await verifyTicket(ticket, key, { route: "/r", nowMs: NOW_MS, replayCache });
});

Deno.test("verifyTicket keeps a jti until exp plus the clock skew", async () => {
  const key = await importTicketKey(SECRET);
  const replayCache = new ReplayCache({ maxEntries: 1 });
  const ticket = await signTicket({
    route: "/r",
    exp: NOW_SEC + 10,
    jti: "one",
  }, key);
  await verifyTicket(ticket, key, { route: "/r", nowMs: NOW_MS, replayCache });
  // Still verifiable 35 s later thanks to the skew, so still remembered.
  await assertRefused(
    verifyTicket(ticket, key, {
      route: "/r",
      nowMs: NOW_MS + 35_000,
      replayCache,
    }),
    "replayed",
  );
  const next = await signTicket(
    { route: "/r", exp: NOW_SEC + 100, jti: "two" },
    key,
  );
  await assertRefused(
    verifyTicket(next, key, {
      route: "/r",
      nowMs: NOW_MS + 35_000,
      replayCache,
    }),
    "replay cache full",
  );
  await verifyTicket(next, key, {
    route: "/r",
    nowMs: NOW_MS + 40_000,
    replayCache,
  });
});

Deno.test("verifyTicket with requireJti refuses a ticket without jti", async () => {
  const key = await importTicketKey(SECRET);
  const ticket = await signTicket({ route: "/r", exp: NOW_SEC + 60 }, key);
  await assertRefused(
    verifyTicket(ticket, key, {
      route: "/r",
      nowMs: NOW_MS,
      replayCache: new ReplayCache(),
      requireJti: true,
    }),
    "missing jti",
  );
  await verifyTicket(ticket, key, {
    route: "/r",
    nowMs: NOW_MS,
    replayCache: new ReplayCache(),
  });
});

Deno.test("importTicketKey accepts bytes and strings alike and refuses short secrets", async () => {
  const fromText = await importTicketKey(SECRET);
  const fromBytes = await importTicketKey(encoder.encode(SECRET));
  const ticket = await signTicket({ route: "/r", exp: NOW_SEC + 60 }, fromText);
  await verifyTicket(ticket, fromBytes, { route: "/r", nowMs: NOW_MS });
  await assert.rejects(importTicketKey("x".repeat(31)), RangeError);
  await assert.rejects(importTicketKey(new Uint8Array(31)), RangeError);
});

Deno.test("verifyTicket rejects a non-finite clock or a negative skew instead of accepting", async () => {
  const key = await importTicketKey(SECRET);
  const expired = await signTicket({ route: "/r", exp: 1 }, key);
  await assert.rejects(
    verifyTicket(expired, key, { route: "/r", nowMs: NaN }),
    RangeError,
  );
  await assert.rejects(
    verifyTicket(expired, key, { route: "/r", clockSkewSec: -1 }),
    RangeError,
  );
  await assert.rejects(
    verifyTicket(expired, key, { route: "/r", clockSkewSec: Infinity }),
    RangeError,
  );
});
