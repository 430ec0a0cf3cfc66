import assert from "node:assert/strict";
import zlib from "node:zlib";
import { FrameTooLargeError, InvalidMessageError } from "../../src/errors.ts";
import {
  MessageDeflater,
  MessageInflater,
} from "../../src/websocket/message_deflate.ts";
import {
  encodeClientFrame,
  frameHeaderLength,
  Opcode,
  RSV1_COMPRESSED,
  writeFrameHeader,
  WsFrameParser,
} from "../../src/websocket/ws_frame_codec.ts";

const HELLO = new TextEncoder().encode("Hello");
// RFC 7692 section 7.2.3.1 and 7.2.3.2.
const HELLO_DEFLATED = new Uint8Array([
  0xf2,
  0x48,
  0xcd,
  0xc9,
  0xc9,
  0x07,
  0x00,
]);
const HELLO_AGAIN_WITH_CONTEXT = new Uint8Array([0xf2, 0x00, 0x11, 0x00, 0x00]);

/** Deflates `totalBytes` of zeros chunk by chunk: a small bomb for a big output. */
function makeBomb(totalBytes: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  const zeros = new Uint8Array(1 << 20);
  // Deflating the whole at once would allocate the output-sized input; the
  // bomb is one full-flushed 1 MiB block repeated.
  const one = zlib.deflateRawSync(zeros, {
    finishFlush: zlib.constants.Z_FULL_FLUSH,
  });
  for (let i = 0; i < totalBytes >> 20; i++) chunks.push(one);
  const length = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

Deno.test("MessageDeflater produces the RFC 7692 examples with and without context takeover", async () => {
  const kept = new MessageDeflater({ minSize: 0 });
  assert.deepEqual(await kept.compress(HELLO), HELLO_DEFLATED);
  assert.deepEqual(await kept.compress(HELLO), HELLO_AGAIN_WITH_CONTEXT);
  kept.close();
  const fresh = new MessageDeflater({ minSize: 0, noContextTakeover: true });
  assert.deepEqual(await fresh.compress(HELLO), HELLO_DEFLATED);
  assert.deepEqual(await fresh.compress(HELLO), HELLO_DEFLATED);
  fresh.close();
});

Deno.test("MessageDeflater leaves a message below minSize uncompressed", async () => {
  const deflater = new MessageDeflater({ minSize: 6 });
  assert.equal(await deflater.compress(HELLO), null);
  assert.notEqual(await deflater.compress(new Uint8Array(6)), null);
  deflater.close();
});

Deno.test("MessageInflater restores the RFC 7692 examples with and without context takeover", async () => {
  const kept = new MessageInflater();
  assert.deepEqual(await kept.decompress(HELLO_DEFLATED), HELLO);
  assert.deepEqual(await kept.decompress(HELLO_AGAIN_WITH_CONTEXT), HELLO);
  kept.close();
  const fresh = new MessageInflater({ noContextTakeover: true });
  assert.deepEqual(await fresh.decompress(HELLO_DEFLATED), HELLO);
  assert.deepEqual(await fresh.decompress(HELLO_DEFLATED), HELLO);
  // Without the peer's context the back-reference cannot be resolved.
  await assert.rejects(
    fresh.decompress(HELLO_AGAIN_WITH_CONTEXT),
    InvalidMessageError,
  );
  fresh.close();
});

Deno.test("MessageDeflater and MessageInflater round-trip many messages in both modes", async (t) => {
  for (const noContextTakeover of [false, true]) {
    for (const windowBits of [8, 10, 15]) {
      await t.step(
        `noContextTakeover=${noContextTakeover} windowBits=${windowBits}`,
        async () => {
          const deflater = new MessageDeflater({
            noContextTakeover,
            windowBits,
            minSize: 0,
          });
          const inflater = new MessageInflater({
            noContextTakeover,
            windowBits,
          });
          for (let i = 0; i < 50; i++) {
            const text = `SET key:${i} ${"value".repeat(i)}\r\n`;
            const message = new TextEncoder().encode(text);
            const compressed = await deflater.compress(message);
            assert.ok(compressed !== null);
            assert.deepEqual(await inflater.decompress(compressed), message);
          }
          // Empty message: RFC 7692 section 7.2.3.6.
          const empty = await deflater.compress(new Uint8Array(0));
          assert.deepEqual(
            await inflater.decompress(empty!),
            new Uint8Array(0),
          );
          deflater.close();
          inflater.close();
        },
      );
    }
  }
});

Deno.test("MessageInflater decodes a message split over several deflate blocks (fragments joined)", async () => {
  // A compressed message sent as fragments is one deflate stream cut at any
  // byte; the parser joins the fragments before inflating.
  const inflater = new MessageInflater();
  const joined = new Uint8Array([
    ...HELLO_DEFLATED.subarray(0, 3),
    ...HELLO_DEFLATED.subarray(3),
  ]);
  assert.deepEqual(await inflater.decompress(joined), HELLO);
  inflater.close();
});

Deno.test("MessageInflater stops a deflate bomb at maxMessageBytes without inflating the rest", async (t) => {
  const bomb = makeBomb(256 << 20); // 256 MiB of zeros in about 256 KiB
  assert.ok(bomb.length < 512 * 1024);
  for (const noContextTakeover of [false, true]) {
    await t.step(`noContextTakeover=${noContextTakeover}`, async () => {
      const inflater = new MessageInflater({
        noContextTakeover,
        maxMessageBytes: 65536,
      });
      const before = Deno.memoryUsage().rss;
      const error = await inflater.decompress(bomb).then(
        () => assert.fail("bomb inflated"),
        (e: unknown) => e,
      );
      const grownBytes = Deno.memoryUsage().rss - before;
      assert.ok(error instanceof FrameTooLargeError);
      assert.equal(error.limit, 65536);
      // Output stops within one 16 KiB chunk past the limit.
      assert.ok(error.size <= 65536 + 16384, `size ${error.size}`);
      assert.ok(grownBytes < 32 << 20, `rss grew ${grownBytes} bytes`);
      // Unusable afterwards: the session closes with 1009.
      await assert.rejects(
        inflater.decompress(HELLO_DEFLATED),
        FrameTooLargeError,
      );
      inflater.close();
    });
  }
});

Deno.test("MessageInflater rejects a corrupt stream with InvalidMessageError", async (t) => {
  // 0xff: block type 3 is reserved, invalid in any deflate stream.
  const corrupt = new Uint8Array([0xff, 0xff, 0xff, 0xff]);
  for (const noContextTakeover of [false, true]) {
    await t.step(`noContextTakeover=${noContextTakeover}`, async () => {
      const inflater = new MessageInflater({ noContextTakeover });
      await assert.rejects(inflater.decompress(corrupt), InvalidMessageError);
      inflater.close();
    });
  }
});

// Conformance in the spirit of Autobahn 12.x (payload sizes and fragment
// sizes) and 13.x (window bits and context takeover combinations), at the
// unit level: a client-side deflater, frames cut into fragments with pings
// between them, the server's parser and inflater.

interface Received {
  messages: Uint8Array[];
  pings: number;
}

async function sendThrough(
  messages: Uint8Array[],
  mode: {
    noContextTakeover: boolean;
    windowBits: number;
    fragmentBytes: number;
  },
): Promise<Received> {
  const client = new MessageDeflater({
    noContextTakeover: mode.noContextTakeover,
    windowBits: mode.windowBits,
    minSize: 0,
  });
  const server = new MessageInflater({
    noContextTakeover: mode.noContextTakeover,
    windowBits: mode.windowBits,
  });
  const pending: { payload: Uint8Array; isCompressed: boolean }[] = [];
  let pings = 0;
  const parser = new WsFrameParser({
    onMessage: (_isText, payload, isCompressed) =>
      pending.push({ payload: payload.slice(), isCompressed }),
    onControl: (opcode) => {
      if (opcode === Opcode.PING) pings++;
    },
  }, { isCompressionNegotiated: true });
  const received: Uint8Array[] = [];
  for (const message of messages) {
    const compressed = (await client.compress(message))!;
    const size = Math.max(1, mode.fragmentBytes);
    const count = Math.max(1, Math.ceil(compressed.length / size));
    for (let i = 0; i < count; i++) {
      const part = compressed.subarray(i * size, (i + 1) * size);
      parser.push(
        encodeClientFrame(i === 0 ? Opcode.BINARY : Opcode.CONTINUATION, part, {
          fin: i === count - 1,
          rsv: i === 0 ? 4 : 0,
        }),
      );
      if (i === 0) {
        parser.push(encodeClientFrame(Opcode.PING, new Uint8Array(0)));
      }
    }
    // The pump awaits each inflate before handling the next message, in order.
    for (const got of pending.splice(0)) {
      assert.equal(got.isCompressed, true);
      received.push(await server.decompress(got.payload));
    }
  }
  client.close();
  server.close();
  return { messages: received, pings };
}

Deno.test("compressed messages survive fragmentation and interleaved pings for every size, window and context mode", async (t) => {
  const messages: Uint8Array[] = [];
  for (const size of [0, 1, 16, 64, 256, 1024, 4096, 65536, 131072]) {
    const bytes = new Uint8Array(size);
    // Half text-like (compressible), half a cheap hash (barely compressible).
    for (let i = 0; i < size; i++) {
      bytes[i] = i < size / 2 ? 0x61 + (i % 7) : (i * 2654435761) >>> 24;
    }
    messages.push(bytes);
  }
  for (const noContextTakeover of [false, true]) {
    for (const windowBits of [9, 12, 15]) {
      for (const fragmentBytes of [1, 64, 65536]) {
        await t.step(
          `noContextTakeover=${noContextTakeover} windowBits=${windowBits} fragmentBytes=${fragmentBytes}`,
          async () => {
            const got = await sendThrough(messages, {
              noContextTakeover,
              windowBits,
              fragmentBytes,
            });
            assert.equal(got.messages.length, messages.length);
            for (let i = 0; i < messages.length; i++) {
              assert.deepEqual(got.messages[i], messages[i]);
            }
            assert.equal(got.pings, messages.length);
          },
        );
      }
    }
  }
});

Deno.test("a server frame built with RSV1_COMPRESSED parses and inflates back to the message", async () => {
  const deflater = new MessageDeflater({ minSize: 0 });
  const inflater = new MessageInflater();
  const parsed: Uint8Array[] = [];
  const parser = new WsFrameParser({
    onMessage: (_isText, payload, isCompressed) => {
      assert.equal(isCompressed, true);
      parsed.push(payload.slice());
    },
    onControl: () => {},
  }, { expectMasked: false, isCompressionNegotiated: true });
  for (const text of ["Hello", "Hello", "Hello, world"]) {
    const payload = (await deflater.compress(new TextEncoder().encode(text)))!;
    const frame = new Uint8Array(
      frameHeaderLength(payload.length) + payload.length,
    );
    const at = writeFrameHeader(
      frame,
      0,
      Opcode.TEXT | RSV1_COMPRESSED,
      payload.length,
    );
    frame.set(payload, at);
    parser.push(frame);
    assert.equal(
      new TextDecoder().decode(await inflater.decompress(parsed.pop()!)),
      text,
    );
  }
  deflater.close();
  inflater.close();
});

// Regression: after a block with BFINAL set zlib ended the kept stream and
// silently dropped every later byte, so the next message came out empty.
Deno.test("MessageInflater with context takeover inflates the message after one ending with BFINAL", async () => {
  const inflater = new MessageInflater();
  const text = new TextDecoder();
  // RFC 7692 section 7.2.3.4: "Hello" in a final block, then one 0x00.
  const final = new Uint8Array([
    0xf3,
    0x48,
    0xcd,
    0xc9,
    0xc9,
    0x07,
    0x00,
    0x00,
  ]);
  const hello = new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
  assert.equal(text.decode(await inflater.decompress(final)), "Hello");
  assert.equal(text.decode(await inflater.decompress(hello)), "Hello");
  assert.equal(text.decode(await inflater.decompress(hello)), "Hello");
  inflater.close();
});

Deno.test("MessageInflater and MessageDeflater reject a call still pending when closed", async () => {
  const inflater = new MessageInflater();
  const inflating = inflater.decompress(
    new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
  );
  inflater.close();
  await assert.rejects(inflating, /closed/);
  const deflater = new MessageDeflater({ minSize: 0 });
  const deflating = deflater.compress(new Uint8Array(100));
  deflater.close();
  await assert.rejects(deflating, /closed/);
});
