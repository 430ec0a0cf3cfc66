/**
 * Why a relay session ends, as one value per cause: the close code and
 * reason the browser sees, the detail for the log, which side started it,
 * and what the close path may still do with each socket. The relay's pumps,
 * its liveness tick and its writers report ends through these.
 *
 * @module
 */

import { CloseCode, closeCodeForError } from "./close_codes.ts";
import type { LivenessEnd } from "./liveness.ts";
import type { SessionTimers } from "./relay_options.ts";
import { errorText, isSocketError } from "./_relay_util.ts";

/** An end of the session, decided by whichever side ended first. */
export interface EndCause {
  /** The close code. */
  code: number;
  /** The short reason the browser sees. */
  reason: string;
  /** Detail for the log, if any. */
  detail: string | undefined;
  /** Which side ended the session first. */
  initiator: "browser" | "backend" | "gateway";
  /** The browser cannot be written to any more. */
  isBrowserGone?: boolean;
  /** The backend cannot be written to any more. */
  isBackendGone?: boolean;
  /** The browser broke the protocol: its close reply is awaited only briefly. */
  isBrowserFaulty?: boolean;
  /** The browser floods: it is neither read nor lingered for any more. */
  isBrowserFlooding?: boolean;
}

/**
 * The browser's connection is gone (closed, reset, failed to write).
 *
 * @example A reset
 * ```ts
 * import { browserGone } from "./end_cause.ts";
 * import assert from "node:assert/strict";
 * const cause = browserGone("ConnectionReset: peer reset");
 * assert.equal(cause.code, 1006);
 * assert.equal(cause.isBrowserGone, true);
 * ```
 *
 * @param detail What the log says.
 * @returns The cause.
 */
export function browserGone(detail: string): EndCause {
  return {
    code: CloseCode.ABNORMAL,
    reason: "browser gone",
    detail,
    initiator: "browser",
    isBrowserGone: true,
  };
}

/**
 * Reading or parsing the browser failed: a socket failure means it is gone,
 * anything else is a protocol fault (answered with its close code).
 *
 * @example A protocol fault
 * ```ts
 * import { browserReadFailed } from "./end_cause.ts";
 * import { WebSocketProtocolError } from "../errors.ts";
 * import assert from "node:assert/strict";
 * const cause = browserReadFailed(new WebSocketProtocolError("bad frame"));
 * assert.equal(cause.code, 1002);
 * assert.equal(cause.isBrowserFaulty, true);
 * ```
 *
 * @param error The caught value.
 * @returns The cause.
 */
export function browserReadFailed(error: unknown): EndCause {
  if (isSocketError(error)) return browserGone(errorText(error));
  return {
    ...closeCodeForError(error, "browser"),
    detail: errorText(error),
    initiator: "browser",
    isBrowserFaulty: true,
  };
}

/**
 * Reading or decoding the backend failed.
 *
 * @example A reset backend
 * ```ts
 * import { backendReadFailed } from "./end_cause.ts";
 * import assert from "node:assert/strict";
 * const cause = backendReadFailed(new Deno.errors.ConnectionReset("reset"));
 * assert.equal(cause.code, 1011);
 * assert.equal(cause.isBackendGone, true);
 * ```
 *
 * @param error The caught value.
 * @returns The cause.
 */
export function backendReadFailed(error: unknown): EndCause {
  return {
    ...closeCodeForError(error, "backend"),
    detail: errorText(error),
    initiator: "backend",
    isBackendGone: isSocketError(error),
  };
}

/**
 * Writing to the backend failed.
 *
 * @example A broken pipe
 * ```ts
 * import { backendWriteFailed } from "./end_cause.ts";
 * import assert from "node:assert/strict";
 * const cause = backendWriteFailed(new Deno.errors.BrokenPipe("pipe"));
 * assert.match(cause.detail ?? "", /^backend write failed: /);
 * assert.equal(cause.isBackendGone, true);
 * ```
 *
 * @param error The caught value.
 * @returns The cause.
 */
export function backendWriteFailed(error: unknown): EndCause {
  return {
    ...closeCodeForError(error, "backend"),
    detail: `backend write failed: ${errorText(error)}`,
    initiator: "backend",
    isBackendGone: true,
  };
}

/** How each liveness end but a missing pong closes, and what the log says. */
const LIVENESS_ENDS: {
  [end in Exclude<LivenessEnd, null | "ping_timeout">]: {
    code: number;
    reason: string;
    initiator: EndCause["initiator"];
    detail: (timers: SessionTimers) => string;
  };
} = {
  lifetime: {
    code: CloseCode.LIFETIME_EXCEEDED,
    reason: "session lifetime exceeded",
    initiator: "gateway",
    detail: (timers) => `session older than ${timers.maxLifetimeMs} ms`,
  },
  idle: {
    code: CloseCode.IDLE_TIMEOUT,
    reason: "idle timeout",
    initiator: "gateway",
    detail: (timers) => `no data either way for ${timers.idleTimeoutMs} ms`,
  },
  "backend_silent": {
    code: CloseCode.BACKEND_SILENT,
    reason: "backend silent",
    initiator: "backend",
    detail: (timers) =>
      `nothing from the backend for ${timers.backendSilenceMs} ms`,
  },
  stalled: {
    code: CloseCode.STALLED,
    reason: "session stalled",
    initiator: "gateway",
    detail: (timers) =>
      `browser not read and nothing moved for ${timers.stallTimeoutMs} ms`,
  },
};

/**
 * The end a liveness verdict asks for.
 *
 * @example An idle session
 * ```ts
 * import { livenessEnd } from "./end_cause.ts";
 * import assert from "node:assert/strict";
 * const timers = {
 *   pingIntervalMs: 0, pingTimeoutMs: 0, idleTimeoutMs: 100,
 *   maxLifetimeMs: 0, backendSilenceMs: 0, backendHeartbeatMs: 0,
 *   stallTimeoutMs: 0,
 * };
 * assert.deepEqual(livenessEnd("idle", timers), {
 *   code: 4001,
 *   reason: "idle timeout",
 *   detail: "no data either way for 100 ms",
 *   initiator: "gateway",
 * });
 * ```
 *
 * @param end Why liveness ends the session.
 * @param timers The session's timers (for the detail).
 * @returns The cause.
 */
export function livenessEnd(
  end: Exclude<LivenessEnd, null>,
  timers: SessionTimers,
): EndCause {
  if (end === "ping_timeout") {
    return browserGone(`no pong within ${timers.pingTimeoutMs} ms`);
  }
  const { code, reason, initiator, detail } = LIVENESS_ENDS[end];
  return { code, reason, detail: detail(timers), initiator };
}
