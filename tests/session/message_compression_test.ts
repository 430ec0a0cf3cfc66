import assert from "node:assert/strict";
import { FrameTooLargeError, InvalidMessageError } from "../../src/errors.ts";
import {
  MessageCompression,
  type MessageCompressionOptions,
} from "../../src/session/message_compression.ts";
import {
  MessageDeflater,
  MessageInflater,
} from "../../src/websocket/message_deflate.ts";
import { Opcode } from "../../src/websocket/ws_frame_codec.ts";

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();

/** What the queues handed on, in the order they handed it on. */
type Handed =
  | { to: "backend"; text: string }
  | { to: "control"; opcode: number; text: string }
  | { to: "browser"; text: string; compressed: Uint8Array | null };

function queuesFor(
  inflaterOptions: { maxMessageBytes?: number } = {},
  options: MessageCompressionOptions = {},
): { queues: MessageCompression; handed: Handed[] } {
  const handed: Handed[] = [];
  const queues = new MessageCompression({
    deflater: new MessageDeflater({ minSize: 8 }),
    inflater: new MessageInflater(inflaterOptions),
  }, {
    toBackend: (message) =>
      handed.push({ to: "backend", text: DECODER.decode(message) }),
    control: (opcode, payload) =>
      handed.push({ to: "control", opcode, text: DECODER.decode(payload) }),
    toBrowser: (message, compressed) =>
      handed.push({
        to: "browser",
        text: DECODER.decode(message),
        compressed,
      }),
  }, options);
  return { queues, handed };
}

/** Deflates `texts` in order, as one browser would (context kept). */
async function deflateAll(texts: string[]): Promise<Uint8Array[]> {
  const deflater = new MessageDeflater({ minSize: 0 });
  try {
    const out: Uint8Array[] = [];
    for (const text of texts) {
      out.push((await deflater.compress(ENCODER.encode(text)))!);
    }
    return out;
  } finally {
    deflater.close();
  }
}

Deno.test("MessageCompression hands browser messages on in order, inflating only the compressed ones", async () => {
  const { queues, handed } = queuesFor();
  const [first, third] = await deflateAll(["first message", "third message"]);
  queues.queueInbound(true, first!, true);
  queues.queueInbound(true, ENCODER.encode("second, plain"), false);
  queues.queueInbound(true, third!, true);
  await queues.inbound;
  assert.deepEqual(handed, [
    { to: "backend", text: "first message" },
    { to: "backend", text: "second, plain" },
    { to: "backend", text: "third message" },
  ]);
  queues.close();
});

Deno.test("MessageCompression hands a control frame on after the messages queued before it", async () => {
  const { queues, handed } = queuesFor();
  const [message] = await deflateAll(["still inflating"]);
  queues.queueInbound(true, message!, true);
  queues.queueControl(Opcode.PING, ENCODER.encode("p"));
  // Nothing is handed on synchronously: the ping waits behind the message.
  assert.deepEqual(handed, []);
  await queues.inbound;
  assert.deepEqual(handed, [
    { to: "backend", text: "still inflating" },
    { to: "control", opcode: Opcode.PING, text: "p" },
  ]);
  queues.close();
});

Deno.test("MessageCompression copies what it queues: the parser may reuse its buffer at once", async () => {
  const { queues, handed } = queuesFor();
  const scratch = ENCODER.encode("abc");
  queues.queueInbound(false, scratch, false);
  queues.queueControl(Opcode.PONG, scratch);
  queues.queueOutbound(scratch);
  scratch.fill(0x7a);
  await queues.inbound;
  await queues.outbound;
  // The two directions are independent: compare each one's order alone.
  assert.deepEqual(handed.filter((item) => item.to !== "browser"), [
    { to: "backend", text: "abc" },
    { to: "control", opcode: Opcode.PONG, text: "abc" },
  ]);
  assert.deepEqual(handed.filter((item) => item.to === "browser"), [
    { to: "browser", text: "abc", compressed: null },
  ]);
  queues.close();
});

Deno.test("MessageCompression rejects inbound with InvalidMessageError for an inflated text message that is not UTF-8, and hands nothing more on", async () => {
  const { queues, handed } = queuesFor();
  const deflater = new MessageDeflater({ minSize: 0 });
  const bad = (await deflater.compress(new Uint8Array([0xc3, 0x28])))!;
  deflater.close();
  queues.queueInbound(true, bad, true);
  queues.queueControl(Opcode.PING, new Uint8Array(0));
  await assert.rejects(queues.inbound, InvalidMessageError);
  assert.deepEqual(handed, []);
  queues.close();
});

Deno.test("MessageCompression passes an inflated binary message that is not UTF-8 through unchecked", async () => {
  const handed: Uint8Array[] = [];
  const queues = new MessageCompression({
    deflater: new MessageDeflater(),
    inflater: new MessageInflater(),
  }, {
    toBackend: (message) => handed.push(message),
    control: () => {},
    toBrowser: () => {},
  });
  const deflater = new MessageDeflater({ minSize: 0 });
  const bytes = (await deflater.compress(new Uint8Array([0xc3, 0x28])))!;
  deflater.close();
  queues.queueInbound(false, bytes, true);
  await queues.inbound;
  assert.deepEqual(handed, [new Uint8Array([0xc3, 0x28])]);
  queues.close();
});

Deno.test("MessageCompression rejects inbound with FrameTooLargeError when a message inflates past the limit", async () => {
  const { queues, handed } = queuesFor({ maxMessageBytes: 100 });
  const [big] = await deflateAll(["x".repeat(101)]);
  queues.queueInbound(true, big!, true);
  await assert.rejects(queues.inbound, FrameTooLargeError);
  assert.deepEqual(handed, []);
  queues.close();
});

Deno.test("MessageCompression compresses backend messages in order, and hands short ones on uncompressed", async () => {
  const { queues, handed } = queuesFor();
  const long = "a backend message long enough to compress";
  queues.queueOutbound(ENCODER.encode(long));
  queues.queueOutbound(ENCODER.encode("short"));
  await queues.outbound;
  assert.equal(handed.length, 2);
  const [first, second] = handed;
  assert.equal(first?.to, "browser");
  assert.equal(second?.to, "browser");
  if (first?.to !== "browser" || second?.to !== "browser") return;
  assert.equal(first.text, long);
  assert.notEqual(first.compressed, null);
  const inflater = new MessageInflater();
  const restored = await inflater.decompress(first.compressed!);
  inflater.close();
  assert.equal(DECODER.decode(restored), long);
  assert.deepEqual(second, { to: "browser", text: "short", compressed: null });
  queues.close();
});

Deno.test("MessageCompression refuses a text backend message that is not UTF-8 at once, queueing nothing", async () => {
  const { queues, handed } = queuesFor({}, { isTextToBrowser: true });
  assert.throws(
    () => queues.queueOutbound(new Uint8Array([0xff, 0xfe, 0xfd, 0xfc])),
    InvalidMessageError,
  );
  await queues.outbound;
  assert.deepEqual(handed, []);
  queues.close();
});

Deno.test("MessageCompression sends a binary backend message that is not UTF-8 when the browser side is binary", async () => {
  const { queues, handed } = queuesFor();
  queues.queueOutbound(new Uint8Array([0xff]));
  await queues.outbound;
  assert.equal(handed.length, 1);
  queues.close();
});

Deno.test("MessageCompression close fails the messages still inflating or compressing", async () => {
  const { queues, handed } = queuesFor();
  const [message] = await deflateAll(["a browser message"]);
  queues.queueInbound(true, message!, true);
  queues.queueOutbound(ENCODER.encode("a backend message long enough"));
  // One turn of the microtask queue: both queues have started their zlib
  // call, which now waits for zlib's flush.
  await Promise.resolve();
  queues.close();
  await assert.rejects(queues.inbound);
  await assert.rejects(queues.outbound);
  assert.deepEqual(handed, []);
});
