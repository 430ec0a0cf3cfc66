import assert from "node:assert/strict";
import {
  findHeadEnd,
  type ParseHeadResult,
  parseRequestHead,
  type RequestHead,
} from "../../src/http/request_head.ts";
import { isUpgradeRequest } from "../../src/websocket/handshake.ts";

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
