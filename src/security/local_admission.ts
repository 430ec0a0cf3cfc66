/**
 * {@linkcode LocalAdmission}: the {@linkcode AdmissionStore} of one process
 * without a shared store. The gateway keeps one across reloads, so used
 * ticket ids and open-session counts outlive a configuration generation.
 * Synchronous inside, so each admission is atomic.
 *
 * @module
 */

import type {
  Admission,
  AdmissionRequest,
  AdmissionResult,
  AdmissionStore,
} from "./admission.ts";
import { ReplayCache } from "./replay_cache.ts";

/** Options of {@linkcode LocalAdmission}. */
export interface LocalAdmissionOptions {
  /**
   * The clock, in ms since the epoch.
   * @default {Date.now}
   */
  now?: () => number;
  /**
   * The replay cache of used ticket ids (no count cap by default; about 130
   * bytes per id until it expires).
   * @default {new ReplayCache()}
   */
  replayCache?: ReplayCache;
}

/**
 * Per-IP and total session counts plus used ticket ids for one process.
 *
 * @example Usage
 * ```ts
 * import { LocalAdmission } from "./local_admission.ts";
 * import assert from "node:assert/strict";
 * const admission = new LocalAdmission();
 * const request = {
 *   clientKey: "10.0.0.1",
 *   perIpLimit: 1,
 *   ticketId: "t1",
 *   ticketExpiresAtMs: Date.now() + 60_000,
 * };
 * const first = await admission.admit(request);
 * assert.equal(first.kind, "admitted");
 * const again = await admission.admit({ ...request, ticketId: "t2" });
 * assert.deepEqual(again, { kind: "refused", reason: "per_ip" });
 * if (first.kind === "admitted") await admission.release(first);
 * assert.equal(admission.liveCount, 0);
 * await admission.close();
 * ```
 */
export class LocalAdmission implements AdmissionStore {
  #now: () => number;
  #replayCache: ReplayCache;
  #perClient = new Map<string, number>();
  #live = new Set<string>();
  #sequence = 0;

  /**
   * Constructs a new instance.
   * @param options The clock and the replay cache.
   */
  constructor(options: LocalAdmissionOptions = {}) {
    const { now = Date.now, replayCache = new ReplayCache() } = options;
    this.#now = now;
    this.#replayCache = replayCache;
  }

  /** The sessions held now. */
  get liveCount(): number {
    return this.#live.size;
  }

  /**
   * The sessions held now by one client.
   * @param clientKey The client key.
   * @returns The count.
   */
  countOf(clientKey: string): number {
    return this.#perClient.get(clientKey) ?? 0;
  }

  /**
   * Admits synchronously; {@linkcode LocalAdmission.admit} wraps it.
   * @param request The client, its caps, the ticket.
   * @returns The admission or the refusal.
   */
  admitNow(request: AdmissionRequest): AdmissionResult {
    const { clientKey, perIpLimit, sessionLimit = Infinity, ticketId } =
      request;
    const nowMs = this.#now();
    if (ticketId !== undefined && this.#replayCache.isHeld(ticketId, nowMs)) {
      return { kind: "refused", reason: "replayed" };
    }
    if (this.#live.size >= sessionLimit) {
      return { kind: "refused", reason: "capacity" };
    }
    const count = this.#perClient.get(clientKey) ?? 0;
    if (count >= perIpLimit) return { kind: "refused", reason: "per_ip" };
    if (ticketId !== undefined) {
      const used = this.#replayCache.use(
        ticketId,
        request.ticketExpiresAtMs ?? nowMs,
        nowMs,
      );
      // "full" only with an explicit maxEntries cap on the cache.
      if (used === "full") return { kind: "refused", reason: "capacity" };
    }
    const member = `local:${++this.#sequence}`;
    this.#live.add(member);
    this.#perClient.set(clientKey, count + 1);
    return ticketId === undefined
      ? { kind: "admitted", clientKey, member }
      : { kind: "admitted", clientKey, member, ticketId };
  }

  /**
   * Admits a session: checks the ticket id, the total and the per-IP caps,
   * then counts the session and spends the id.
   * @param request The client, its caps, the ticket.
   * @returns The admission or the refusal.
   */
  admit(request: AdmissionRequest): Promise<AdmissionResult> {
    return Promise.resolve(this.admitNow(request));
  }

  /**
   * Frees the slot. Idempotent.
   * @param admission The admission.
   */
  release(admission: Admission): Promise<void> {
    this.#free(admission);
    return Promise.resolve();
  }

  /**
   * Frees the slot and un-spends the ticket id. Idempotent.
   * @param admission The admission.
   */
  releaseTicket(admission: Admission): Promise<void> {
    if (this.#free(admission) && admission.ticketId !== undefined) {
      this.#replayCache.forget(admission.ticketId);
    }
    return Promise.resolve();
  }

  /** Nothing runs in the background; resolves at once. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  #free(admission: Admission): boolean {
    if (!this.#live.delete(admission.member)) return false;
    const count = (this.#perClient.get(admission.clientKey) ?? 1) - 1;
    if (count <= 0) this.#perClient.delete(admission.clientKey);
    else this.#perClient.set(admission.clientKey, count);
    return true;
  }
}
