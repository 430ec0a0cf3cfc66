/**
 * The admission contract the gateway calls once per handshake, after every
 * other check: {@linkcode AdmissionStore} decides, in one place for the
 * process or the fleet, whether a single-use ticket id is fresh and whether
 * the client is below its per-IP (and the process below its total) session
 * cap; an admitted session holds a slot until released. Types only; the
 * implementations are `LocalAdmission` (one process) and `RedisAdmission`
 * (`store/`, a fleet).
 *
 * @module
 */

/** What one handshake asks to be admitted. */
export interface AdmissionRequest {
  /** The client's key for the per-IP cap: its normalized address. */
  clientKey: string;
  /**
   * The most sessions this client may hold at once; `Infinity` for no cap.
   * Passed per call, so a reload may change it without losing counts.
   */
  perIpLimit: number;
  /**
   * The most sessions this process may hold at once (local count, also for
   * a fleet store); `Infinity` or absent for no cap.
   */
  sessionLimit?: number;
  /** The single-use ticket's id (`jti`), when the route requires one. */
  ticketId?: string;
  /**
   * When the ticket id may be forgotten, in ms since the epoch: the ticket's
   * `exp` plus the clock skew. Required with `ticketId`.
   */
  ticketExpiresAtMs?: number;
}

/** A session admitted: it holds a slot (and its ticket id) until released. */
export interface Admission {
  /** Always `"admitted"`. */
  readonly kind: "admitted";
  /** The client key counted. */
  readonly clientKey: string;
  /** The slot's unique name in the store, `<instanceId>:<sequence>`. */
  readonly member: string;
  /** The spent ticket id, if any. */
  readonly ticketId?: string;
}

/**
 * Why a handshake was not admitted: `per_ip` (429), `capacity` (503),
 * `replayed` (401). A refusal spends nothing: the ticket id stays usable.
 */
export type RefusalReason = "per_ip" | "capacity" | "replayed";

/** A handshake refused; nothing was counted or spent. */
export interface Refusal {
  /** Always `"refused"`. */
  readonly kind: "refused";
  /** Why. */
  readonly reason: RefusalReason;
}

/** The outcome of {@linkcode AdmissionStore.admit}. */
export type AdmissionResult = Admission | Refusal;

/**
 * Decides admissions in one place for all sessions of a process (or fleet).
 *
 * @example Usage
 * ```ts
 * import type { AdmissionStore } from "./admission.ts";
 * import { LocalAdmission } from "./local_admission.ts";
 * import assert from "node:assert/strict";
 * const store: AdmissionStore = new LocalAdmission();
 * const result = await store.admit({ clientKey: "10.0.0.1", perIpLimit: 1 });
 * assert.equal(result.kind, "admitted");
 * if (result.kind === "admitted") await store.release(result);
 * await store.close();
 * ```
 */
export interface AdmissionStore {
  /**
   * Admits a session atomically: the ticket id is spent only when every cap
   * also admits.
   * @param request The client, its caps, the ticket.
   * @returns The admission, or a refusal that spent nothing.
   * @throws {Error} A store that is unreachable or late rejects (for Redis
   * with `StoreUnavailableError`): fail closed with 503.
   */
  admit(request: AdmissionRequest): Promise<AdmissionResult>;
  /**
   * Frees the slot of a session that ended. Idempotent; never rejects (a
   * fleet store's failure is reported to its `onError`, and the slot then
   * frees itself when its lease ends).
   * @param admission What {@linkcode AdmissionStore.admit} returned.
   */
  release(admission: Admission): Promise<void>;
  /**
   * Frees the slot and un-spends the ticket id, for a session that did not
   * open after all (the backend connect failed). Idempotent; never rejects.
   * @param admission What {@linkcode AdmissionStore.admit} returned.
   */
  releaseTicket(admission: Admission): Promise<void>;
  /**
   * Why the store cannot decide admissions now, or `undefined` when it can
   * (`/healthz` answers 503 with it). Absent: a store in this process,
   * always able.
   * @returns The reason, or `undefined`.
   */
  checkHealth?(): Promise<string | undefined>;
  /** The sessions this process holds now. */
  readonly liveCount: number;
  /** Stops background work (lease refresh); does not release slots. */
  close(): Promise<void>;
}
