/**
 * A small driver for headless Chromium over the Chrome DevTools Protocol
 * (CDP), for wsgate's real-browser tests. It spawns Chromium with a fresh
 * profile, talks CDP over one WebSocket with flattened sessions (one session
 * per page), bounds every call with a timeout, and on close stops the
 * process, awaits it and removes the profile, so test sanitizers stay quiet.
 *
 * @module
 */

/** Where Debian's `chromium` package installs its launcher. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/**
 * Flags every launch passes. The network ones keep Chromium from dialling
 * out, which this project's closed network refuses.
 */
const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
  "--remote-debugging-port=0",
];

const DEVTOOLS_LINE = /DevTools listening on (ws:\/\/\S+)/;
const STDERR_TAIL_LINES = 20;
const REMOVE_ATTEMPTS = 5;

/** Options of {@linkcode chromiumSkipReason}. */
export interface ChromiumSkipReasonOptions {
  /**
   * The Chromium executable to look for.
   * @default {"/usr/bin/chromium"}
   */
  executablePath?: string;
}

/**
 * Tells a real-browser test whether to skip: it returns a reason only when
 * Chromium is missing and the environment variable `CI` is unset or empty.
 * Under CI the test runs, so a missing browser fails it instead of hiding.
 *
 * @param options Where to look for Chromium.
 * @returns The reason to skip, or `undefined` when the test must run.
 *
 * @example Usage
 * ```ts
 * import { chromiumSkipReason } from "./chromium.ts";
 * import assert from "node:assert/strict";
 * const reason = chromiumSkipReason({ executablePath: "/nonexistent" });
 * assert.equal(typeof reason, Deno.env.get("CI") ? "undefined" : "string");
 * ```
 */
export function chromiumSkipReason(
  options: ChromiumSkipReasonOptions = {},
): string | undefined {
  const { executablePath = CHROMIUM_PATH } = options;
  if ((Deno.env.get("CI") ?? "") !== "") return undefined;
  try {
    Deno.statSync(executablePath);
    return undefined;
  } catch {
    return `"${executablePath}" not found: apt-get install chromium, or set CI=true to fail instead of skip`;
  }
}

/** Options of {@linkcode launchChromium}. */
export interface LaunchChromiumOptions {
  /**
   * The Chromium executable (Debian's launcher script execs the browser, so
   * the spawned process is the browser itself).
   * @default {"/usr/bin/chromium"}
   */
  executablePath?: string;
  /**
   * Milliseconds allowed for the launch, for each CDP call, for each page
   * load and for each step of closing.
   * @default {10000}
   */
  timeoutMs?: number;
  /**
   * Extra command-line flags, appended after the fixed ones.
   * @default {[]}
   */
  args?: readonly string[];
}

/**
 * A running headless Chromium, made by {@linkcode launchChromium}.
 *
 * @example Usage
 * ```ts
 * import { chromiumSkipReason, launchChromium } from "./chromium.ts";
 * import assert from "node:assert/strict";
 * if (chromiumSkipReason() === undefined) {
 *   const browser = await launchChromium({ timeoutMs: 5000 });
 *   await browser.close();
 *   await browser.close();
 *   await assert.rejects(browser.newPage("about:blank"));
 * }
 * ```
 */
export interface ChromiumBrowser extends AsyncDisposable {
  /** The process id of the browser. */
  readonly pid: number;
  /** The temporary user data directory, removed by `close()`. */
  readonly profileDir: string;
  /**
   * The last lines Chromium wrote to stderr, for failure messages.
   * @returns Up to 20 lines joined with newlines.
   */
  stderrTail(): string;
  /**
   * Opens a new tab, attaches a flattened CDP session and loads `url`.
   * @param url The page to load.
   * @returns The page, once its load event fired.
   */
  newPage(url: string): Promise<ChromiumPage>;
  /**
   * Closes the browser, awaits the process, drains its stderr and removes
   * the profile. Idempotent; each step is bounded by the timeout and a stuck
   * browser is killed. `[Symbol.asyncDispose]` does the same.
   * @returns A promise that resolves once everything is released.
   */
  close(): Promise<void>;
}

/**
 * One tab of a {@linkcode ChromiumBrowser}, made by `newPage()`.
 *
 * @example Usage
 * ```ts
 * import { chromiumSkipReason, launchChromium } from "./chromium.ts";
 * import assert from "node:assert/strict";
 * if (chromiumSkipReason() === undefined) {
 *   await using browser = await launchChromium();
 *   await using page = await browser.newPage("about:blank");
 *   await page.evaluate("setTimeout(() => { globalThis.ready = 1; }, 10)");
 *   await page.waitFor("globalThis.ready === 1", { timeoutMs: 2000 });
 *   await assert.rejects(page.evaluate("null.x"), /TypeError/);
 * }
 * ```
 */
export interface ChromiumPage extends AsyncDisposable {
  /**
   * Navigates to `url` and waits for its load event.
   * @param url The page to load.
   * @returns A promise that resolves once the load event fired.
   */
  goto(url: string): Promise<void>;
  /**
   * Evaluates a JavaScript expression in the page (`Runtime.evaluate`),
   * awaits it if it is a promise and returns its value as JSON, so convert
   * functions, DOM nodes and `ArrayBuffer`s in the expression. Rejects with
   * the exception text when the page throws.
   * @param expression The expression source.
   * @param options The timeout.
   * @returns The value, typed by the caller.
   */
  evaluate<T>(expression: string, options?: EvaluateOptions): Promise<T>;
  /**
   * Evaluates `expression` until it is truthy (awaiting promises), with a
   * bounded number of attempts; rejects when the time is up.
   * @param expression The condition's source.
   * @param options Timeout and polling interval.
   * @returns A promise that resolves once the condition held.
   */
  waitFor(expression: string, options?: WaitForOptions): Promise<void>;
  /**
   * Captures the visible part of the page as a PNG file.
   * @param path Where to write the PNG.
   * @returns A promise that resolves once the file is written.
   */
  screenshot(path: string | URL): Promise<void>;
  /**
   * Closes the tab. Idempotent; a no-op once the browser is closed.
   * `[Symbol.asyncDispose]` does the same.
   * @returns A promise that resolves once the tab is closed.
   */
  close(): Promise<void>;
}

/** Options of {@linkcode ChromiumPage.evaluate}. */
export interface EvaluateOptions {
  /**
   * Milliseconds allowed for the expression, including an awaited promise.
   * @default {the browser's timeoutMs}
   */
  timeoutMs?: number;
}

/** Options of {@linkcode ChromiumPage.waitFor}. */
export interface WaitForOptions {
  /**
   * Milliseconds to wait for the expression to become truthy.
   * @default {5000}
   */
  timeoutMs?: number;
  /**
   * Milliseconds between two evaluations.
   * @default {25}
   */
  intervalMs?: number;
}

type Json = Record<string, unknown>;

interface PendingCall {
  method: string;
  resolve: (result: Json) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface EventWaiter {
  sessionId: string | undefined;
  method: string;
  resolve: (params: Json) => void;
  reject: (error: Error) => void;
}

function isJson(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Settles with `promise`, or rejects with `message` after `timeoutMs`. */
async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  message: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves `true` if `promise` settles within `timeoutMs`, else `false`. */
function settlesWithin(
  promise: Promise<unknown>,
  timeoutMs: number,
): Promise<boolean> {
  return withTimeout(
    promise.then(() => true, () => true),
    timeoutMs,
    "timeout",
  ).catch(() => false);
}

/** One CDP WebSocket: numbered calls, replies, and awaited events. */
class CdpConnection {
  #socket: WebSocket;
  #closed: Promise<void>;
  #nextId = 1;
  #pending = new Map<number, PendingCall>();
  #waiters = new Set<EventWaiter>();

  constructor(socket: WebSocket, closed: Promise<void>) {
    this.#socket = socket;
    this.#closed = closed;
    socket.onmessage = (event) => this.#receive(event.data);
  }

  static async open(url: string, timeoutMs: number): Promise<CdpConnection> {
    const socket = new WebSocket(url);
    const opened = Promise.withResolvers<void>();
    const closed = Promise.withResolvers<void>();
    socket.onopen = () => opened.resolve();
    socket.onerror = () => opened.reject(new Error(`WebSocket error`));
    // The close event is the one moment Deno frees the socket resource.
    socket.onclose = () => {
      opened.reject(new Error("WebSocket closed"));
      closed.resolve();
    };
    try {
      await withTimeout(opened.promise, timeoutMs, "no open event");
    } catch (cause) {
      socket.close();
      await settlesWithin(closed.promise, timeoutMs);
      throw new Error(`Cannot connect to the DevTools WebSocket "${url}"`, {
        cause,
      });
    }
    const connection = new CdpConnection(socket, closed.promise);
    closed.promise.then(() => connection.#failAll("the socket closed"));
    return connection;
  }

  get isOpen(): boolean {
    return this.#socket.readyState === WebSocket.OPEN;
  }

  send(
    method: string,
    params: Json,
    sessionId: string | undefined,
    timeoutMs: number,
  ): Promise<Json> {
    if (!this.isOpen) {
      return Promise.reject(
        new Error(`Cannot call CDP "${method}" as the connection is closed`),
      );
    }
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<Json>();
    const timer = setTimeout(() => {
      this.#pending.delete(id);
      reject(
        new Error(
          `Cannot finish CDP call "${method}" as no reply came within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    this.#pending.set(id, { method, resolve, reject, timer });
    const message = sessionId === undefined
      ? { id, method, params }
      : { id, method, params, sessionId };
    this.#socket.send(JSON.stringify(message));
    return promise;
  }

  /**
   * Registers for the next `method` event of a session before the call that
   * triggers it, so the event cannot slip past. Always call `cancel()`.
   */
  waitForEvent(
    method: string,
    sessionId: string | undefined,
    timeoutMs: number,
  ): { promise: Promise<Json>; cancel: () => void } {
    const { promise, resolve, reject } = Promise.withResolvers<Json>();
    // Marks the promise handled: a caller that cancels never awaits it.
    promise.catch(() => {});
    const waiter: EventWaiter = { sessionId, method, resolve, reject };
    const cancel = (): void => {
      clearTimeout(timer);
      this.#waiters.delete(waiter);
    };
    const timer = setTimeout(() => {
      cancel();
      reject(
        new Error(
          `Cannot finish waiting for CDP event "${method}" as it did not come within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    waiter.resolve = (params) => {
      cancel();
      resolve(params);
    };
    waiter.reject = (error) => {
      cancel();
      reject(error);
    };
    this.#waiters.add(waiter);
    return { promise, cancel };
  }

  /** Closes the socket and awaits its close event, within `timeoutMs`. */
  async close(timeoutMs: number): Promise<void> {
    if (this.#socket.readyState !== WebSocket.CLOSED) this.#socket.close();
    if (!await settlesWithin(this.#closed, timeoutMs)) {
      throw new Error(
        `Cannot close the DevTools WebSocket as no close event came within ${timeoutMs} ms`,
      );
    }
  }

  #receive(data: unknown): void {
    if (typeof data !== "string") return;
    const message: unknown = JSON.parse(data);
    if (!isJson(message)) return;
    if (typeof message.id === "number") {
      const call = this.#pending.get(message.id);
      if (call === undefined) return;
      this.#pending.delete(message.id);
      clearTimeout(call.timer);
      if (isJson(message.error)) {
        call.reject(
          new Error(
            `Cannot finish CDP call "${call.method}": ${
              String(message.error.message)
            }`,
          ),
        );
      } else call.resolve(isJson(message.result) ? message.result : {});
      return;
    }
    for (const waiter of this.#waiters) {
      if (
        waiter.method === message.method &&
        waiter.sessionId === message.sessionId
      ) {
        this.#waiters.delete(waiter);
        waiter.resolve(isJson(message.params) ? message.params : {});
      }
    }
  }

  #failAll(why: string): void {
    for (const [id, call] of this.#pending) {
      clearTimeout(call.timer);
      call.reject(new Error(`Cannot finish CDP call "${call.method}": ${why}`));
      this.#pending.delete(id);
    }
    for (const waiter of this.#waiters) {
      waiter.reject(
        new Error(`Cannot wait for CDP event "${waiter.method}": ${why}`),
      );
    }
    this.#waiters.clear();
  }
}

/**
 * Reads Chromium's stderr to its end (a full pipe would stall the browser),
 * keeps the last lines for error messages and finds the DevTools URL.
 */
class StderrLog {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #tail: string[] = [];
  #url = Promise.withResolvers<string>();
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
    this.#url.promise.catch(() => {});
    this.done = this.#pump();
  }

  get devtoolsUrl(): Promise<string> {
    return this.#url.promise;
  }

  tail(): string {
    return this.#tail.join("\n");
  }

  async cancel(): Promise<void> {
    try {
      await this.#reader.cancel();
    } catch {
      // The pump already released the reader.
    }
  }

  async #pump(): Promise<void> {
    const decoder = new TextDecoder();
    let partial = "";
    try {
      // Bounded by the stream: it ends when the last holder of the pipe exits.
      while (true) {
        const { done, value } = await this.#reader.read();
        if (done) break;
        const lines = (partial + decoder.decode(value, { stream: true }))
          .split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) this.#line(line);
      }
      if (partial !== "") this.#line(partial);
    } catch {
      // A cancelled or broken pipe only ends the log.
    } finally {
      this.#reader.releaseLock();
      this.#url.reject(new Error("stderr ended"));
    }
  }

  #line(line: string): void {
    this.#tail.push(line);
    if (this.#tail.length > STDERR_TAIL_LINES) this.#tail.shift();
    const match = DEVTOOLS_LINE.exec(line);
    if (match?.[1] !== undefined) this.#url.resolve(match[1]);
  }
}

/** Stops the process, drains stderr and removes the profile, each bounded. */
async function stopChromium(
  child: Deno.ChildProcess,
  log: StderrLog,
  profileDir: string,
  timeoutMs: number,
): Promise<void> {
  if (!await settlesWithin(child.status, timeoutMs)) {
    try {
      child.kill("SIGKILL");
    } catch {
      // It exited between the check and the kill.
    }
    await child.status;
  }
  // Helper processes inherit stderr and may outlive the browser briefly.
  if (!await settlesWithin(log.done, timeoutMs)) {
    await log.cancel();
    await log.done;
  }
  for (let attempt = 1; attempt <= REMOVE_ATTEMPTS; attempt++) {
    try {
      await Deno.remove(profileDir, { recursive: true });
      return;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      // A helper may still be writing into the profile: retry a few times.
      if (attempt === REMOVE_ATTEMPTS) throw error;
    }
  }
}

/**
 * Starts headless Chromium with a fresh temporary profile and connects to it
 * over CDP. Close the result (or use `await using`) to stop the process and
 * remove the profile.
 *
 * @param options Executable, timeout and extra flags.
 * @returns The connected browser.
 *
 * @example Usage
 * ```ts
 * import { chromiumSkipReason, launchChromium } from "./chromium.ts";
 * import assert from "node:assert/strict";
 * if (chromiumSkipReason() === undefined) {
 *   await using browser = await launchChromium();
 *   const page = await browser.newPage("data:text/html,<p>hello</p>");
 *   assert.equal(await page.evaluate("document.body.textContent"), "hello");
 * }
 * ```
 */
export async function launchChromium(
  options: LaunchChromiumOptions = {},
): Promise<ChromiumBrowser> {
  const { executablePath = CHROMIUM_PATH, timeoutMs = 10_000, args = [] } =
    options;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(
      `Cannot launch Chromium as timeoutMs must be > 0: current value is ${timeoutMs}`,
    );
  }
  const profileDir = await Deno.makeTempDir({ prefix: "wsgate_chromium_" });
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(executablePath, {
      args: [
        ...CHROMIUM_FLAGS,
        `--user-data-dir=${profileDir}`,
        ...args,
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (cause) {
    await Deno.remove(profileDir, { recursive: true });
    throw new Error(`Cannot start Chromium "${executablePath}"`, { cause });
  }
  const log = new StderrLog(child.stderr);
  try {
    const url = await withTimeout(
      // stderr ends when the browser exits: report its exit code.
      log.devtoolsUrl.catch(async () => {
        const { code } = await child.status;
        throw new Error(`it exited with code ${code} before listening`);
      }),
      timeoutMs,
      `no DevTools URL within ${timeoutMs} ms`,
    );
    const connection = await CdpConnection.open(url, timeoutMs);
    return new CdpBrowser(connection, child, log, profileDir, timeoutMs);
  } catch (cause) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await stopChromium(child, log, profileDir, timeoutMs);
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new Error(
      [`Cannot launch Chromium "${executablePath}": ${reason}`, log.tail()]
        .filter((part) => part !== "").join("\n"),
      { cause },
    );
  }
}

/** The browser behind {@linkcode ChromiumBrowser}. */
class CdpBrowser implements ChromiumBrowser {
  #connection: CdpConnection;
  #child: Deno.ChildProcess;
  #log: StderrLog;
  #profileDir: string;
  #timeoutMs: number;
  #closing: Promise<void> | undefined;

  constructor(
    connection: CdpConnection,
    child: Deno.ChildProcess,
    log: StderrLog,
    profileDir: string,
    timeoutMs: number,
  ) {
    this.#connection = connection;
    this.#child = child;
    this.#log = log;
    this.#profileDir = profileDir;
    this.#timeoutMs = timeoutMs;
  }

  get pid(): number {
    return this.#child.pid;
  }

  get profileDir(): string {
    return this.#profileDir;
  }

  stderrTail(): string {
    return this.#log.tail();
  }

  async newPage(url: string): Promise<ChromiumPage> {
    if (this.#closing !== undefined) {
      throw new Error(`Cannot open page "${url}" as the browser is closed`);
    }
    const timeoutMs = this.#timeoutMs;
    const { targetId } = await this.#connection.send(
      "Target.createTarget",
      { url: "about:blank" },
      undefined,
      timeoutMs,
    );
    const { sessionId } = await this.#connection.send(
      "Target.attachToTarget",
      { targetId, flatten: true },
      undefined,
      timeoutMs,
    );
    if (typeof targetId !== "string" || typeof sessionId !== "string") {
      throw new Error(`Cannot open page "${url}": no target or session id`);
    }
    const page = new CdpPage(
      this.#connection,
      targetId,
      sessionId,
      timeoutMs,
    );
    try {
      await this.#connection.send("Page.enable", {}, sessionId, timeoutMs);
      await page.goto(url);
    } catch (error) {
      await page.close().catch(() => {});
      throw error;
    }
    return page;
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #shutdown(): Promise<void> {
    // Browser.close may drop the socket before its reply arrives.
    await this.#connection
      .send("Browser.close", {}, undefined, this.#timeoutMs)
      .catch(() => {});
    try {
      await this.#connection.close(this.#timeoutMs);
    } finally {
      await stopChromium(
        this.#child,
        this.#log,
        this.#profileDir,
        this.#timeoutMs,
      );
    }
  }
}

/** The tab behind {@linkcode ChromiumPage}. */
class CdpPage implements ChromiumPage {
  #connection: CdpConnection;
  #targetId: string;
  #sessionId: string;
  #timeoutMs: number;
  #isClosed = false;

  constructor(
    connection: CdpConnection,
    targetId: string,
    sessionId: string,
    timeoutMs: number,
  ) {
    this.#connection = connection;
    this.#targetId = targetId;
    this.#sessionId = sessionId;
    this.#timeoutMs = timeoutMs;
  }

  async goto(url: string): Promise<void> {
    const loaded = this.#connection.waitForEvent(
      "Page.loadEventFired",
      this.#sessionId,
      this.#timeoutMs,
    );
    try {
      const { errorText } = await this.#send("Page.navigate", { url });
      if (typeof errorText === "string" && errorText !== "") {
        throw new Error(`Cannot navigate to "${url}": ${errorText}`);
      }
      await loaded.promise;
    } finally {
      loaded.cancel();
    }
  }

  async evaluate<T>(
    expression: string,
    options: EvaluateOptions = {},
  ): Promise<T> {
    const { timeoutMs = this.#timeoutMs } = options;
    const reply = await this.#send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    }, timeoutMs);
    const details = reply.exceptionDetails;
    if (isJson(details)) {
      const exception = isJson(details.exception) ? details.exception : {};
      const text = exception.description ?? exception.value ?? details.text;
      throw new Error(
        `Cannot evaluate expression in page as it threw: ${String(text)}`,
      );
    }
    const result = isJson(reply.result) ? reply.result : {};
    return result.value as T;
  }

  async waitFor(
    expression: string,
    options: WaitForOptions = {},
  ): Promise<void> {
    const { timeoutMs = 5000, intervalMs = 25 } = options;
    const maxAttempts = Math.max(1, Math.ceil(timeoutMs / intervalMs));
    const deadline = performance.now() + timeoutMs;
    const condition = `(async () => Boolean(await (\n${expression}\n)))()`;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (await this.evaluate<boolean>(condition, { timeoutMs })) return;
      if (performance.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
    throw new Error(
      `Cannot finish waiting for ${
        JSON.stringify(expression)
      } as it stayed falsy for ${timeoutMs} ms`,
    );
  }

  async screenshot(path: string | URL): Promise<void> {
    const { data } = await this.#send("Page.captureScreenshot", {
      format: "png",
    });
    if (typeof data !== "string") {
      throw new Error("Cannot capture screenshot: no data in the reply");
    }
    await Deno.writeFile(path, Uint8Array.fromBase64(data));
  }

  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    if (!this.#connection.isOpen) return;
    await this.#connection.send(
      "Target.closeTarget",
      { targetId: this.#targetId },
      undefined,
      this.#timeoutMs,
    );
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #send(
    method: string,
    params: Json,
    timeoutMs: number = this.#timeoutMs,
  ): Promise<Json> {
    if (this.#isClosed) {
      return Promise.reject(
        new Error(`Cannot call CDP "${method}" as the page is closed`),
      );
    }
    return this.#connection.send(method, params, this.#sessionId, timeoutMs);
  }
}
