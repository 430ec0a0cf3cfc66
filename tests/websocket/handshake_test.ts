import assert from "node:assert/strict";
import {
  checkUpgradeHeaders,
  computeAcceptKey,
  type HandshakeRefusal,
  isUpgradeRequest,
} from "../../src/websocket/handshake.ts";
import { splitSubprotocols } from "../../src/websocket/subprotocol.ts";

const RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ==";

function upgradeHeaders(
  overrides: Record<string, string | undefined> = {},
): Map<string, string> {
  const base: Record<string, string | undefined> = {
    host: "example.com",
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": RFC_KEY,
    "sec-websocket-version": "13",
    ...overrides,
  };
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(base)) {
    if (value !== undefined) headers.set(name, value);
  }
  return headers;
}

/** `checkUpgradeHeaders` for a request with these headers. */
function check(
  headers: Map<string, string>,
  method = "GET",
  version = "HTTP/1.1",
): { key: string } | HandshakeRefusal {
  return checkUpgradeHeaders({ method, version, headers });
}

Deno.test("computeAcceptKey gives the RFC 6455 sample accept value", async () => {
  assert.equal(
    await computeAcceptKey(RFC_KEY),
    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
  );
});

Deno.test("computeAcceptKey agrees with WebCrypto SHA-1 and base64 for many keys, one after another", async () => {
  // The accept key is computed over a reused input buffer: a key must not
  // leave anything behind for the next one.
  const keys = ["dGhlIHNhbXBsZSBub25jZQ==", "", "short", "x".repeat(40)];
  for (let i = 0; i < 64; i++) {
    const raw = new Uint8Array(16).map((_, j) => (i * 37 + j * 11) & 255);
    keys.push(btoa(String.fromCharCode(...raw)));
  }
  for (const key of keys) {
    const digest = await crypto.subtle.digest(
      "SHA-1",
      new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
    );
    assert.equal(
      computeAcceptKey(key),
      btoa(String.fromCharCode(...new Uint8Array(digest))),
      key,
    );
  }
});

Deno.test("list headers split on commas trim only SP and HTAB", () => {
  assert.equal(
    isUpgradeRequest(new Map([["upgrade", "h2c,\u00a0websocket"]])),
    false,
  );
  assert.equal(
    isUpgradeRequest(new Map([["upgrade", "h2c,\twebsocket "]])),
    true,
  );
  assert.deepEqual(splitSubprotocols("\u00a0chat"), ["\u00a0chat"]);
  assert.deepEqual(splitSubprotocols(" \tchat"), ["chat"]);
});

Deno.test("isUpgradeRequest recognises websocket anywhere in the Upgrade list, in any case", async (t) => {
  // Regression: only a header of exactly "websocket" counted, so
  // "Upgrade: foo, websocket" (a token list, RFC 9110 section 7.8) got 426.
  const cases: [string | undefined, boolean][] = [
    ["websocket", true],
    ["WebSocket", true],
    ["WEBSOCKET", true],
    ["foo, websocket", true],
    ["h2c,WebSocket", true],
    ["websocket, h2c", true],
    [" \twebsocket\t ", true],
    [", websocket,", true],
    ["h2c", false],
    ["websocket/13", false],
    ["websockets", false],
    ["web socket", false],
    ["h2c, websocket/13", false],
    ["", false],
    [undefined, false],
  ];
  for (const [value, expected] of cases) {
    await t.step(`${JSON.stringify(value)} -> ${expected}`, () => {
      const headers = new Map<string, string>();
      if (value !== undefined) headers.set("upgrade", value);
      assert.equal(isUpgradeRequest(headers), expected);
    });
  }
});

Deno.test("checkUpgradeHeaders returns the key for a valid request", () => {
  assert.deepEqual(check(upgradeHeaders()), { key: RFC_KEY });
});

Deno.test("checkUpgradeHeaders finds upgrade anywhere in the Connection list", async (t) => {
  for (
    const connection of [
      "keep-alive, UPGRADE",
      "Upgrade,keep-alive",
      " keep-alive ,\tupgrade\t",
    ]
  ) {
    await t.step(JSON.stringify(connection), () => {
      assert.deepEqual(check(upgradeHeaders({ connection })), {
        key: RFC_KEY,
      });
    });
  }
});

Deno.test("checkUpgradeHeaders refuses an upgrade below HTTP/1.1 with 400", () => {
  // Regression: an HTTP/1.0 upgrade was accepted, though RFC 6455 section
  // 4.2.1 requires HTTP/1.1 or higher for the opening handshake.
  for (const version of ["HTTP/1.0", "HTTP/0.9"]) {
    assert.deepEqual(check(upgradeHeaders(), "GET", version), {
      status: 400,
      body: "WebSocket upgrade requires HTTP/1.1",
    });
  }
  // Checked first: the version makes the whole handshake invalid.
  const refusal = check(
    upgradeHeaders({ connection: undefined }),
    "POST",
    "HTTP/1.0",
  );
  assert.ok(!("key" in refusal));
  assert.equal(refusal.status, 400);
  assert.equal(refusal.body, "WebSocket upgrade requires HTTP/1.1");
});

Deno.test("checkUpgradeHeaders accepts HTTP/1.1 and later versions", () => {
  for (const version of ["HTTP/1.1", "HTTP/1.2", "HTTP/2.0"]) {
    assert.deepEqual(check(upgradeHeaders(), "GET", version), { key: RFC_KEY });
  }
});

Deno.test("checkUpgradeHeaders refuses a method other than GET with 405", () => {
  const refusal = check(upgradeHeaders(), "POST");
  assert.ok(!("key" in refusal));
  assert.equal(refusal.status, 405);
  assert.equal(refusal.headers?.allow, "GET");
});

Deno.test("checkUpgradeHeaders refuses a bad Sec-WebSocket-Version with 426", async (t) => {
  for (const version of ["8", "12", "14", "", undefined]) {
    await t.step(`version ${JSON.stringify(version)}`, () => {
      const refusal = check(
        upgradeHeaders({ "sec-websocket-version": version }),
      );
      assert.ok(!("key" in refusal));
      assert.equal(refusal.status, 426);
      assert.equal(refusal.headers?.["sec-websocket-version"], "13");
    });
  }
});

Deno.test("checkUpgradeHeaders refuses missing or invalid headers with 400", async (t) => {
  const cases: [string, Record<string, string | undefined>][] = [
    ["no Connection header", { connection: undefined }],
    ["Connection without upgrade", { connection: "keep-alive" }],
    ["Connection: upgraded", { connection: "upgraded" }],
    ["no Host header", { host: undefined }],
    ["no Sec-WebSocket-Key", { "sec-websocket-key": undefined }],
    ["an empty key", { "sec-websocket-key": "" }],
    ["a key of 15 bytes", { "sec-websocket-key": "dGhlIHNhbXBsZSBub25j" }],
    ["a key of 17 bytes", {
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ0A",
    }],
    ["a key with a non-base64 character", {
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZ!==",
    }],
  ];
  for (const [name, overrides] of cases) {
    await t.step(name, () => {
      const refusal = check(upgradeHeaders(overrides));
      assert.ok(!("key" in refusal));
      assert.equal(refusal.status, 400);
    });
  }
});

Deno.test("checkUpgradeHeaders refuses an upgrade with a body with 400", async (t) => {
  const cases: [string, Record<string, string | undefined>][] = [
    ["Content-Length: 6", { "content-length": "6" }],
    ["Content-Length: 1", { "content-length": "1" }],
    ["Transfer-Encoding: chunked", { "transfer-encoding": "chunked" }],
    ["Transfer-Encoding: identity", { "transfer-encoding": "identity" }],
  ];
  for (const [name, overrides] of cases) {
    await t.step(name, () => {
      const refusal = check(upgradeHeaders(overrides));
      assert.ok(!("key" in refusal));
      assert.equal(refusal.status, 400);
      assert.equal(refusal.body, "WebSocket upgrade must not have a body");
    });
  }
});

Deno.test("checkUpgradeHeaders accepts Content-Length: 0", () => {
  assert.deepEqual(check(upgradeHeaders({ "content-length": "0" })), {
    key: RFC_KEY,
  });
});
