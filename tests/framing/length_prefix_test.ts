import assert from "node:assert/strict";
import { assertBytesEqual } from "../_util/assert.ts";
import {
  FrameTooLargeError,
  InvalidMessageError,
  LengthFieldIsTextError,
  MalformedFrameError,
  TruncatedFrameError,
} from "../../src/errors.ts";
import {
  LengthPrefixDecoder,
  LengthPrefixEncoder,
} from "../../src/framing/length_prefix.ts";
import { createFrameDecoder } from "../../src/framing/create_codec.ts";
import {
  type LengthFramingSpec,
  parseFramingSpec,
} from "../../src/framing/spec.ts";

type ByteSource = number | readonly number[] | string | Uint8Array;

/** Concatenates bytes, byte arrays and UTF-8 strings. */
function bytes(...parts: ByteSource[]): Uint8Array {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === "number") out.push(part);
    else if (typeof part === "string") {
      out.push(...new TextEncoder().encode(part));
    } else out.push(...part);
  }
  return new Uint8Array(out);
}

function lengthSpec(text: string): LengthFramingSpec {
  const spec = parseFramingSpec(text);
  assert.equal(spec.kind, "length");
  return spec as LengthFramingSpec;
}

/** Decodes `chunks` and returns copies of the messages. */
function decode(text: string, chunks: Uint8Array[]): Uint8Array[] {
  const decoder = new LengthPrefixDecoder(lengthSpec(text));
  const messages: Uint8Array[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk, (m) => messages.push(m.slice()));
  }
  decoder.finish();
  return messages;
}

/** Cuts `stream` at the given indexes. */
function cut(stream: Uint8Array, ...at: number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const end of [...at, stream.length]) {
    chunks.push(stream.slice(start, end));
    start = end;
  }
  return chunks;
}

const HELLO = bytes(0, 0, 0, 5, "hello");
const WORLD = bytes(0, 0, 0, 5, "world");

Deno.test("LengthPrefixDecoder u32be handles the split-boundary cases", async (t) => {
  const cases: Array<[string, Uint8Array[], Uint8Array[]]> = [
    ["frame in one chunk", [HELLO], [bytes("hello")]],
    ["header split 1/3", cut(HELLO, 1), [bytes("hello")]],
    ["header split 2/2", cut(HELLO, 2), [bytes("hello")]],
    ["header split 3/1", cut(HELLO, 3), [bytes("hello")]],
    ["header split 1/1/1/1", cut(HELLO, 1, 2, 3), [bytes("hello")]],
    ["header then payload", cut(HELLO, 4), [bytes("hello")]],
    ["payload split", cut(HELLO, 6), [bytes("hello")]],
    ["payload split twice", cut(HELLO, 5, 7), [bytes("hello")]],
    ["every byte its own chunk", cut(HELLO, 1, 2, 3, 4, 5, 6, 7, 8), [
      bytes("hello"),
    ]],
    ["many frames in one chunk", [bytes(HELLO, WORLD, HELLO)], [
      bytes("hello"),
      bytes("world"),
      bytes("hello"),
    ]],
    [
      "frame end and next header in one chunk",
      cut(bytes(HELLO, WORLD), 7, 11),
      [bytes("hello"), bytes("world")],
    ],
    ["empty payload", [bytes(0, 0, 0, 0)], [bytes()]],
    ["empty payloads around a frame", [bytes(0, 0, 0, 0, HELLO, 0, 0, 0, 0)], [
      bytes(),
      bytes("hello"),
      bytes(),
    ]],
    [
      "empty payload with split header",
      cut(bytes(0, 0, 0, 0, 0, 0, 0, 0), 2, 6),
      [bytes(), bytes()],
    ],
    ["empty chunks", [bytes(), HELLO, bytes()], [bytes("hello")]],
  ];
  for (const [name, chunks, expected] of cases) {
    await t.step(name, () => {
      assert.deepEqual(decode("u32be", chunks), expected);
    });
  }
});

Deno.test("LengthPrefixDecoder accepts a message of exactly max bytes", () => {
  const frame = bytes(0, 0, 0, 10, new Uint8Array(10).fill(7));
  assert.deepEqual(decode("u32be,max=10", [frame]), [
    new Uint8Array(10).fill(7),
  ]);
  assert.deepEqual(decode("u32be,max=10", cut(frame, 2, 9)), [
    new Uint8Array(10).fill(7),
  ]);
});

Deno.test("LengthPrefixDecoder rejects max + 1 from the header alone, before buffering", async (t) => {
  for (
    const [name, chunks] of [
      ["header in one chunk", [bytes(0, 0, 0, 11)]],
      ["header split", [bytes(0, 0), bytes(0, 11)]],
    ] as const
  ) {
    await t.step(name, () => {
      const decoder = new LengthPrefixDecoder(lengthSpec("u32be,max=10"));
      assert.throws(() => {
        for (const chunk of chunks) decoder.push(chunk, () => assert.fail());
      }, (error) => {
        assert.ok(error instanceof FrameTooLargeError);
        assert.equal(error.size, 11);
        assert.equal(error.limit, 10);
        return true;
      });
    });
  }
  await t.step("an announced 4 GiB frame", () => {
    const decoder = new LengthPrefixDecoder(lengthSpec("u32be"));
    assert.throws(
      () => decoder.push(bytes(0xff, 0xff, 0xff, 0xff), () => assert.fail()),
      (error) =>
        error instanceof FrameTooLargeError && error.size === 0xffffffff,
    );
  });
  await t.step("whole: the size is the whole frame", () => {
    const decoder = new LengthPrefixDecoder(
      lengthSpec("u32le,adjust=-4,whole,max=10"),
    );
    assert.throws(
      () => decoder.push(bytes(11, 0, 0, 0), () => assert.fail()),
      (error) => error instanceof FrameTooLargeError && error.size === 11,
    );
  });
  await t.step("offset: the size counts the prefix", () => {
    const decoder = new LengthPrefixDecoder(
      lengthSpec("u16be,offset=2,max=10"),
    );
    assert.throws(
      () => decoder.push(bytes(1, 2, 0, 9), () => assert.fail()),
      (error) => error instanceof FrameTooLargeError && error.size === 11,
    );
  });
});

Deno.test("LengthPrefixDecoder passes frames inside one chunk on as views and copies spanning frames once", () => {
  const decoder = new LengthPrefixDecoder(lengthSpec("u32be"));
  const chunk = bytes(HELLO, 0, 0, 0, 5, "wor");
  const seen: Uint8Array[] = [];
  decoder.push(chunk, (m) => seen.push(m));
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.buffer, chunk.buffer);
  assert.equal(seen[0]!.byteOffset, 4);
  assert.equal(decoder.pendingBytes, 7);
  decoder.push(bytes("ld"), (m) => seen.push(m));
  assert.deepEqual(seen[1], bytes("world"));
  assert.equal(seen[1]!.buffer.byteLength, 5, "allocated exactly once");
  chunk.fill(0);
  assert.deepEqual(
    seen[1],
    bytes("world"),
    "a spanning message owns its bytes",
  );
  assert.equal(decoder.pendingBytes, 0);
});

Deno.test("LengthPrefixDecoder with offset and without whole does not alias the chunk", () => {
  const decoder = new LengthPrefixDecoder(
    lengthSpec("u32be,offset=1,adjust=-5"),
  );
  const chunk = bytes(0x51, 0, 0, 0, 7, "hi", 0x52, 0, 0, 0, 5);
  const seen: Uint8Array[] = [];
  decoder.push(chunk, (m) => seen.push(m));
  chunk.fill(0);
  assert.deepEqual(seen, [bytes(0x51, "hi"), bytes(0x52)]);
});

Deno.test("LengthPrefixDecoder reads every width and byte order", async (t) => {
  const cases: Array<[string, Uint8Array, number]> = [
    ["u8", bytes(3), 3],
    ["u16be", bytes(0x01, 0x02), 0x0102],
    ["u16le", bytes(0x02, 0x01), 0x0102],
    ["u24be", bytes(0x01, 0x00, 0x03), 0x010003],
    ["u24le", bytes(0x03, 0x00, 0x01), 0x010003],
    ["u32be", bytes(0x00, 0x01, 0x00, 0x02), 0x010002],
    ["u32le", bytes(0x02, 0x00, 0x01, 0x00), 0x010002],
    ["u64be", bytes(0, 0, 0, 0, 0x00, 0x01, 0x00, 0x02), 0x010002],
    ["u64le", bytes(0x02, 0x00, 0x01, 0x00, 0, 0, 0, 0), 0x010002],
  ];
  for (const [text, header, size] of cases) {
    await t.step(text, () => {
      const body = new Uint8Array(size).map((_, i) => i);
      const frame = bytes(header, body);
      for (
        const messages of [
          decode(text, [frame]),
          decode(text, cut(frame, 1, header.length + 1)),
        ]
      ) {
        assert.equal(messages.length, 1);
        assertBytesEqual(messages[0]!, body);
      }
      const encoder = new LengthPrefixEncoder(lengthSpec(text));
      assertBytesEqual(encoder.encode(body), frame);
    });
  }
});

Deno.test("LengthPrefixDecoder rejects impossible headers with MalformedFrameError", async (t) => {
  const cases: Array<[string, string, Uint8Array[]]> = [
    [
      "length below the header size (whole, counts itself)",
      "u32le,adjust=-4,whole",
      [bytes(3, 0, 0, 0)],
    ],
    ["length below the header size, header split", "u32le,adjust=-4,whole", [
      bytes(3),
      bytes(0, 0, 0),
    ]],
    ["length below the adjust (offset mode)", "u32be,offset=1,adjust=-5", [
      bytes(0x51, 0, 0, 0, 4),
    ]],
    ["u64be above 2^53 - 1", "u64be", [bytes(0, 0x20, 0, 0, 0, 0, 0, 0)]],
    ["u64le above 2^53 - 1", "u64le", [bytes(0, 0, 0, 0, 0, 0, 0x20, 0)]],
    ["u64be all ones, split", "u64be", [
      bytes(0xff, 0xff, 0xff),
      bytes(0xff, 0xff, 0xff, 0xff, 0xff),
    ]],
  ];
  for (const [name, text, chunks] of cases) {
    await t.step(name, () => {
      const decoder = new LengthPrefixDecoder(lengthSpec(text));
      assert.throws(() => {
        for (const chunk of chunks) decoder.push(chunk, () => assert.fail());
      }, MalformedFrameError);
    });
  }
  await t.step("u64be of exactly 2^53 - 1 is too large, not malformed", () => {
    const decoder = new LengthPrefixDecoder(lengthSpec("u64be"));
    assert.throws(
      () =>
        decoder.push(
          bytes(0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
          () => assert.fail(),
        ),
      (error) =>
        error instanceof FrameTooLargeError &&
        error.size === Number.MAX_SAFE_INTEGER,
    );
  });
});

Deno.test("LengthPrefixDecoder.finish throws TruncatedFrameError with the pending wire bytes", async (t) => {
  const cases: Array<[string, string, Uint8Array, number]> = [
    ["partial header", "u32be", bytes(0, 0), 2],
    ["partial payload", "u32be", bytes(0, 0, 0, 5, "he"), 6],
    [
      "partial payload after a full frame",
      "u32be",
      bytes(HELLO, 0, 0, 0, 5, "h"),
      5,
    ],
    [
      "offset mode counts the length field",
      "u32be,offset=1,adjust=-5",
      bytes(0x51, 0, 0, 0, 7, "h"),
      6,
    ],
    ["whole mode", "u32le,adjust=-4,whole", bytes(6, 0, 0, 0, 1), 5],
  ];
  for (const [name, text, chunk, pending] of cases) {
    await t.step(name, () => {
      const decoder = new LengthPrefixDecoder(lengthSpec(text));
      decoder.push(chunk, () => {});
      assert.equal(decoder.pendingBytes, pending);
      assert.throws(
        () => decoder.finish(),
        (error) =>
          error instanceof TruncatedFrameError &&
          error.pendingBytes === pending,
      );
    });
  }
  await t.step("a clean end does not throw", () => {
    const decoder = new LengthPrefixDecoder(lengthSpec("u32be"));
    decoder.push(HELLO, () => {});
    assert.equal(decoder.pendingBytes, 0);
    decoder.finish();
  });
});

Deno.test("LengthPrefixDecoder handles offset, adjust and whole across every split", async (t) => {
  const cases: Array<[string, Uint8Array, Uint8Array]> = [
    [
      "u32be,offset=1,adjust=-5",
      bytes(0x51, 0, 0, 0, 7, "hi"),
      bytes(0x51, "hi"),
    ],
    ["u32be,offset=1,adjust=-5", bytes(0x51, 0, 0, 0, 5), bytes(0x51)],
    ["u32le,adjust=-4,whole", bytes(6, 0, 0, 0, "hi"), bytes(6, 0, 0, 0, "hi")],
    ["u32le,adjust=-4,whole", bytes(4, 0, 0, 0), bytes(4, 0, 0, 0)],
    [
      "u16be,offset=2,adjust=1,whole",
      bytes(9, 9, 0, 1, 7, 8),
      bytes(9, 9, 0, 1, 7, 8),
    ],
    ["u16be,offset=2,adjust=1", bytes(9, 9, 0, 1, 7, 8), bytes(9, 9, 7, 8)],
    ["u8,adjust=-1", bytes(3, 7, 8), bytes(7, 8)],
  ];
  for (const [text, frame, message] of cases) {
    await t.step(`${text} ${frame.length}-byte frame`, () => {
      for (let i = 0; i <= frame.length; i++) {
        for (let j = i; j <= frame.length; j++) {
          const chunks = [frame.slice(0, i), frame.slice(i, j), frame.slice(j)];
          assert.deepEqual(
            decode(text, chunks),
            [message],
            `cut at ${i}, ${j}`,
          );
        }
      }
      assert.deepEqual(decode(text, [bytes(frame, frame)]), [message, message]);
    });
  }
});

Deno.test("LengthPrefixEncoder writes the prefix, the computed length and the rest", () => {
  const encoder = new LengthPrefixEncoder(
    lengthSpec("u32be,offset=1,adjust=-5"),
  );
  const message = bytes(0x51, "hi");
  assert.equal(encoder.bodyOffset, 1);
  assert.equal(encoder.trailer.length, 0);
  assert.equal(encoder.frameLength(message), 7);
  const target = new Uint8Array(10).fill(0xee);
  assert.equal(encoder.encodeHeadInto(message, target, 1), 5);
  assert.deepEqual(target.subarray(0, 7), bytes(0xee, 0x51, 0, 0, 0, 7, 0xee));
  assert.equal(encoder.encodeInto(message, target, 2), 7);
  assert.deepEqual(target, bytes(0xee, 0x51, 0x51, 0, 0, 0, 7, "hi", 0xee));
});

Deno.test("LengthPrefixEncoder with whole writes the message verbatim into a new array", () => {
  const encoder = new LengthPrefixEncoder(lengthSpec("u32le,adjust=-4,whole"));
  const message = bytes(6, 0, 0, 0, "hi");
  assert.equal(encoder.bodyOffset, 0);
  assert.equal(encoder.encodeHeadInto(message, new Uint8Array(0), 0), 0);
  const frame = encoder.encode(message);
  assert.deepEqual(frame, message);
  assert.notEqual(frame.buffer, message.buffer);
});

Deno.test("LengthPrefixEncoder rejects messages it cannot frame", async (t) => {
  const cases: Array<
    [
      string,
      string,
      Uint8Array,
      typeof FrameTooLargeError | typeof InvalidMessageError,
      RegExp,
    ]
  > = [
    [
      "above max",
      "u32be,max=10",
      new Uint8Array(11),
      FrameTooLargeError,
      /must be <= 10: current value is 11/,
    ],
    [
      "above what u8 can express",
      "u8",
      new Uint8Array(256),
      FrameTooLargeError,
      /must be <= 255: current value is 256/,
    ],
    [
      "above what u16 can express with offset",
      "u16be,offset=1",
      new Uint8Array(65537),
      FrameTooLargeError,
      /must be <= 65536/,
    ],
    [
      "shorter than offset",
      "u32be,offset=1,adjust=-5",
      bytes(),
      InvalidMessageError,
      /at least 1 bytes long: current length is 0/,
    ],
    [
      "too short for a positive adjust",
      "u16be,adjust=2",
      bytes(1),
      InvalidMessageError,
      /at least 2 bytes long for adjust=2/,
    ],
    [
      "whole: shorter than the header",
      "u32le,adjust=-4,whole",
      bytes(4, 0, 0),
      InvalidMessageError,
      /at least 4 bytes long: current length is 3/,
    ],
    [
      "whole: length announces less",
      "u32le,adjust=-4,whole",
      bytes(5, 0, 0, 0, "hi"),
      InvalidMessageError,
      /must announce 6 bytes: current value announces 5/,
    ],
    [
      "whole: length announces more",
      "u32le,adjust=-4,whole",
      bytes(7, 0, 0, 0, "hi"),
      InvalidMessageError,
      /announces 7/,
    ],
    [
      "whole: length below the header",
      "u32le,adjust=-4,whole",
      bytes(0, 0, 0, 0),
      InvalidMessageError,
      /announces 0/,
    ],
    [
      "whole: two frames in one message",
      "u32le,adjust=-4,whole",
      bytes(4, 0, 0, 0, 4, 0, 0, 0),
      InvalidMessageError,
      /announce 8/,
    ],
    [
      "whole: u64 above 2^53",
      "u64be,whole",
      bytes(0xff, 0, 0, 0, 0, 0, 0, 0),
      InvalidMessageError,
      /more than 2\^53/,
    ],
  ];
  for (const [name, text, message, type, pattern] of cases) {
    await t.step(name, () => {
      const encoder = new LengthPrefixEncoder(lengthSpec(text));
      assert.throws(() => encoder.frameLength(message), type);
      assert.throws(() => encoder.encode(message), pattern);
    });
  }
});

Deno.test("LengthPrefixDecoder with scratchBytes gathers spanning frames in one reused buffer", () => {
  const spec = parseFramingSpec("u32be");
  const frame = (payload: number[]) =>
    new Uint8Array([0, 0, 0, payload.length, ...payload]);
  const stream = new Uint8Array([...frame([1, 2, 3]), ...frame([4, 5, 6])]);
  const seen: { buffer: ArrayBufferLike; bytes: number[] }[] = [];
  const decoder = createFrameDecoder(spec, { scratchBytes: 1024 });
  // Cut inside each frame so both messages span chunks.
  for (const [from, to] of [[0, 5], [5, 9], [9, 14]] as const) {
    decoder.push(stream.subarray(from, to), (message) => {
      seen.push({ buffer: message.buffer, bytes: [...message] });
    });
  }
  assert.deepEqual(seen.map((entry) => entry.bytes), [[1, 2, 3], [4, 5, 6]]);
  assert.equal(seen[0]!.buffer, seen[1]!.buffer);
  // Without the option every spanning message is a fresh array the caller
  // may keep.
  const fresh: ArrayBufferLike[] = [];
  const plain = createFrameDecoder(spec);
  for (const [from, to] of [[0, 5], [5, 9], [9, 14]] as const) {
    plain.push(
      stream.subarray(from, to),
      (message) => fresh.push(message.buffer),
    );
  }
  assert.equal(fresh.length, 2);
  assert.notEqual(fresh[0], fresh[1]);
});

// Regression (issue 18): a text service behind the default u32be closed with
// "current value is 1918990137" and no hint that the framing was wrong.
Deno.test("LengthPrefixDecoder says a length field that reads as text is probably a text protocol", async (t) => {
  for (
    const [name, chunks, text] of [
      ["redis greeting", ["+OK ready\r\n"], "+OK "],
      ["HTTP response", ["HTTP/1.1 200 OK\r\n"], "HTTP"],
      ["an echoed request split 1/3", ["G", "ET / HTTP/1.1\r\n"], "GET "],
      ["a line with CR LF in the field", ["hi\r\nthere"], "hi\r\n"],
    ] as const
  ) {
    await t.step(name, () => {
      const decoder = new LengthPrefixDecoder(lengthSpec("u32be"));
      assert.throws(() => {
        for (const chunk of chunks) {
          decoder.push(new TextEncoder().encode(chunk), () => assert.fail());
        }
      }, (error) => {
        assert.ok(error instanceof LengthFieldIsTextError);
        assert.ok(error instanceof FrameTooLargeError);
        assert.equal(error.text, text);
        assert.match(error.message, /--framing raw or --framing lines/);
        assert.ok(error.message.includes(JSON.stringify(text)), error.message);
        return true;
      });
    });
  }
  await t.step("a binary length stays a plain FrameTooLargeError", () => {
    const decoder = new LengthPrefixDecoder(lengthSpec("u32be"));
    assert.throws(
      () => decoder.push(bytes(0xf0, 1, 2, 3), () => assert.fail()),
      (error) =>
        error instanceof FrameTooLargeError &&
        !(error instanceof LengthFieldIsTextError),
    );
  });
});
