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

Deno.test("LineWriter gathers lines of several event-loop turns into one write within the batch delay", async () => {
  const { written, target } = collectingTarget();
  const firstWrite = Promise.withResolvers<void>();
  const writer = new LineWriter({
    write(bytes) {
      firstWrite.resolve();
      return target.write(bytes);
    },
  }, { batchDelayMs: 50 });
  writer.writeLine("a");
  // A later turn: its timer is due before the batch's.
  await new Promise((resolve) => setTimeout(resolve, 0));
  writer.writeLine("b");
  await firstWrite.promise;
  await writer.flush();
  assertEquals(written, ["a\nb\n"]);
});

Deno.test("LineWriter.flush writes at once without waiting out the batch delay", async () => {
  const { written, target } = collectingTarget();
  const writer = new LineWriter(target, { batchDelayMs: 60_000 });
  writer.writeLine("now");
  await writer.flush();
  assertEquals(written, ["now\n"]);
});
