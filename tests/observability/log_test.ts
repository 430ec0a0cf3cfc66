import assert from "node:assert/strict";
import type { GatewayEvent } from "../../src/observability/events.ts";
import {
  eventLevel,
  formatEvent,
  hexDump,
  LOG_LEVELS,
  type LogLevel,
} from "../../src/observability/log.ts";

const T0 = Date.UTC(2024, 0, 2, 3, 4, 5, 6);
const STAMP = "2024-01-02T03:04:05.006Z";

const EVENTS: Record<GatewayEvent["type"], GatewayEvent> = {
  listening: {
    type: "listening",
    hostname: "127.0.0.1",
    port: 8080,
    tls: false,
  },
  "session_open": {
    type: "session_open",
    sessionId: "s1",
    route: "/vnc",
    client: "10.0.0.2:5000",
    target: "10.0.0.5:5900",
  },
  "session_close": {
    type: "session_close",
    sessionId: "s1",
    route: "/vnc",
    client: "10.0.0.2:5000",
    target: "10.0.0.5:5900",
    code: 1000,
    reason: "",
    detail: "backend closed",
    bytesToBackend: 10,
    bytesToBrowser: 20,
    framesToBackend: 1,
    framesToBrowser: 2,
    durationMs: 1500,
  },
  "handshake_refused": {
    type: "handshake_refused",
    status: 404,
    reason: "no route",
    detail: "",
    client: "10.0.0.3:1",
    path: "/nope",
  },
  "backend_error": {
    type: "backend_error",
    sessionId: "s2",
    detail: "ECONNREFUSED",
  },
  traffic: {
    type: "traffic",
    sessionId: "s1",
    direction: "to_backend",
    bytes: new TextEncoder().encode("hello"),
  },
  "shutting_down": { type: "shutting_down", cause: "SIGTERM" },
  warning: { type: "warning", message: "slow" },
  error: { type: "error", message: "boom", detail: "stack", sessionId: "s3" },
};

Deno.test("formatEvent writes one text line per event type", async (t) => {
  const expected: Record<GatewayEvent["type"], string> = {
    listening:
      `${STAMP} INFO  listening hostname=127.0.0.1 port=8080 tls=false`,
    "session_open":
      `${STAMP} INFO  session_open sessionId=s1 route=/vnc client=10.0.0.2:5000 target=10.0.0.5:5900`,
    "session_close":
      `${STAMP} INFO  session_close sessionId=s1 route=/vnc client=10.0.0.2:5000 ` +
      `target=10.0.0.5:5900 code=1000 reason="" detail="backend closed" bytesToBackend=10 ` +
      `bytesToBrowser=20 framesToBackend=1 framesToBrowser=2 durationMs=1500`,
    "handshake_refused":
      `${STAMP} WARN  handshake_refused status=404 reason="no route" detail="" client=10.0.0.3:1 path=/nope`,
    "backend_error":
      `${STAMP} WARN  backend_error sessionId=s2 detail=ECONNREFUSED`,
    traffic:
      `${STAMP} DEBUG traffic sessionId=s1 direction=to_backend size=5\n` +
      "00000000  68 65 6c 6c 6f                                    |hello|",
    // Regression (issue 18): a normal shutdown was a WARN "warning".
    "shutting_down": `${STAMP} INFO  shutting_down cause=SIGTERM`,
    warning: `${STAMP} WARN  warning message=slow`,
    error: `${STAMP} ERROR error message=boom detail=stack sessionId=s3`,
  };
  for (const [type, event] of Object.entries(EVENTS)) {
    await t.step(type, () => {
      assert.equal(
        formatEvent(event, { level: "debug", timeMs: T0 }),
        expected[type as GatewayEvent["type"]],
      );
    });
  }
});

Deno.test("formatEvent writes JSON lines with time, level, event and fields", async (t) => {
  for (const [type, event] of Object.entries(EVENTS)) {
    await t.step(type, () => {
      const line = formatEvent(event, {
        format: "json",
        level: "debug",
        timeMs: T0,
      });
      assert.ok(line !== undefined && !line.includes("\n"));
      const record = JSON.parse(line);
      assert.equal(record.time, STAMP);
      assert.equal(record.level, eventLevel(event));
      assert.equal(record.event, type);
      assert.equal("type" in record, false);
    });
  }
  const record = JSON.parse(
    formatEvent(EVENTS.session_close, { format: "json", timeMs: T0 })!,
  );
  assert.equal(record.bytesToBrowser, 20);
  assert.equal(record.reason, "");
});

Deno.test("formatEvent drops events below the configured level", async (t) => {
  const expectedCounts: Record<LogLevel, number> = {
    debug: 9,
    info: 8,
    warn: 4,
    error: 1,
  };
  for (const level of LOG_LEVELS) {
    await t.step(level, () => {
      const shown = Object.values(EVENTS).filter((event) =>
        formatEvent(event, { level, timeMs: T0 }) !== undefined
      );
      assert.equal(shown.length, expectedCounts[level]);
    });
  }
  assert.equal(formatEvent(EVENTS.traffic, {}), undefined);
});

Deno.test("formatEvent text quotes untrusted values so a client cannot forge a line", () => {
  const event: GatewayEvent = {
    type: "handshake_refused",
    status: 400,
    reason: "bad",
    detail: 'x\n2024-01-01T00:00:00.000Z INFO  session_open sessionId="forged"',
    client: "1.2.3.4:5",
    path: "/a b=c\u001b[31m\u202e\u00e9",
  };
  const line = formatEvent(event, { timeMs: T0 })!;
  assert.equal(line.includes("\n"), false);
  assert.equal(/[^\x20-\x7e]/.test(line), false);
  assert.ok(
    line.endsWith(
      'detail="x\\n2024-01-01T00:00:00.000Z INFO  session_open sessionId=\\"forged\\"" ' +
        'client=1.2.3.4:5 path="/a b=c\\u001b[31m\\u202e\\u00e9"',
    ),
    line,
  );
});

Deno.test("formatEvent caps traffic payloads in text and JSON", () => {
  const event: GatewayEvent = {
    type: "traffic",
    sessionId: "s",
    direction: "to_browser",
    bytes: new Uint8Array(40).fill(0x41),
  };
  const text = formatEvent(event, {
    level: "debug",
    timeMs: T0,
    trafficCapBytes: 20,
  })!;
  assert.deepEqual(text.split("\n").slice(1), [
    "00000000  41 41 41 41 41 41 41 41  41 41 41 41 41 41 41 41  |AAAAAAAAAAAAAAAA|",
    "00000010  41 41 41 41                                       |AAAA|",
    "... 20 more bytes (40 total)",
  ]);
  const record = JSON.parse(
    formatEvent(event, {
      format: "json",
      level: "debug",
      timeMs: T0,
      trafficCapBytes: 3,
    })!,
  );
  assert.deepEqual(
    {
      size: record.size,
      hex: record.hex,
      truncated: record.truncated,
      direction: record.direction,
    },
    { size: 40, hex: "414141", truncated: true, direction: "to_browser" },
  );
});

Deno.test("formatEvent stamps the current time by default", () => {
  const before = Date.now();
  const line = formatEvent(EVENTS.warning)!;
  const stamp = Date.parse(line.slice(0, line.indexOf(" ")));
  assert.ok(stamp >= before && stamp <= Date.now());
});

Deno.test("hexDump lays out offset, two hex groups and the ASCII column", async (t) => {
  const bytes = Uint8Array.from({ length: 34 }, (_, i) => i * 7 + 30);
  const cases: [string, Uint8Array, number, string[]][] = [
    ["empty", new Uint8Array(0), Infinity, [""]],
    ["one byte", Uint8Array.of(0), Infinity, [
      "00000000  00                                                |.|",
    ]],
    ["exactly eight", new TextEncoder().encode("ABCDEFGH"), Infinity, [
      "00000000  41 42 43 44 45 46 47 48                           |ABCDEFGH|",
    ]],
    ["three lines with non-printables", bytes, Infinity, [
      "00000000  1e 25 2c 33 3a 41 48 4f  56 5d 64 6b 72 79 80 87  |.%,3:AHOV]dkry..|",
      "00000010  8e 95 9c a3 aa b1 b8 bf  c6 cd d4 db e2 e9 f0 f7  |................|",
      "00000020  fe 05                                             |..|",
    ]],
    ["cap zero", bytes, 0, ["... 34 more bytes (34 total)"]],
    ["cap at line boundary", bytes, 16, [
      "00000000  1e 25 2c 33 3a 41 48 4f  56 5d 64 6b 72 79 80 87  |.%,3:AHOV]dkry..|",
      "... 18 more bytes (34 total)",
    ]],
  ];
  for (const [name, input, cap, lines] of cases) {
    await t.step(
      name,
      () => assert.deepEqual(hexDump(input, cap).split("\n"), lines),
    );
  }
});

Deno.test("formatEvent text logs printable values bare and quotes those with a quote, an equals sign or a backslash", () => {
  const cases: [string, string][] = [
    ["abc/-_.:~!#$%&'()*+,;<>?@[]^`{|}", "abc/-_.:~!#$%&'()*+,;<>?@[]^`{|}"],
    ["a=b", '"a=b"'],
    ['x"y', '"x\\"y"'],
    ["p\\q", '"p\\\\q"'],
    ["", '""'],
  ];
  for (const [value, shown] of cases) {
    const line = formatEvent(
      { type: "warning", message: value },
      { timeMs: T0 },
    )!;
    assert.ok(line.endsWith(` message=${shown}`), line);
  }
});
