/**
 * The session table: the sessions open in this process with their labels,
 * the admission of each (its slot in the session counts, total and per
 * client address, and its spent single-use ticket id, decided by the
 * process's one {@linkcode FleetAdmission}), and the drain at shutdown. All
 * of it is process state: a configuration reload changes the caps (passed
 * with every admission), never the counts.
 *
 * @module
 */

import type { ResolvedGatewayConfig } from "../config/config.ts";
import { withTimeout } from "../io/deadline_queue.ts";
import type { Admission, AdmissionRequest } from "../security/admission.ts";
import { LocalAdmission } from "../security/local_admission.ts";
import { ReplayCache } from "../security/replay_cache.ts";
import { CloseCode } from "../session/close_codes.ts";
import { type AdmissionOutcome, FleetAdmission } from "./fleet_admission.ts";
import type { SessionLabels } from "./session_labels.ts";

/** What the table needs of a session: the two ways to end it. */
export interface DrainableSession {
  /** Flushes both ways and closes with `code`; resolves once it ended. */
  close(code: number, reason: string): Promise<unknown>;
  /** Cuts the session at once; resolves once it ended. */
  abort(code: number, reason: string): Promise<unknown>;
}

/** The caps one admission is counted against. */
export interface SessionCaps {
  /** The most sessions the process holds at once. */
  maxSessions: number;
  /** The most sessions one client address holds at once; Infinity: none. */
  maxSessionsPerIp: number;
}

/**
 * The session caps of a configuration (a per-address cap of 0 is none).
 *
 * @example No per-address cap is Infinity
 * ```ts
 * import { sessionCaps } from "./session_table.ts";
 * import { resolveOptions } from "../config/config.ts";
 * import assert from "node:assert/strict";
 * const caps = sessionCaps(resolveOptions({
 *   routes: [{ path: "/", target: "127.0.0.1:9" }],
 *   maxSessions: 5,
 *   maxSessionsPerIp: 0,
 * }));
 * assert.deepEqual(caps, { maxSessions: 5, maxSessionsPerIp: Infinity });
 * ```
 *
 * @param config The resolved configuration.
 * @returns The total and per-address caps.
 */
export function sessionCaps(config: ResolvedGatewayConfig): SessionCaps {
  return {
    maxSessions: config.maxSessions,
    maxSessionsPerIp: config.maxSessionsPerIp === 0
      ? Infinity
      : config.maxSessionsPerIp,
  };
}

/** One row of the table. */
interface Row {
  labels: SessionLabels;
  /** The session's slot (and ticket id), given back when it ends. */
  admission: Admission;
}

/**
 * The open sessions of the process, their admissions, and the drain.
 *
 * A slot is taken with {@linkcode SessionTable.admit} before the backend
 * is dialled; it is given back either by {@linkcode SessionTable.release}
 * or {@linkcode SessionTable.releaseTicket} (no session opened) or, once
 * the session is in the table, by {@linkcode SessionTable.remove} when it
 * ends.
 *
 * @example Admit, add, remove, drain
 * ```ts
 * import { SessionTable } from "./session_table.ts";
 * import assert from "node:assert/strict";
 * const table = new SessionTable();
 * const closed: number[] = [];
 * const session = {
 *   close: (code: number) => Promise.resolve(closed.push(code)),
 *   abort: () => Promise.resolve(),
 * };
 * const caps = { sessionLimit: 1, perIpLimit: 1 };
 * const first = await table.admit({ clientKey: "192.0.2.1", ...caps });
 * if (first.kind !== "admitted") throw new Error("refused");
 * const second = await table.admit({ clientKey: "192.0.2.2", ...caps });
 * assert.equal(second.kind === "refused" && second.refusal.status, 503);
 * const labels = { id: "s1", route: "/", client: "192.0.2.1:5000", target: "127.0.0.1:9" };
 * table.add(session, labels, first.admission);
 * assert.equal(table.size, 1);
 * await table.drain(1000);
 * assert.ok(table.isDraining);
 * assert.deepEqual(closed, [1001]);
 * assert.ok(table.remove(session));
 * const third = await table.admit({ clientKey: "192.0.2.2", ...caps });
 * assert.equal(third.kind, "admitted");
 * ```
 *
 * @typeParam S The session type.
 */
export class SessionTable<S extends DrainableSession = DrainableSession> {
  /**
   * The process's used single-use ticket ids (without a shared store);
   * outlives every reload.
   */
  readonly replayCache: ReplayCache = new ReplayCache();
  #admission: FleetAdmission;
  #rows = new Map<S, Row>();
  #isDraining = false;

  /**
   * Creates an empty table admitting through a {@linkcode LocalAdmission}
   * on {@linkcode SessionTable.replayCache} (see
   * {@linkcode SessionTable.useAdmission} for a shared store).
   */
  constructor() {
    this.#admission = new FleetAdmission(
      new LocalAdmission({ replayCache: this.replayCache }),
    );
  }

  /** Sessions open now. */
  get size(): number {
    return this.#rows.size;
  }

  /** Whether {@linkcode SessionTable.drain} began: no new sessions. */
  get isDraining(): boolean {
    return this.#isDraining;
  }

  /**
   * Admits through `admission` from now on: the main thread's store for a
   * worker, or the fleet's Redis with `--store`. Called before the first
   * admission (at listen).
   * @param admission The store, behind its hard timer.
   */
  useAdmission(admission: FleetAdmission): void {
    this.#admission = admission;
  }

  /**
   * Takes a slot for a client and spends its single-use ticket id, both
   * or neither.
   * @param request The client, the caps of the current configuration, the
   * ticket.
   * @returns The admission, or the refusal to send and its log detail.
   */
  admit(request: AdmissionRequest): Promise<AdmissionOutcome> {
    return this.#admission.admit(request);
  }

  /**
   * Gives back the slot of a session that never entered the table (the
   * browser left before the 101); its ticket stays spent.
   * @param admission What {@linkcode SessionTable.admit} admitted.
   */
  release(admission: Admission): void {
    void this.#admission.release(admission);
  }

  /**
   * Gives back the slot and un-spends the ticket of a session that never
   * opened (the backend could not be reached): the ticket may be used
   * again.
   * @param admission What {@linkcode SessionTable.admit} admitted.
   */
  releaseTicket(admission: Admission): void {
    void this.#admission.releaseTicket(admission);
  }

  /**
   * Why the store cannot decide admissions now, or `undefined` when it can
   * (`/healthz` answers 503 with it).
   * @returns The reason, or `undefined`.
   */
  checkHealth(): Promise<string | undefined> {
    return this.#admission.checkHealth();
  }

  /**
   * Adds an opened session holding `admission`.
   * @param session The session.
   * @param labels Its labels.
   * @param admission Its slot, from {@linkcode SessionTable.admit}.
   */
  add(session: S, labels: SessionLabels, admission: Admission): void {
    this.#rows.set(session, { labels, admission });
  }

  /**
   * Removes an ended session and gives back its slot, once.
   * @param session The session.
   * @returns Whether it was in the table.
   */
  remove(session: S): boolean {
    const row = this.#rows.get(session);
    if (row === undefined) return false;
    this.#rows.delete(session);
    void this.#admission.release(row.admission);
    return true;
  }

  /**
   * The open sessions with their labels.
   * @returns An iterator over `[session, labels]`.
   */
  *[Symbol.iterator](): IterableIterator<[S, SessionLabels]> {
    for (const [session, row] of this.#rows) yield [session, row.labels];
  }

  /**
   * Begins the drain (see {@linkcode SessionTable.isDraining}), closes every
   * open session with 1001 (flushing both ways), waits up to `timeoutMs`
   * for them to end, then aborts what is left.
   * @param timeoutMs The longest wait, in milliseconds.
   * @returns Resolves once every session that was open has ended.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#isDraining = true;
    const ends = [...this.#rows.keys()].map((session) =>
      session.close(CloseCode.GOING_AWAY, SHUTDOWN_REASON)
    );
    await withTimeout(Promise.all(ends), timeoutMs);
    // Past the deadline: cut what is left.
    await this.abortAll();
  }

  /**
   * Aborts every open session with 1001 (after the drain deadline).
   * @returns Resolves once they ended.
   */
  async abortAll(): Promise<void> {
    await Promise.all(
      [...this.#rows.keys()].map((session) =>
        session.abort(CloseCode.GOING_AWAY, SHUTDOWN_REASON)
      ),
    );
  }
}

/** The close reason of a session ended by shutdown. */
export const SHUTDOWN_REASON = "gateway shutting down";
