/**
 * websockify's server-wide lifetime options as one pure rule over session
 * events and a clock: `--run-once` (exit once the first WebSocket session
 * ends), `--idle-timeout` (exit after N seconds with no session open) and
 * `--timeout` (stop taking new connections N seconds after start, exit once
 * the open sessions have ended). The CLI feeds it events and the time.
 *
 * @module
 */

import type { GatewayEvent } from "../observability/events.ts";

/** What {@linkcode ServerLifetime} enforces; all off by default. */
export interface ServerLifetimeOptions {
  /** `--run-once`: exit when the first session ends. @default {false} */
  isRunOnce?: boolean;
  /** `--idle-timeout`: exit after this long without sessions (0 = off). @default {0} */
  idleTimeoutMs?: number;
  /** `--timeout`: stop accepting this long after start (0 = off). @default {0} */
  timeoutMs?: number;
}

/** What the server should do now. */
export type LifetimeVerdict =
  | { readonly kind: "run" }
  /** Refuse new connections; keep the open sessions. */
  | { readonly kind: "stop-accepting"; readonly cause: string }
  /** Shut down (nothing is open, or run-once is done). */
  | { readonly kind: "exit"; readonly cause: string };

/**
 * Tracks open sessions and decides when websockify's lifetime options end
 * the server. Feed every event to {@linkcode ServerLifetime.observe} and
 * call {@linkcode ServerLifetime.check} periodically (websockify checks
 * once a second).
 *
 * @example Run once
 * ```ts
 * import { ServerLifetime } from "./server_lifetime.ts";
 * import assert from "node:assert/strict";
 * const lifetime = new ServerLifetime(0, { isRunOnce: true });
 * const session = { sessionId: "a", route: "/", client: "c", target: "t" };
 * lifetime.observe({ type: "session_open", ...session }, 5);
 * assert.equal(lifetime.check(10).kind, "run");
 * const verdict = lifetime.observe({
 *   type: "session_close", ...session, code: 1000, reason: "", detail: "",
 *   bytesToBackend: 0, bytesToBrowser: 0, framesToBackend: 0,
 *   framesToBrowser: 0, durationMs: 5,
 * }, 10);
 * assert.equal(verdict.kind, "exit");
 * ```
 */
export class ServerLifetime {
  #options: Required<ServerLifetimeOptions>;
  #startMs: number;
  #open = 0;
  #lastActiveMs: number;
  #isStopping = false;

  /**
   * @param startMs When the server started listening (ms).
   * @param options The lifetime options.
   */
  constructor(startMs: number, options: ServerLifetimeOptions = {}) {
    const { isRunOnce = false, idleTimeoutMs = 0, timeoutMs = 0 } = options;
    this.#options = { isRunOnce, idleTimeoutMs, timeoutMs };
    this.#startMs = startMs;
    this.#lastActiveMs = startMs;
  }

  /** Whether any option is on (the CLI needs no timer otherwise). */
  get isActive(): boolean {
    const { isRunOnce, idleTimeoutMs, timeoutMs } = this.#options;
    return isRunOnce || idleTimeoutMs > 0 || timeoutMs > 0;
  }

  /** Sessions open now, as the events tell. */
  get openSessions(): number {
    return this.#open;
  }

  /**
   * Counts an event.
   * @param event A gateway event.
   * @param nowMs The current time (ms).
   * @returns The verdict after it.
   */
  observe(event: GatewayEvent, nowMs: number): LifetimeVerdict {
    if (event.type === "session_open") {
      this.#open++;
      this.#lastActiveMs = nowMs;
    } else if (event.type === "session_close") {
      this.#open = Math.max(0, this.#open - 1);
      this.#lastActiveMs = nowMs;
      if (this.#options.isRunOnce) {
        return { kind: "exit", cause: "--run-once: the session ended" };
      }
    }
    return this.check(nowMs);
  }

  /**
   * Decides on the clock alone.
   * @param nowMs The current time (ms).
   * @returns The verdict.
   */
  check(nowMs: number): LifetimeVerdict {
    const { idleTimeoutMs, timeoutMs } = this.#options;
    if (this.#open > 0) this.#lastActiveMs = nowMs;
    if (timeoutMs > 0 && nowMs - this.#startMs >= timeoutMs) {
      const cause = `--timeout ${timeoutMs / 1000}`;
      if (this.#open === 0) return { kind: "exit", cause };
      if (!this.#isStopping) {
        this.#isStopping = true;
        return { kind: "stop-accepting", cause };
      }
    }
    if (
      idleTimeoutMs > 0 && this.#open === 0 &&
      nowMs - this.#lastActiveMs >= idleTimeoutMs
    ) {
      return { kind: "exit", cause: `--idle-timeout ${idleTimeoutMs / 1000}` };
    }
    return { kind: "run" };
  }
}
