/**
 * The soak's reset backend, run in a child Deno process: a `node:net`
 * server that echoes the first {@linkcode faultAfter} u32be frames of each
 * connection, then resets it with `socket.resetAndDestroy()` (SO_LINGER 0,
 * a real RST). It reports every frame it receives and every end of a
 * connection as JSON lines on standard output; the parent turns them into
 * callbacks.
 *
 * Why a child process: in Deno 2.9.6 a `node:net` server shares the event
 * loop with everything else in its process, and while that loop is busy
 * (the soak's gateway and its 100 clients under CPU pressure) its pending
 * connections were accepted only seconds later, in bursts once the load
 * dropped: the gateway waited for a backend that had not even accepted its
 * connection, and the soak's clients timed out. A backend has a process of
 * its own in production too.
 *
 * @module
 */

import net from "node:net";
import { inspectMessage } from "./checked_messages.ts";
import { u32beFrame } from "./backends.ts";
import { U32beSplitter } from "./u32be_splitter.ts";

/**
 * How many frames a faulty soak backend echoes before its fault, from the
 * stream id its messages carry.
 *
 * @param stream The stream id.
 * @returns A count in 0..4.
 *
 * @example
 * ```ts
 * import { faultAfter } from "./soak_reset_backend.ts";
 * import assert from "node:assert/strict";
 * assert.equal(faultAfter(3), 1);
 * ```
 */
export function faultAfter(stream: number): number {
  return (stream * 7) % 5;
}

/** What the child reports, one JSON object a line. */
type Report =
  | { type: "listening"; port: number }
  | { type: "frame"; connection: number; stream?: number; seq?: number }
  | { type: "closed"; connection: number };

/** Callbacks of {@linkcode startSoakResetBackend}. */
export interface SoakResetBackendOptions {
  /**
   * Each frame a connection received, in order: its stream and sequence
   * number, or undefined when the message is corrupt.
   */
  onFrame(
    connection: number,
    seen: { stream: number; seq: number } | undefined,
  ): void;
  /** A connection ended (after its last `onFrame`). */
  onClosed(connection: number): void;
}

/** The running child; disposing it stops the child and its reports. */
export interface SoakResetBackend extends AsyncDisposable {
  /** `127.0.0.1:PORT`, ready for a route's `target`. */
  readonly target: string;
}

/**
 * Starts the reset backend in a child process and waits until it listens.
 *
 * @example Stream 0 echoes nothing: its first frame is answered with a reset
 * ```ts
 * import { startSoakResetBackend } from "./soak_reset_backend.ts";
 * import { checkedMessage } from "./checked_messages.ts";
 * import { u32beFrame } from "./backends.ts";
 * import assert from "node:assert/strict";
 *
 * const frames: unknown[] = [];
 * const closed = Promise.withResolvers<void>();
 * {
 *   await using backend = await startSoakResetBackend({
 *     onFrame: (_connection, seen) => frames.push(seen),
 *     onClosed: () => closed.resolve(),
 *   });
 *   const port = Number(backend.target.split(":")[1]);
 *   const conn = await Deno.connect({ hostname: "127.0.0.1", port });
 *   await conn.write(u32beFrame(checkedMessage(0, 0, 20)));
 *   await assert.rejects(
 *     conn.read(new Uint8Array(64)),
 *     Deno.errors.ConnectionReset,
 *   );
 *   conn.close();
 *   await closed.promise;
 * }
 * assert.deepEqual(frames, [{ stream: 0, seq: 0 }]);
 * ```
 *
 * @param options Where frames and ends are reported.
 * @returns The backend.
 */
export async function startSoakResetBackend(
  options: SoakResetBackendOptions,
): Promise<SoakResetBackend> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", import.meta.filename ?? ""],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const listening = Promise.withResolvers<number>();
  const reading = (async () => {
    const lines = child.stdout.pipeThrough(new TextDecoderStream())
      .pipeThrough(new LineSplitter());
    for await (const line of lines) {
      const report = JSON.parse(line) as Report;
      if (report.type === "listening") listening.resolve(report.port);
      else if (report.type === "closed") options.onClosed(report.connection);
      else {
        options.onFrame(
          report.connection,
          report.stream === undefined || report.seq === undefined
            ? undefined
            : { stream: report.stream, seq: report.seq },
        );
      }
    }
    listening.reject(new Error("the reset backend exited before listening"));
  })();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await child.status;
    await reading.catch(() => {});
  };
  let port: number;
  try {
    port = await listening.promise;
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    target: `127.0.0.1:${port}`,
    [Symbol.asyncDispose]: stop,
  };
}

/** Splits text into lines (without the newline). */
class LineSplitter extends TransformStream<string, string> {
  constructor() {
    let tail = "";
    super({
      transform(chunk, controller) {
        const lines = (tail + chunk).split("\n");
        tail = lines.pop() ?? "";
        for (const line of lines) if (line !== "") controller.enqueue(line);
      },
      flush(controller) {
        if (tail !== "") controller.enqueue(tail);
      },
    });
  }
}

function report(value: Report): void {
  // deno-lint-ignore no-console -- the child's channel to the parent
  console.log(JSON.stringify(value));
}

/** The child: serve until killed. */
function serve(): void {
  let connections = 0;
  const server = net.createServer((socket) => {
    const connection = ++connections;
    const splitter = new U32beSplitter();
    let received = 0;
    let isFaulted = false;
    socket.on("error", () => {}); // a reset is the point
    socket.on("close", () => report({ type: "closed", connection }));
    socket.on("data", (chunk: Uint8Array) => {
      for (const payload of splitter.push(new Uint8Array(chunk))) {
        const seen = inspectMessage(payload);
        report({ type: "frame", connection, ...seen });
        received++;
        if (isFaulted) continue;
        if (received <= faultAfter(seen?.stream ?? 0)) {
          socket.write(u32beFrame(payload));
        } else {
          isFaulted = true;
          socket.resetAndDestroy();
        }
      }
    });
  });
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as net.AddressInfo;
    report({ type: "listening", port });
  });
}

if (import.meta.main) serve();
