/**
 * Liveness as a pure function over timestamps: given when the session
 * opened and when data last moved, decide whether it ends (lifetime, idle,
 * backend silence, stall, missing pong) and whether a ping or an app
 * heartbeat is due. No sockets, no timers: the gateway's sweep calls the relay's
 * `tick(now)`, which asks {@linkcode judgeLiveness} and acts.
 *
 * @module
 */

import type { SessionTimers } from "./relay_options.ts";

/** The timestamps (ms on the session clock) liveness is judged on. */
export interface LivenessState {
  /** When the session opened. */
  openedAtMs: number;
  /** When data last moved in either direction. */
  lastDataMs: number;
  /** When the backend last sent anything. */
  lastFromBackendMs: number;
  /** When the browser last sent anything. */
  lastFromBrowserMs: number;
  /** When the gateway last wrote to the backend. */
  lastToBackendMs: number;
  /** When the outstanding ping was sent; 0 when none is outstanding. */
  pingSentAtMs: number;
  /**
   * When the outstanding ping reached the browser's socket (it goes ahead
   * of queued data, but may wait for the piece in flight); 0 while it waits.
   */
  pingWrittenAtMs: number;
  /**
   * When the browser's socket last took bytes after the outstanding ping
   * was written: a browser that keeps reading is alive even if the ping
   * still sits in the kernel's buffers behind data. 0 when none.
   */
  browserDrainedAtMs: number;
  /** Whether the browser is not being read (paused for flow control). */
  isBrowserPaused: boolean;
  /** Whether the backend is not being read (paused for flow control). */
  isBackendPaused: boolean;
  /**
   * When reading the backend last began or resumed after a pause: backend
   * silence counts only from then (a backend is not silent while the
   * gateway itself is not reading it).
   */
  backendReadSinceMs: number;
  /** When bytes last moved in any direction (read or written, either side). */
  lastProgressMs: number;
}

/** Why liveness ends a session, or null when it goes on. */
export type LivenessEnd =
  | "lifetime"
  | "idle"
  | "backend_silent"
  | "stalled"
  | "ping_timeout"
  | null;

/** The decision for one tick. */
export interface LivenessVerdict {
  /** Why the session ends now, or null. */
  end: LivenessEnd;
  /** Whether to send the browser a ping now. */
  isPingDue: boolean;
  /** Whether to send the backend an app heartbeat now. */
  isHeartbeatDue: boolean;
}

const GOES_ON: LivenessVerdict = Object.freeze({
  end: null,
  isPingDue: false,
  isHeartbeatDue: false,
});

/**
 * Decides what liveness asks of a session at `now`. The checks run in a
 * fixed order (lifetime, idle, backend silence, missing pong) and the first
 * that fires ends the session; each limit fires at exactly its value
 * (`>=`), and a limit of 0 is off. Backend silence is measured only while
 * the backend is being read; a stall is a session whose browser is not
 * being read (flow control) while nothing moves anywhere.
 * @param state The session's timestamps.
 * @param timers The liveness limits.
 * @param now The current time on the session clock, in ms.
 * @returns The verdict for this tick.
 *
 * @example An idle session ends at exactly idleTimeoutMs
 * ```ts
 * import assert from "node:assert/strict";
 * import { judgeLiveness } from "./liveness.ts";
 *
 * const state = {
 *   openedAtMs: 0, lastDataMs: 0, lastFromBackendMs: 0,
 *   lastFromBrowserMs: 0, lastToBackendMs: 0, pingSentAtMs: 0,
 *   pingWrittenAtMs: 0, browserDrainedAtMs: 0,
 *   isBrowserPaused: false, isBackendPaused: false, backendReadSinceMs: 0,
 *   lastProgressMs: 0,
 * };
 * const timers = {
 *   pingIntervalMs: 0, pingTimeoutMs: 0, idleTimeoutMs: 100,
 *   maxLifetimeMs: 0, backendSilenceMs: 0, backendHeartbeatMs: 0,
 *   stallTimeoutMs: 0,
 * };
 * assert.equal(judgeLiveness(state, timers, 99).end, null);
 * assert.equal(judgeLiveness(state, timers, 100).end, "idle");
 * ```
 */
export function judgeLiveness(
  state: LivenessState,
  timers: SessionTimers,
  now: number,
): LivenessVerdict {
  if (
    timers.maxLifetimeMs > 0 && now - state.openedAtMs >= timers.maxLifetimeMs
  ) return { end: "lifetime", isPingDue: false, isHeartbeatDue: false };
  if (
    timers.idleTimeoutMs > 0 && now - state.lastDataMs >= timers.idleTimeoutMs
  ) return { end: "idle", isPingDue: false, isHeartbeatDue: false };
  if (
    timers.backendSilenceMs > 0 && !state.isBackendPaused &&
    now - Math.max(state.lastFromBackendMs, state.backendReadSinceMs) >=
      timers.backendSilenceMs
  ) return { end: "backend_silent", isPingDue: false, isHeartbeatDue: false };
  if (
    timers.stallTimeoutMs > 0 && state.isBrowserPaused &&
    now - state.lastProgressMs >= timers.stallTimeoutMs
  ) return { end: "stalled", isPingDue: false, isHeartbeatDue: false };
  let isPingDue = false;
  if (timers.pingIntervalMs > 0) {
    if (state.pingSentAtMs > 0) {
      // A browser we are not reading from (paused for flow control)
      // cannot be blamed for a missing pong; the deadline starts when the
      // ping was sent, again when it reached the socket, and restarts
      // while the browser takes bytes (it may wait behind data).
      if (
        !state.isBrowserPaused &&
        now - Math.max(
                state.pingSentAtMs,
                state.pingWrittenAtMs,
                state.browserDrainedAtMs,
              ) >= timers.pingTimeoutMs
      ) return { end: "ping_timeout", isPingDue: false, isHeartbeatDue: false };
    } else if (now - state.lastFromBrowserMs >= timers.pingIntervalMs) {
      isPingDue = true;
    }
  }
  const isHeartbeatDue = timers.backendHeartbeatMs > 0 &&
    now - state.lastToBackendMs >= timers.backendHeartbeatMs;
  if (!isPingDue && !isHeartbeatDue) return GOES_ON;
  return { end: null, isPingDue, isHeartbeatDue };
}
