import assert from "node:assert/strict";
import {
  decodeRecord,
  decodeRecording,
  encodeRecord,
  encodeRecordingHeader,
  type RecordEntry,
  replay,
} from "../../src/observability/recording.ts";

const HEADER = {
  sessionId: "s7",
  route: "/vnc",
  client: "10.0.0.2:5000",
  target: "10.0.0.5:5900",
  startedAtMs: Date.UTC(2024, 0, 1),
};

Deno.test("encodeRecord and decodeRecord round-trip payloads of every shape", async (t) => {
  const cases: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["every byte value", Uint8Array.from({ length: 256 }, (_, i) => i)],
    ["newline and quote bytes", new TextEncoder().encode('a\n"b"\r\n')],
    ["100 KiB", new Uint8Array(100 * 1024).fill(0xab)],
  ];
  for (const [name, bytes] of cases) {
    await t.step(name, () => {
      const entry: RecordEntry = {
        timeMs: 1700000000123,
        direction: "to_browser",
        bytes,
      };
      const line = encodeRecord(entry);
      assert.ok(line.endsWith("\n"));
      assert.equal(line.indexOf("\n"), line.length - 1);
      assert.deepEqual(decodeRecord(line), entry);
    });
  }
});

Deno.test("decodeRecording reads the header and records from text or bytes", () => {
  const records: RecordEntry[] = [
    {
      timeMs: HEADER.startedAtMs + 5,
      direction: "to_backend",
      bytes: Uint8Array.of(1),
    },
    {
      timeMs: HEADER.startedAtMs + 9,
      direction: "to_browser",
      bytes: Uint8Array.of(2, 3),
    },
  ];
  const text = encodeRecordingHeader(HEADER) +
    records.map(encodeRecord).join("");
  for (
    const input of [
      text,
      new TextEncoder().encode(text),
      text.replaceAll("\n", "\r\n"),
    ]
  ) {
    assert.deepEqual(decodeRecording(input), {
      header: HEADER,
      records,
      truncated: false,
    });
  }
  assert.deepEqual(decodeRecording(""), {
    header: undefined,
    records: [],
    truncated: false,
  });
});

Deno.test("decodeRecording reports a cut last line as truncated instead of failing", () => {
  const first = encodeRecord({
    timeMs: 1,
    direction: "to_backend",
    bytes: Uint8Array.of(9),
  });
  const second = encodeRecord({
    timeMs: 2,
    direction: "to_backend",
    bytes: Uint8Array.of(8),
  });
  for (let cut = 1; cut < second.length - 1; cut++) {
    const recording = decodeRecording(first + second.slice(0, cut));
    assert.equal(recording.truncated, true, `cut at ${cut}`);
    assert.equal(recording.records.length, 1);
  }
});

Deno.test("decodeRecording names the line of a bad record", async (t) => {
  const good = encodeRecord({
    timeMs: 1,
    direction: "to_backend",
    bytes: Uint8Array.of(1),
  });
  const cases: [string, string][] = [
    ["not JSON", "nope"],
    ["not an object", "[1,2]"],
    ["time is a string", '{"t":"1","dir":"to_backend","b64":""}'],
    ["time is missing", '{"dir":"to_backend","b64":""}'],
    ["unknown direction", '{"t":1,"dir":"sideways","b64":""}'],
    ["bad base64", '{"t":1,"dir":"to_backend","b64":"!!"}'],
    ["missing payload", '{"t":1,"dir":"to_backend"}'],
  ];
  for (const [name, line] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => decodeRecording(`${good}\n${line}\n${good}`),
        (error: unknown) =>
          error instanceof SyntaxError &&
          error.message.startsWith("Cannot decode recording line 3: "),
      );
    });
  }
});

Deno.test("decodeRecording rejects a header of another version", () => {
  const header = JSON.stringify({
    format: "wsgate-recording",
    ...HEADER,
    version: 9,
  });
  const good = encodeRecord({
    timeMs: 1,
    direction: "to_backend",
    bytes: Uint8Array.of(1),
  });
  assert.throws(
    () => decodeRecording(`${header}\n${good}`),
    (error: unknown) =>
      error instanceof SyntaxError &&
      error.message.startsWith(
        'Cannot decode recording line 1: Cannot decode recording header as "version" must be 1',
      ),
  );
});

Deno.test("replay shows header, offsets, arrows, sizes and capped dumps", () => {
  const text = encodeRecordingHeader({ ...HEADER, route: "/a\u001b[2Jb" }) +
    encodeRecord({
      timeMs: HEADER.startedAtMs + 12,
      direction: "to_backend",
      bytes: new Uint8Array(0),
    }) +
    encodeRecord({
      timeMs: HEADER.startedAtMs + 1500,
      direction: "to_browser",
      bytes: new TextEncoder().encode("RFB 003.008\n and some more bytes"),
    }) +
    '{"t":';
  assert.equal(
    replay(text, { capBytes: 16 }),
    [
      "session s7 route /a\\u001b[2Jb client 10.0.0.2:5000 target 10.0.0.5:5900 started 2024-01-01T00:00:00.000Z",
      "+0.012s  browser -> backend  0 B",
      "    (empty)",
      "+1.500s  browser <- backend  32 B",
      "    00000000  52 46 42 20 30 30 33 2e  30 30 38 0a 20 61 6e 64  |RFB 003.008. and|",
      "    ... 16 more bytes (32 total)",
      "2 messages in 1.500s: 0 B to backend in 1, 32 B to browser in 1",
      "(last line incomplete: recording was cut short)",
      "",
    ].join("\n"),
  );
});

Deno.test("replay of an empty recording prints only the total line", () => {
  assert.equal(
    replay(""),
    "0 messages in 0.000s: 0 B to backend in 0, 0 B to browser in 0\n",
  );
});
