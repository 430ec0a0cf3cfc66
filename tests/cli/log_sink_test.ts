import { assertEquals } from "../_util/assert.ts";
import { LineWriter } from "../../src/cli/log_sink.ts";

function collectingTarget(maxPerWrite = Infinity) {
  const written: string[] = [];
  const decoder = new TextDecoder();
  return {
    written,
    target: {
      write(bytes: Uint8Array): Promise<number> {
        const count = Math.min(bytes.length, maxPerWrite);
        written.push(decoder.decode(bytes.subarray(0, count)));
        return Promise.resolve(count);
      },
    },
  };
}

Deno.test("LineWriter writes a burst of lines in one write, in order", async () => {
  const { written, target } = collectingTarget();
  const writer = new LineWriter(target);
  for (let i = 0; i < 100; i++) writer.writeLine(`line ${i}`);
  await writer.flush();
  assertEquals(written.length, 1);
  assertEquals(
    written[0],
    Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join(""),
  );
});

Deno.test("LineWriter completes partial writes and keeps later lines after earlier ones", async () => {
  const { written, target } = collectingTarget(3);
  const writer = new LineWriter(target);
  writer.writeLine("first");
  await writer.flush();
  writer.writeLine("second");
  await writer.flush();
  assertEquals(written.join(""), "first\nsecond\n");
});

Deno.test("LineWriter.flush resolves at once when nothing is queued", async () => {
  const { written, target } = collectingTarget();
  await new LineWriter(target).flush();
  assertEquals(written, []);
});
