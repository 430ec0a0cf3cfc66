import assert from "node:assert/strict";
import {
  checkUpgradeHeaders,
  computeAcceptKey,
  encodeHttpResponse,
  findHeadEnd,
  type HttpRefusal,
  isUpgradeRequest,
  type ParseHeadResult,
  parseRequestHead,
  type RequestHead,
  STATUS_TEXT,
} from "../../src/websocket/handshake.ts";
import { splitSubprotocols } from "../../src/websocket/subprotocol.ts";

const ENCODER = new TextEncoder();
const RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ==";

function parse(text: string, maxHeadBytes = 8192): ParseHeadResult {
  return parseRequestHead(ENCODER.encode(text), maxHeadBytes);
}

function parseHead(text: string, maxHeadBytes = 8192): RequestHead {
  const result = parse(text, maxHeadBytes);
  assert.equal(result.kind, "head", JSON.stringify(result));
  if (result.kind !== "head") throw new Error("unreachable");
  return result.head;
}

function refusalStatus(result: ParseHeadResult): number | undefined {
  return result.kind === "refused" ? result.refusal.status : undefined;
}

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
): { key: string } | HttpRefusal {
  return checkUpgradeHeaders({ method, version, headers });
}

Deno.test("computeAcceptKey gives the RFC 6455 sample accept value", async () => {
  assert.equal(
    await computeAcceptKey(RFC_KEY),
    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
  );
});

Deno.test("parseRequestHead parses a complete WebSocket request head", () => {
  const text = "GET /chat?token=a%20b&x=1 HTTP/1.1\r\n" +
    "Host: server.example.com\r\n" +
    "Upgrade: websocket\r\n" +
    "Connection: Upgrade\r\n" +
    `Sec-WebSocket-Key: ${RFC_KEY}\r\n` +
    "Sec-WebSocket-Version:13\r\n" +
    "X-Repeated: a\r\n" +
    "x-repeated: b\r\n" +
    "\r\n";
  const head = parseHead(text);
  assert.equal(head.method, "GET");
  assert.equal(head.version, "HTTP/1.1");
  assert.equal(head.target, "/chat?token=a%20b&x=1");
  assert.equal(head.path, "/chat");
  assert.equal(head.query.get("token"), "a b");
  assert.equal(head.query.get("x"), "1");
  assert.equal(head.headers.get("host"), "server.example.com");
  assert.equal(head.headers.get("sec-websocket-key"), RFC_KEY);
  assert.equal(head.headers.get("sec-websocket-version"), "13");
  assert.equal(head.headers.get("x-repeated"), "a, b");
  assert.equal(head.headLength, ENCODER.encode(text).length);
});

Deno.test("parseRequestHead reports the head length when bytes follow the head", () => {
  const headText = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  const bytes = new Uint8Array([...ENCODER.encode(headText), 0x81, 0x85, 1]);
  const result = parseRequestHead(bytes, 8192);
  assert.equal(result.kind, "head");
  if (result.kind === "head") {
    assert.equal(result.head.headLength, headText.length);
  }
});

Deno.test("parseRequestHead percent-decodes the path", () => {
  assert.equal(parseHead("GET /a%20b/%C3%A9 HTTP/1.1\r\n\r\n").path, "/a b/é");
});

Deno.test("parseRequestHead accepts tabs and obs-text in header values", () => {
  const bytes = ENCODER.encode("GET / HTTP/1.1\r\nX: a\tb ?\r\n\r\n");
  bytes[bytes.indexOf(0x3f)] = 0xe9; // obs-text: one byte, read as Latin-1
  const result = parseRequestHead(bytes, 8192);
  assert.equal(
    result.kind === "head" && result.head.headers.get("x"),
    "a\tb \u00e9",
  );
});

Deno.test("parseRequestHead trims only SP and HTAB from header values, not byte 0xA0", () => {
  const bytes = ENCODER.encode(
    "GET / HTTP/1.1\r\nUpgrade: ?websocket?\r\nX: \t a \t\r\n\r\n",
  );
  for (let at = bytes.indexOf(0x3f); at >= 0; at = bytes.indexOf(0x3f)) {
    bytes[at] = 0xa0; // NBSP in Latin-1: not optional whitespace
  }
  const result = parseRequestHead(bytes, 8192);
  if (result.kind !== "head") throw new Error(JSON.stringify(result));
  assert.equal(result.head.headers.get("upgrade"), "\u00a0websocket\u00a0");
  assert.equal(result.head.headers.get("x"), "a");
  assert.equal(isUpgradeRequest(result.head.headers), false);
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

Deno.test("parseRequestHead accepts HTTP/1.0 and a head without headers", () => {
  const head = parseHead("GET / HTTP/1.0\r\n\r\n");
  assert.equal(head.headers.size, 0);
  assert.equal(head.version, "HTTP/1.0");
});

Deno.test("parseRequestHead ignores empty lines before the request line", async (t) => {
  for (const prefix of ["\r\n", "\r\n\r\n"]) {
    await t.step(JSON.stringify(prefix), () => {
      const text = `${prefix}GET /a HTTP/1.1\r\nHost: h\r\n\r\n`;
      const head = parseHead(`${text}AB`);
      assert.equal(head.path, "/a");
      assert.equal(head.headers.get("host"), "h");
      assert.equal(head.headLength, text.length);
    });
  }
  await t.step("incomplete while only empty lines arrived", () => {
    assert.equal(parse("\r\n\r\n").kind, "incomplete");
    assert.equal(parse("\r\n\r\nGET / HTTP/1.1\r\n").kind, "incomplete");
  });
  await t.step("a head split after the empty lines", () => {
    const bytes = ENCODER.encode("\r\n\r\nGET / HTTP/1.1\r\n\r\n");
    assert.equal(
      parseRequestHead(bytes.subarray(0, 5), 8192).kind,
      "incomplete",
    );
    assert.equal(parseRequestHead(bytes, 8192, 5).kind, "head");
  });
});

Deno.test("parseRequestHead returns incomplete until the empty line arrives", async (t) => {
  const text = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  for (let length = 0; length < text.length; length++) {
    await t.step(`${length} bytes`, () => {
      assert.deepEqual(parse(text.slice(0, length)), { kind: "incomplete" });
    });
  }
  await t.step("all bytes", () => {
    assert.equal(parse(text).kind, "head");
  });
});

Deno.test("parseRequestHead refuses a head over maxHeadBytes with 431", async (t) => {
  const text = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: " + "p".repeat(100) +
    "\r\n\r\n";
  const length = ENCODER.encode(text).length;
  await t.step("a head of exactly maxHeadBytes is accepted", () => {
    assert.equal(parse(text, length).kind, "head");
  });
  await t.step("a complete head one byte over the limit", () => {
    assert.equal(refusalStatus(parse(text, length - 1)), 431);
  });
  await t.step("an unfinished head that already fills the limit", () => {
    assert.equal(refusalStatus(parse(text.slice(0, 64), 64)), 431);
    assert.equal(refusalStatus(parse(text.slice(0, 80), 64)), 431);
  });
  await t.step("an unfinished head below the limit is incomplete", () => {
    assert.equal(parse(text.slice(0, 63), 64).kind, "incomplete");
  });
});

Deno.test("parseRequestHead refuses malformed heads with 400", async (t) => {
  const cases: [string, string][] = [
    ["a request line with two parts", "GET /\r\n\r\n"],
    ["a request line with four parts", "GET / x HTTP/1.1\r\n\r\n"],
    ["a double space in the request line", "GET  / HTTP/1.1\r\n\r\n"],
    ["a lower-case version", "GET / http/1.1\r\n\r\n"],
    ["HTTP/2.0", "GET / HTTP/2.0\r\n\r\n"],
    // Regression: anything starting "HTTP/1." got 505 instead of 400.
    ["a version with a letter for the minor", "GET / HTTP/1.x\r\n\r\n"],
    ["a version without a minor", "GET / HTTP/1.\r\n\r\n"],
    ["a version with a two-digit minor", "GET / HTTP/1.10\r\n\r\n"],
    ["a version with three parts", "GET / HTTP/1.1.1\r\n\r\n"],
    ["a method with a separator", "G(T / HTTP/1.1\r\n\r\n"],
    ["an empty method", " / HTTP/1.1\r\n\r\n"],
    ["an absolute-form target", "GET http://h/ HTTP/1.1\r\n\r\n"],
    ["an asterisk target", "GET * HTTP/1.1\r\n\r\n"],
    ["a header line without a colon", "GET / HTTP/1.1\r\nHost\r\n\r\n"],
    ["an empty header name", "GET / HTTP/1.1\r\n: value\r\n\r\n"],
    ["a space before the colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n"],
    ["a folded header line", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"],
    ["a bad percent escape in the path", "GET /%zz HTTP/1.1\r\n\r\n"],
    ["a percent escape of invalid UTF-8", "GET /%ff HTTP/1.1\r\n\r\n"],
    [
      "a bare LF inside a header value",
      "GET / HTTP/1.1\r\nSec-WebSocket-Protocol: a\nX-Injected: 1\r\n\r\n",
    ],
    ["a bare CR inside a header value", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"],
    ["a NUL in a header value", "GET / HTTP/1.1\r\nX: a\u0000b\r\n\r\n"],
    ["a DEL in the path", "GET /a\u007f HTTP/1.1\r\n\r\n"],
  ];
  for (const [name, text] of cases) {
    await t.step(name, () => {
      assert.equal(refusalStatus(parse(text)), 400);
    });
  }
});

Deno.test("parseRequestHead refuses ambiguous body framing with 400", async (t) => {
  const cases: [string, string][] = [
    ["two Host lines", "Host: a\r\nHost: b"],
    ["two Host lines with the same value", "Host: a\r\nhost: a"],
    ["two different Content-Lengths", "Content-Length: 0\r\nContent-Length: 6"],
    ["a Content-Length list of two values", "Content-Length: 6, 0"],
    ["a Content-Length that is not digits", "Content-Length: -1"],
    [
      "Content-Length with Transfer-Encoding",
      "Content-Length: 0\r\nTransfer-Encoding: chunked",
    ],
  ];
  for (const [name, lines] of cases) {
    await t.step(name, () => {
      const result = parse(`GET / HTTP/1.1\r\n${lines}\r\n\r\n`);
      assert.equal(refusalStatus(result), 400, JSON.stringify(result));
    });
  }
});

Deno.test("parseRequestHead accepts one Host and repeated equal Content-Lengths", () => {
  const head = parseHead(
    "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
  );
  assert.equal(head.headers.get("host"), "a");
});

Deno.test("parseRequestHead refuses HTTP/1.2 and later 1.x versions with 505", () => {
  assert.equal(refusalStatus(parse("GET / HTTP/1.2\r\n\r\n")), 505);
});

Deno.test("findHeadEnd finds a terminator split across two reads at every position", async (t) => {
  const text = "GET / HTTP/1.1\r\nHost: h\r\n\r\nAB";
  const bytes = ENCODER.encode(text);
  const end = text.indexOf("\r\n\r\n");
  // The first read ends before, or inside, the terminator; the second
  // search starts after the bytes of the first.
  for (let cut = end; cut < end + 4; cut++) {
    await t.step(`first read of ${cut} bytes`, () => {
      assert.equal(findHeadEnd(bytes.subarray(0, cut), 0), -1);
      assert.equal(findHeadEnd(bytes, cut), end);
    });
  }
  await t.step("one byte per read", () => {
    let scanned = 0;
    let found = -1;
    for (let length = 1; length <= bytes.length && found < 0; length++) {
      found = findHeadEnd(bytes.subarray(0, length), scanned);
      scanned = length;
    }
    assert.equal(found, end);
    assert.equal(scanned, end + 4);
  });
});

Deno.test("findHeadEnd looks only at the bytes after scannedBytes minus 3", () => {
  // Regression: the head reader parsed the whole buffer after every read,
  // rescanning bytes it had searched already (quadratic for small reads).
  // A terminator before the scanned part proves the search skipped it.
  const bytes = ENCODER.encode("\r\n\r\nxxxxxx\r\n\r\n");
  assert.equal(findHeadEnd(bytes, 0), 0);
  assert.equal(findHeadEnd(bytes, 4), 10);
  assert.equal(findHeadEnd(bytes, 13), 10);
  assert.equal(findHeadEnd(bytes, 14), -1);
  assert.equal(findHeadEnd(bytes, bytes.length), -1);
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

Deno.test("encodeHttpResponse writes status line, headers, length and body", async (t) => {
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  await t.step("with a text body", () => {
    assert.equal(
      decode(
        encodeHttpResponse(426, { "sec-websocket-version": "13" }, "no\n"),
      ),
      "HTTP/1.1 426 Upgrade Required\r\n" +
        "sec-websocket-version: 13\r\n" +
        "content-length: 3\r\n" +
        "connection: close\r\n\r\n" +
        "no\n",
    );
  });
  await t.step("with a byte body", () => {
    const bytes = encodeHttpResponse(200, {}, new Uint8Array([0, 255]));
    assert.deepEqual([...bytes.subarray(-2)], [0, 255]);
    assert.ok(decode(bytes).includes("content-length: 2\r\n"));
  });
  await t.step("HEAD keeps the length and omits the body", () => {
    assert.equal(
      decode(encodeHttpResponse(200, {}, "hello", true)),
      "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\n",
    );
  });
  await t.step("an unknown status gets the phrase Unknown", () => {
    assert.ok(
      decode(encodeHttpResponse(599, {})).startsWith(
        "HTTP/1.1 599 Unknown\r\n",
      ),
    );
  });
  await t.step("every refusal status has a reason phrase", () => {
    for (const status of [400, 404, 405, 426, 431, 502, 503, 504, 505]) {
      assert.equal(typeof STATUS_TEXT[status], "string");
    }
  });
});
