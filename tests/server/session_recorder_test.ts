import { assert, assertEquals, assertStrictEquals } from "../_util/assert.ts";
import { SessionRecorder } from "../../src/server/session_recorder.ts";
import {
  decodeRecording,
  type RecordingHeader,
} from "../../src/observability/recording.ts";

function header(sessionId: string): RecordingHeader {
  return {
    sessionId,
    route: "/vnc",
    client: "192.0.2.7:4000",
    target: "127.0.0.1:5900",
    startedAtMs: 1_700_000_000_000,
  };
}

async function withTempDir(
  body: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("SessionRecorder writes DIR/<sessionId>.wsrec that decodes to the header and every message in order", async () => {
  await withTempDir(async (dir) => {
    const errors: unknown[] = [];
    const before = Date.now();
    const recorder = new SessionRecorder(
      dir,
      header("s-1"),
      (error) => errors.push(error),
    );
    const messages: ["to_backend" | "to_browser", Uint8Array][] = [
      ["to_backend", new TextEncoder().encode("hello")],
      ["to_browser", Uint8Array.of(0, 255, 10, 13)],
      ["to_backend", new Uint8Array(0)],
      ["to_browser", new Uint8Array(70000).map((_, i) => i)],
    ];
    for (const [direction, bytes] of messages) {
      recorder.record(direction, bytes);
    }
    await recorder.close();
    const after = Date.now();
    const recording = decodeRecording(await Deno.readFile(`${dir}/s-1.wsrec`));
    assertEquals(recording.header, header("s-1"));
    assertStrictEquals(recording.truncated, false);
    assertEquals(
      recording.records.map((entry) => [entry.direction, entry.bytes]),
      messages,
    );
    for (const entry of recording.records) {
      assert(
        entry.timeMs >= before && entry.timeMs <= after,
        String(entry.timeMs),
      );
    }
    assertEquals(errors, []);
    assertStrictEquals(recorder.dropped, 0);
  });
});

Deno.test("SessionRecorder.close resolves only once every queued line is on disk", async () => {
  await withTempDir(async (dir) => {
    const recorder = new SessionRecorder(dir, header("s-2"), () => {});
    // Record across several turns so that writes are in flight at close.
    for (let i = 0; i < 50; i++) {
      recorder.record("to_backend", new Uint8Array(1000).fill(i));
      if (i % 10 === 0) await Promise.resolve();
    }
    await recorder.close();
    const recording = decodeRecording(
      await Deno.readTextFile(`${dir}/s-2.wsrec`),
    );
    assertStrictEquals(recording.records.length, 50);
    assertEquals(recording.records[49]!.bytes, new Uint8Array(1000).fill(49));
  });
});

Deno.test("SessionRecorder truncates an existing file of the same session id", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/s-3.wsrec`, "x".repeat(10000));
    const recorder = new SessionRecorder(dir, header("s-3"), () => {});
    recorder.record("to_backend", Uint8Array.of(7));
    await recorder.close();
    const recording = decodeRecording(
      await Deno.readTextFile(`${dir}/s-3.wsrec`),
    );
    assertStrictEquals(recording.records.length, 1);
  });
});

Deno.test("SessionRecorder drops messages beyond 8 MiB queued and counts them", async () => {
  await withTempDir(async (dir) => {
    const recorder = new SessionRecorder(dir, header("s-4"), () => {});
    const mib = 1024 * 1024;
    // Synchronously, so nothing is written meanwhile: base64 makes each
    // line about 1.33 MiB; six lines pass the 8 MiB cap, so the 7th and
    // later are dropped.
    for (let i = 0; i < 10; i++) {
      recorder.record("to_browser", new Uint8Array(mib).fill(i));
    }
    assertStrictEquals(recorder.dropped, 4);
    await recorder.close();
    const recording = decodeRecording(await Deno.readFile(`${dir}/s-4.wsrec`));
    assertEquals(
      recording.records.map((entry) => entry.bytes[0]),
      [0, 1, 2, 3, 4, 5],
    );
  });
});

Deno.test("SessionRecorder reports a file that cannot be opened once and keeps accepting calls", async () => {
  const errors: unknown[] = [];
  const recorder = new SessionRecorder(
    "/nonexistent/wsgate-recordings",
    header("s-5"),
    (error) => errors.push(error),
  );
  recorder.record("to_backend", Uint8Array.of(1));
  await recorder.close();
  recorder.record("to_backend", Uint8Array.of(2));
  await recorder.close();
  assertStrictEquals(errors.length, 1);
  assert(errors[0] instanceof Deno.errors.NotFound, String(errors[0]));
});
