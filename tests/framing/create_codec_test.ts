import assert from "node:assert/strict";
import {
  createFrameDecoder,
  createFrameEncoder,
} from "../../src/framing/create_codec.ts";
import {
  LengthPrefixDecoder,
  LengthPrefixEncoder,
} from "../../src/framing/length_prefix.ts";
import { LinesDecoder, LinesEncoder } from "../../src/framing/lines.ts";
import { RawDecoder, RawEncoder } from "../../src/framing/raw.ts";
import {
  type FramingSpec,
  FramingSpecError,
  maxMessageBytes,
  parseFramingSpec,
} from "../../src/framing/spec.ts";
import { VarintDecoder, VarintEncoder } from "../../src/framing/varint.ts";

type ByteSource = number | readonly number[] | string | Uint8Array;

/** Concatenates bytes, byte arrays and ASCII strings. */
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

const be16 = (n: number) => [n >>> 8, n & 0xff];
const be32 = (
  n: number,
) => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const le32 = (
  n: number,
) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];

/** A protocol example: browser messages and the TCP bytes they travel as. */
interface WireExample {
  name: string;
  spec: string;
  messages: Uint8Array[];
  wire: Uint8Array;
}

// Thrift TBinaryProtocol strict call "ping", seqid 1, no arguments (17 bytes).
const THRIFT_PING = bytes(
  0x80,
  0x01,
  0x00,
  0x01,
  be32(4),
  "ping",
  be32(1),
  0x00,
);
// Kafka ApiVersions v0 request: api_key 18, api_version 0, correlation_id 7,
// client_id "client" (16 bytes), and its v0 response with no versions.
const KAFKA_REQUEST = bytes(be16(18), be16(0), be32(7), be16(6), "client");
const KAFKA_RESPONSE = bytes(be32(7), be16(0), be32(0));
// Erlang term_to_binary({ok, 1}): version 131, SMALL_TUPLE_EXT, arity 2,
// ATOM_EXT "ok", SMALL_INTEGER_EXT 1 (10 bytes).
const ERLANG_OK_1 = bytes(131, 104, 2, 100, be16(2), "ok", 97, 1);
// protobuf `message Test1 { int32 a = 1; }` with a = 150, and a message with
// a 197-byte string in field 2 (200 bytes: a two-byte varint length).
const PROTOBUF_150 = bytes(0x08, 0x96, 0x01);
const PROTOBUF_200 = bytes(0x12, 0xc5, 0x01, "x".repeat(197));
// MongoDB OP_MSG {ping: 1}: messageLength (counts itself), requestID,
// responseTo, opCode 2013, flagBits, section kind 0, BSON document.
const BSON_PING = bytes(le32(15), 0x10, "ping", 0, le32(1), 0);
const MONGO_PING = bytes(
  le32(36),
  le32(1),
  le32(0),
  le32(2013),
  le32(0),
  0,
  BSON_PING,
);
// PostgreSQL backend messages: type byte + int32 length counting itself.
const PG_AUTH_OK = bytes("R", be32(8), be32(0));
const PG_COMMAND_COMPLETE = bytes("C", be32(13), "SELECT 1", 0);
const PG_READY = bytes("Z", be32(5), "I");
// memcached binary GET "Hello" and its hit response (flags 0xdeadbeef,
// value "World", CAS 1): 24-byte header, total body length at bytes 8..12.
const MEMCACHED_GET = bytes(
  0x80,
  0x00,
  be16(5),
  0x00,
  0x00,
  be16(0),
  be32(5),
  be32(0),
  be32(0),
  be32(0),
  "Hello",
);
const MEMCACHED_HIT = bytes(
  0x81,
  0x00,
  be16(0),
  0x04,
  0x00,
  be16(0),
  be32(9),
  be32(0),
  be32(0),
  be32(1),
  be32(0xdeadbeef),
  "World",
);

const EXAMPLES: WireExample[] = [
  {
    name:
      "classic tutorial: type byte, u32be length counting the 5-byte header, body",
    spec: "u32be,offset=1,adjust=-5",
    messages: [bytes(0x01, "hello"), bytes(0x02)],
    wire: bytes(0x01, be32(10), "hello", 0x02, be32(5)),
  },
  {
    name: "Thrift framed transport",
    spec: "u32be",
    messages: [THRIFT_PING],
    wire: bytes(be32(17), THRIFT_PING),
  },
  {
    name: "Kafka request and response",
    spec: "u32be",
    messages: [KAFKA_REQUEST, KAFKA_RESPONSE],
    wire: bytes(be32(16), KAFKA_REQUEST, be32(10), KAFKA_RESPONSE),
  },
  {
    name: "Erlang {packet,2}",
    spec: "u16be",
    messages: [ERLANG_OK_1, bytes()],
    wire: bytes(be16(10), ERLANG_OK_1, be16(0)),
  },
  {
    name: "protobuf delimited",
    spec: "varint",
    messages: [PROTOBUF_150, PROTOBUF_200],
    wire: bytes(0x03, PROTOBUF_150, 0xc8, 0x01, PROTOBUF_200),
  },
  {
    name: "MongoDB wire protocol (OP_MSG)",
    spec: "u32le,adjust=-4,whole",
    messages: [MONGO_PING],
    wire: MONGO_PING,
  },
  {
    name: "PostgreSQL backend messages",
    spec: "u32be,offset=1,adjust=-4,whole",
    messages: [PG_AUTH_OK, PG_COMMAND_COMPLETE, PG_READY],
    wire: bytes(PG_AUTH_OK, PG_COMMAND_COMPLETE, PG_READY),
  },
  {
    name: "memcached binary protocol",
    spec: "u32be,offset=8,adjust=12,whole",
    messages: [MEMCACHED_GET, MEMCACHED_HIT],
    wire: bytes(MEMCACHED_GET, MEMCACHED_HIT),
  },
  {
    name: "line protocol (SMTP-style crlf)",
    spec: "lines,crlf,text",
    messages: [bytes("EHLO example.org"), bytes("QUIT")],
    wire: bytes("EHLO example.org\r\nQUIT\r\n"),
  },
];

function decodeAll(spec: FramingSpec, chunks: Uint8Array[]): Uint8Array[] {
  const decoder = createFrameDecoder(spec);
  const messages: Uint8Array[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk, (m) => messages.push(m.slice()));
  }
  decoder.finish();
  return messages;
}

Deno.test("createFrameEncoder and createFrameDecoder carry real protocols byte for byte", async (t) => {
  assert.equal(MEMCACHED_GET.length, 29);
  assert.equal(MEMCACHED_HIT.length, 33);
  assert.equal(MONGO_PING.length, 36);
  for (const { name, spec: text, messages, wire } of EXAMPLES) {
    await t.step(`${name} (${text})`, () => {
      const spec = parseFramingSpec(text);
      const encoder = createFrameEncoder(spec);
      assert.deepEqual(bytes(...messages.map((m) => encoder.encode(m))), wire);
      for (const message of messages) {
        assert.ok(message.length <= maxMessageBytes(spec));
        // The head + body + trailer path a relay uses to avoid copying.
        const head = new Uint8Array(encoder.bodyOffset + 16);
        const headLength = encoder.encodeHeadInto(message, head, 0);
        assert.deepEqual(
          bytes(
            head.subarray(0, headLength),
            message.subarray(encoder.bodyOffset),
            encoder.trailer,
          ),
          encoder.encode(message),
        );
      }
      assert.deepEqual(decodeAll(spec, [wire]), messages);
      assert.deepEqual(
        decodeAll(spec, [...wire].map((b) => bytes(b))),
        messages,
      );
    });
  }
});

Deno.test("createFrameDecoder and createFrameEncoder pick the codec for each kind", async (t) => {
  const cases: Array<[string, unknown, unknown]> = [
    ["raw", RawDecoder, RawEncoder],
    ["lines", LinesDecoder, LinesEncoder],
    ["varint", VarintDecoder, VarintEncoder],
    ["u16le", LengthPrefixDecoder, LengthPrefixEncoder],
  ];
  for (const [text, decoderClass, encoderClass] of cases) {
    await t.step(text, () => {
      const spec = parseFramingSpec(text);
      assert.ok(
        createFrameDecoder(spec) instanceof (decoderClass as typeof RawDecoder),
      );
      assert.ok(
        createFrameEncoder(spec) instanceof (encoderClass as typeof RawEncoder),
      );
    });
  }
});

Deno.test("createFrameDecoder and createFrameEncoder reject specs built in code with fields out of range", () => {
  const spec = { ...parseFramingSpec("u32be"), offset: -1 } as FramingSpec;
  assert.throws(() => createFrameDecoder(spec), FramingSpecError);
  assert.throws(() => createFrameEncoder(spec), FramingSpecError);
});
