/**
 * Runs `deno run -A mod.ts ...` as a child process for CLI tests: collects
 * stdout and stderr line by line, waits for the `wsgate listening on` line,
 * and on dispose stops the child (SIGTERM, then SIGKILL when stuck), awaits
 * its status and drains both pipes, so nothing leaks.
 *
 * @module
 */

import { within } from "./assert.ts";

/** The repository's `mod.ts`. */
export const MOD_PATH = new URL("../../mod.ts", import.meta.url).pathname;

/** The listening line: `wsgate listening on ws://HOST:PORT ...`. */
export const LISTENING_LINE = /^wsgate listening on ws:\/\/(.+):(\d+)(?: |$)/;

/**
 * The host and port of a listening line: the text form
 * ({@linkcode LISTENING_LINE}) or, with `--log-format json`, a JSON line with
 * `"event": "listening"` and a `url`; `undefined` for any other line.
 */
export function parseListeningLine(
  line: string,
): { hostname: string; port: number } | undefined {
  const text = LISTENING_LINE.exec(line);
  if (text !== null) return { hostname: text[1]!, port: Number(text[2]) };
  if (!line.startsWith("{")) return undefined;
  const record = JSON.parse(line) as { event?: unknown; url?: unknown };
  if (record.event !== "listening" || typeof record.url !== "string") {
    return undefined;
  }
  const url = new URL(record.url);
  return { hostname: url.hostname, port: Number(url.port) };
}

/** The result of a finished run. */
export interface WsgateOutput {
  /** The exit code. */
  code: number;
  /** The signal that ended it, if any. */
  signal: Deno.Signal | null;
  /** Everything written to stdout. */
  stdout: string;
  /** Everything written to stderr. */
  stderr: string;
}

/** Runs `mod.ts` with `args` to completion (for `--help`, bad flags...). */
export async function runWsgate(
  args: readonly string[],
  timeoutMs = 10000,
): Promise<WsgateOutput> {
  const child = spawnWsgate(args);
  try {
    return await within(child.output(), timeoutMs, `wsgate ${args.join(" ")}`);
  } finally {
    await child[Symbol.asyncDispose]();
  }
}

/** Spawns `mod.ts` with `args` (under `wrapper`, e.g. `prlimit ...`, when given; with `permissions`, `-A` by default); the caller awaits or disposes it. */
export function spawnWsgate(
  args: readonly string[],
  wrapper: readonly string[] = [],
  permissions: readonly string[] = ["-A"],
): WsgateProcess {
  return new WsgateProcess(args, wrapper, permissions);
}

/** A running `mod.ts` child process. */
export class WsgateProcess implements AsyncDisposable {
  /** The child process. */
  readonly child: Deno.ChildProcess;
  /** Lines written to stdout so far. */
  readonly stdoutLines: string[] = [];
  /** Lines written to stderr so far. */
  readonly stderrLines: string[] = [];
  #pumps: Promise<void>;
  #waiters: (() => void)[] = [];
  #status: Deno.CommandStatus | undefined;

  /** Spawns the child; prefer {@linkcode spawnWsgate}. */
  constructor(
    args: readonly string[],
    wrapper: readonly string[] = [],
    permissions: readonly string[] = ["-A"],
  ) {
    // A wrapper that execs its command (prlimit) keeps the child's pid.
    const command = [
      ...wrapper,
      Deno.execPath(),
      "run",
      ...permissions,
      MOD_PATH,
    ];
    this.child = new Deno.Command(command[0]!, {
      args: [...command.slice(1), ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.child.status.then((status) => {
      this.#status = status;
      this.#wake();
    });
    this.#pumps = Promise.all([
      this.#pump(this.child.stdout, this.stdoutLines),
      this.#pump(this.child.stderr, this.stderrLines),
    ]).then(() => {});
  }

  /** The exit status once the child has ended. */
  get status(): Promise<Deno.CommandStatus> {
    return this.child.status;
  }

  /** Waits for the listening line; resolves with its host and port. */
  async listening(
    timeoutMs = 10000,
  ): Promise<{ line: string; hostname: string; port: number }> {
    const line = await this.waitForLine(
      "stdout",
      (text) => parseListeningLine(text) !== undefined,
      timeoutMs,
    );
    return { line, ...parseListeningLine(line)! };
  }

  /** Resolves with the first line on `stream` matching `predicate`. */
  async waitForLine(
    stream: "stdout" | "stderr",
    predicate: (line: string) => boolean,
    timeoutMs = 5000,
  ): Promise<string> {
    const lines = stream === "stdout" ? this.stdoutLines : this.stderrLines;
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; attempt < 100_000; attempt++) {
      const found = lines.find(predicate);
      if (found !== undefined) return found;
      const remaining = deadline - Date.now();
      if (this.#status !== undefined || remaining <= 0) {
        // Let the pipes drain so the message shows everything written.
        await within(this.#pumps, 2000, "the pipes to drain").catch(() => {});
        const late = lines.find(predicate);
        if (late !== undefined) return late;
        throw new Error(
          `No matching ${stream} line (exit: ${
            this.#status?.code ?? "running"
          }).\nstdout:\n${this.stdoutLines.join("\n")}\nstderr:\n${
            this.stderrLines.join("\n")
          }`,
        );
      }
      await within(
        new Promise<void>((resolve) => this.#waiters.push(resolve)),
        remaining,
        `a ${stream} line`,
      ).catch(() => {});
    }
    throw new Error("Too many lines");
  }

  /** Sends `signal` and resolves with the exit status. */
  async stop(
    signal: Deno.Signal = "SIGTERM",
    timeoutMs = 5000,
  ): Promise<Deno.CommandStatus> {
    if (this.#status === undefined) this.child.kill(signal);
    const status = await within(this.child.status, timeoutMs, "wsgate to exit");
    await this.#pumps;
    return status;
  }

  /** Waits for the child to end and returns its output. */
  async output(): Promise<WsgateOutput> {
    const status = await this.child.status;
    await this.#pumps;
    return {
      code: status.code,
      signal: status.signal,
      stdout: this.stdoutLines.map((line) => line + "\n").join(""),
      stderr: this.stderrLines.map((line) => line + "\n").join(""),
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#status === undefined) {
      try {
        await this.stop("SIGTERM", 5000);
      } catch {
        if (this.#status === undefined) this.child.kill("SIGKILL");
      }
    }
    await this.child.status;
    await this.#pumps;
  }

  async #pump(
    stream: ReadableStream<Uint8Array>,
    lines: string[],
  ): Promise<void> {
    let partial = "";
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      partial += decoder.decode(chunk, { stream: true });
      const parts = partial.split("\n");
      partial = parts.pop()!;
      if (parts.length > 0) {
        lines.push(...parts);
        this.#wake();
      }
    }
    partial += decoder.decode();
    if (partial !== "") lines.push(partial);
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }
}
