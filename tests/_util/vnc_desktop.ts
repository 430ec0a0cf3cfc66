/**
 * A real VNC desktop for the noVNC test: Debian's `Xvfb` on a display it
 * picks itself (`-displayfd`), and `x11vnc` serving it on a free
 * 127.0.0.1 port without a password. Both processes are stopped and awaited
 * on close, even when starting fails half way.
 *
 * @module
 */

import { within } from "./assert.ts";

/** Where Debian's `xvfb` and `x11vnc` install their binaries. */
export const XVFB_PATH = "/usr/bin/Xvfb";
/** Debian's `x11vnc`. */
export const X11VNC_PATH = "/usr/bin/x11vnc";
/** Debian's `novnc` web root. */
export const NOVNC_DIR = "/usr/share/novnc";

/**
 * Tells the noVNC test whether to skip: a reason only when a package is
 * missing and `CI` is unset or empty (under CI a missing one fails).
 *
 * @returns The reason to skip, or `undefined` when the test must run.
 *
 * @example Usage
 * ```ts
 * import { vncSkipReason } from "./vnc_desktop.ts";
 * import assert from "node:assert/strict";
 * const reason = vncSkipReason();
 * assert.ok(reason === undefined || reason.includes("apt-get install"));
 * ```
 */
export function vncSkipReason(): string | undefined {
  if ((Deno.env.get("CI") ?? "") !== "") return undefined;
  for (const path of [XVFB_PATH, X11VNC_PATH, `${NOVNC_DIR}/vnc.html`]) {
    try {
      Deno.statSync(path);
    } catch {
      return `"${path}" not found: apt-get install xvfb x11vnc novnc, or set CI=true to fail instead of skip`;
    }
  }
  return undefined;
}

/** A running Xvfb + x11vnc pair. */
export interface VncDesktop extends AsyncDisposable {
  /** The X display number. */
  readonly display: number;
  /** The VNC port on 127.0.0.1. */
  readonly port: number;
  /** Stops both processes and awaits them. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@linkcode startVncDesktop}. */
export interface StartVncDesktopOptions {
  /**
   * Milliseconds allowed for each process to start and to stop.
   * @default {15000}
   */
  timeoutMs?: number;
}

/**
 * Starts Xvfb on a free display and x11vnc on a free 127.0.0.1 port.
 *
 * @param options Time limits.
 * @returns The desktop.
 *
 * @example Usage
 * ```ts
 * import { startVncDesktop, vncSkipReason } from "./vnc_desktop.ts";
 * import assert from "node:assert/strict";
 * if (vncSkipReason() === undefined) {
 *   await using desktop = await startVncDesktop();
 *   assert.ok(desktop.port > 0);
 * }
 * ```
 */
export async function startVncDesktop(
  options: StartVncDesktopOptions = {},
): Promise<VncDesktop> {
  const { timeoutMs = 15000 } = options;
  const processes: LineProcess[] = [];
  const close = async () => {
    // x11vnc first: it would complain about the display going away.
    for (const process of processes.reverse()) await process.stop(timeoutMs);
    processes.length = 0;
  };
  try {
    const xvfb = new LineProcess(XVFB_PATH, [
      "-displayfd",
      "1",
      "-screen",
      "0",
      "1024x768x24",
      "-nolisten",
      "tcp",
    ]);
    processes.push(xvfb);
    const displayLine = await xvfb.nextLine(timeoutMs, "Xvfb's display");
    const display = Number(displayLine.trim());
    if (!Number.isInteger(display)) {
      throw new Error(`Xvfb printed "${displayLine}" instead of a display`);
    }
    const port = freePort();
    const x11vnc = new LineProcess(X11VNC_PATH, [
      "-display",
      `:${display}`,
      "-rfbport",
      String(port),
      "-listen",
      "127.0.0.1",
      "-noipv6",
      "-nopw",
      "-forever",
      "-shared",
      "-desktop",
      "wsgate-test",
    ]);
    processes.push(x11vnc);
    // x11vnc prints PORT=N on stdout once it accepts connections.
    const portLine = await x11vnc.nextLine(timeoutMs, "x11vnc's PORT= line");
    if (portLine.trim() !== `PORT=${port}`) {
      throw new Error(`x11vnc printed "${portLine}" instead of PORT=${port}`);
    }
    return { display, port, close, [Symbol.asyncDispose]: close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A child process whose stdout is read line by line; stderr is dropped. */
class LineProcess {
  #child: Deno.ChildProcess;
  #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  #exited: Promise<Deno.CommandStatus>;
  #isDone = false;

  constructor(path: string, args: string[]) {
    this.#child = new Deno.Command(path, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#exited = this.#child.status;
    this.#reader = this.#child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
  }

  /** The next stdout line, within `timeoutMs`. */
  async nextLine(timeoutMs: number, what: string): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (let reads = 0; reads < 10_000; reads++) {
      const newline = this.#buffer.indexOf("\n");
      if (newline >= 0) {
        const line = this.#buffer.slice(0, newline);
        this.#buffer = this.#buffer.slice(newline + 1);
        return line;
      }
      const { value, done } = await within(
        this.#reader.read(),
        Math.max(1, deadline - Date.now()),
        what,
      );
      if (done) throw new Error(`exited before printing ${what}`);
      this.#buffer += value;
    }
    throw new Error(`too many reads waiting for ${what}`);
  }

  /** SIGTERM, SIGKILL when stuck; awaits the exit and the pipe. */
  async stop(timeoutMs: number): Promise<void> {
    if (this.#isDone) return;
    this.#isDone = true;
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    try {
      await within(this.#exited, timeoutMs, "the process to exit");
    } catch {
      this.#child.kill("SIGKILL");
      await this.#exited;
    }
    await this.#reader.cancel().catch(() => {});
  }
}

/** A port on 127.0.0.1 that was free a moment ago (bound, then released). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}
