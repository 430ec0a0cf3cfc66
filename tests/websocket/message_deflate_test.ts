import assert from "node:assert/strict";
import zlib from "node:zlib";
import { FrameTooLargeError, InvalidMessageError } from "../../src/errors.ts";
import {
  MessageDeflater,
  MessageInflater,
} from "../../src/websocket/message_deflate.ts";

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
