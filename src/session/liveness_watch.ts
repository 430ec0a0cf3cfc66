/**
 * The liveness bookkeeping of one session: its {@linkcode LivenessState}
 * (updated in place by the pumps as data moves), the byte counters sampled
 * at each tick to tell whether anything moved, and the ping's life (sent,
 * written to the socket). Pure: no sockets, no timers; the relay's `tick`
 * calls {@linkcode LivenessWatch.judge} and acts on the verdict.
 *
 * @module
 */

import {
  judgeLiveness,
  type LivenessState,
  type LivenessVerdict,
} from "./liveness.ts";
import type { SessionTimers } from "./relay_options.ts";

/** Bytes the two sockets have accepted so far, sampled at a tick. */
export interface WrittenBytes {
  /** Bytes the browser's socket took. */
  toBrowser: number;
  /** Bytes the backend's socket took. */
  toBackend: number;
}

/**
 * Liveness of one session.
 *
 * @example A session where nothing moves while its browser is paused stalls
 * ```ts
 * import { LivenessWatch } from "./liveness_watch.ts";
 * import assert from "node:assert/strict";
 * const timers = {
 *   pingIntervalMs: 0, pingTimeoutMs: 0, idleTimeoutMs: 0,
 *   maxLifetimeMs: 0, backendSilenceMs: 0, backendHeartbeatMs: 0,
 *   stallTimeoutMs: 100,
 * };
 * const watch = new LivenessWatch(timers, 0);
 * watch.state.isBrowserPaused = true;
 * assert.equal(watch.judge(50, { toBrowser: 0, toBackend: 10 }).end, null);
 * assert.equal(watch.judge(149, { toBrowser: 0, toBackend: 10 }).end, null);
 * assert.equal(watch.judge(150, { toBrowser: 0, toBackend: 10 }).end, "stalled");
 * ```
 */
export class LivenessWatch {
  /** The timestamps judged; the pumps update them as data moves. */
  readonly state: LivenessState;
  #timers: SessionTimers;
  #writtenAtTick = 0;
  #toBrowserAtPing = 0;

  /**
   * Starts watching a session that opens at `nowMs`.
   * @param timers The session's limits.
   * @param nowMs The clock value at the start, in milliseconds.
   */
  constructor(timers: SessionTimers, nowMs: number) {
    this.#timers = timers;
    this.state = {
      openedAtMs: nowMs,
      lastDataMs: nowMs,
      lastFromBackendMs: nowMs,
      lastFromBrowserMs: nowMs,
      lastToBackendMs: nowMs,
      pingSentAtMs: 0,
      pingWrittenAtMs: 0,
      browserDrainedAtMs: 0,
      isBrowserPaused: false,
      isBackendPaused: false,
      backendReadSinceMs: nowMs,
      lastProgressMs: nowMs,
    };
  }

  /**
   * Notes what moved since the previous call, then judges the session.
   * Progress is any read (stamped by the pumps) or any byte a socket took;
   * bytes the browser took after the outstanding ping reached its socket
   * show a live (if slow) browser.
   * @param nowMs The current clock value in milliseconds.
   * @param written What the sockets have taken so far.
   * @returns The verdict.
   */
  judge(nowMs: number, written: WrittenBytes): LivenessVerdict {
    const state = this.state;
    const total = written.toBrowser + written.toBackend;
    if (total !== this.#writtenAtTick) {
      this.#writtenAtTick = total;
      state.lastProgressMs = nowMs;
      if (
        state.pingSentAtMs > 0 && written.toBrowser !== this.#toBrowserAtPing
      ) {
        this.#toBrowserAtPing = written.toBrowser;
        state.browserDrainedAtMs = nowMs;
      }
    }
    state.lastProgressMs = Math.max(
      state.lastProgressMs,
      state.lastFromBrowserMs,
      state.lastFromBackendMs,
    );
    return judgeLiveness(state, this.#timers, nowMs);
  }

  /**
   * A ping was queued for the browser.
   * @param nowMs The current clock value in milliseconds.
   * @param toBrowserBytes Bytes the browser's socket has taken so far.
   */
  pingSent(nowMs: number, toBrowserBytes: number): void {
    this.#toBrowserAtPing = toBrowserBytes;
    this.state.pingSentAtMs = nowMs;
    this.state.pingWrittenAtMs = 0;
    this.state.browserDrainedAtMs = 0;
  }

  /**
   * The outstanding ping reached the browser's socket: its deadline starts.
   * @param nowMs The current clock value in milliseconds.
   * @param toBrowserBytes Bytes the browser's socket has taken so far.
   */
  pingWritten(nowMs: number, toBrowserBytes: number): void {
    if (this.state.pingSentAtMs === 0) return;
    this.state.pingWrittenAtMs = nowMs;
    this.#toBrowserAtPing = toBrowserBytes;
  }
}
