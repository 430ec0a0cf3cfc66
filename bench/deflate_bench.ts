/**
 * permessage-deflate cost per message for a Redis-like text workload:
 * node:zlib with a kept context (persistent stream, async flush), node:zlib
 * one-shot (no context takeover, sync), and CompressionStream("deflate-raw")
 * both kept (Deno flushes each write with a sync flush) and one per message.
 * Run: `deno bench -A bench/deflate_bench.ts`; bytes on the wire are printed
 * once at start.
 */
import {
  MessageDeflater,
  MessageInflater,
} from "../src/websocket/message_deflate.ts";

const ENCODER = new TextEncoder();
const MESSAGES: Uint8Array<ArrayBuffer>[] = Array.from(
  { length: 256 },
  (_, i) =>
    ENCODER.encode(
      `*3\r\n$3\r\nSET\r\n$${
        String(`user:${i}:profile`).length
      }\r\nuser:${i}:profile\r\n$64\r\n{"name":"user${i}","plan":"free","visits":${
        i * 7
      },"active":true}\r\n`,
    ),
);

async function compressWithStream(
  payload: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array> {
  const stream = new CompressionStream("deflate-raw");
  const writer = stream.writable.getWriter();
  void writer.write(payload);
  void writer.close();
  return new Uint8Array(await new Response(stream.readable).arrayBuffer());
}

async function wireBytes(): Promise<void> {
  const kept = new MessageDeflater({ minSize: 0 });
  const fresh = new MessageDeflater({ minSize: 0, noContextTakeover: true });
  let plain = 0;
  let keptBytes = 0;
  let freshBytes = 0;
  let streamBytes = 0;
  for (const m of MESSAGES) {
    plain += m.length;
    keptBytes += (await kept.compress(m))!.length;
    freshBytes += (await fresh.compress(m))!.length;
    streamBytes += (await compressWithStream(m)).length;
  }
  kept.close();
  fresh.close();
  // deno-lint-ignore no-console -- a bench reports its own side numbers
  console.log(
    `payload bytes for ${MESSAGES.length} messages: plain ${plain}, context kept ${keptBytes}, no context ${freshBytes}, CompressionStream (final block) ${streamBytes}`,
  );
}
await wireBytes();

let index = 0;
function next(): Uint8Array<ArrayBuffer> {
  index = (index + 1) % MESSAGES.length;
  return MESSAGES[index]!;
}

const kept = new MessageDeflater({ minSize: 0 });
const fresh = new MessageDeflater({ minSize: 0, noContextTakeover: true });

Deno.bench(
  "copy (no compression)",
  { group: "compress", baseline: true },
  () => {
    next().slice();
  },
);
Deno.bench(
  "node:zlib context kept (stream, sync flush)",
  { group: "compress" },
  async () => {
    await kept.compress(next());
  },
);
Deno.bench(
  "node:zlib no context (deflateRawSync)",
  { group: "compress" },
  async () => {
    await fresh.compress(next());
  },
);
const keptStream = new CompressionStream("deflate-raw");
const keptWriter = keptStream.writable.getWriter();
const keptReader = keptStream.readable.getReader();
Deno.bench(
  "CompressionStream deflate-raw kept (one read per write)",
  { group: "compress" },
  async () => {
    void keptWriter.write(next());
    await keptReader.read();
  },
);
Deno.bench("CompressionStream deflate-raw (stream per message)", {
  group: "compress",
}, async () => {
  await compressWithStream(next());
});

const keptSource = new MessageDeflater({ minSize: 0 });
const keptCompressed: Uint8Array[] = [];
for (const m of MESSAGES) keptCompressed.push((await keptSource.compress(m))!);
keptSource.close();
const freshCompressed: Uint8Array[] = [];
for (const m of MESSAGES) freshCompressed.push((await fresh.compress(m))!);

// A kept context needs the messages in order from a fresh inflater, so each
// iteration inflates all 256 messages.
Deno.bench(
  "node:zlib inflate 256 messages, context kept (stream)",
  { group: "decompress", baseline: true },
  async (b) => {
    const inflater = new MessageInflater();
    b.start();
    for (const m of keptCompressed) await inflater.decompress(m);
    b.end();
    inflater.close();
  },
);
Deno.bench(
  "node:zlib inflate 256 messages, no context (inflateRawSync)",
  { group: "decompress" },
  async (b) => {
    const inflater = new MessageInflater({ noContextTakeover: true });
    b.start();
    for (const m of freshCompressed) await inflater.decompress(m);
    b.end();
    inflater.close();
  },
);
