/**
 * The gateway's admission step: after the local checks and before the
 * backend connect, every upgrade is admitted by the process's one
 * {@linkcode AdmissionStore} (a `LocalAdmission`, the main thread's store
 * for `--workers`, or `RedisAdmission` with `--store`), under a hard timer.
 * {@linkcode FleetAdmission} maps its answer to the HTTP refusal (per-IP
 * 429, replayed ticket 401, capacity 503, store unreachable or late 503
 * `store_unavailable`) and reports the store's health for `/healthz`.
 * {@linkcode openAdmissionStore} builds the store a configuration asks for.
 * It is process state: a reload keeps it.
 *
 * @module
 */

import type { StoreSettings } from "../store/store_options.ts";
import {
  DEFAULT_STORE_TIMEOUT_MS,
  readStorePassword,
  resolveStoreOptions,
} from "../store/store_options.ts";
import type { GatewayEvent } from "../observability/events.ts";
import { RedisAdmission } from "../store/redis_admission.ts";
import { RedisClient } from "../store/redis_client.ts";
import { STORE_UNAVAILABLE_BODY } from "../store/store_errors.ts";
import { valueWithin } from "../io/deadline_queue.ts";
import type {
  Admission,
  AdmissionRequest,
  AdmissionStore,
} from "../security/admission.ts";
import { LocalAdmission } from "../security/local_admission.ts";
import type { ReplayCache } from "../security/replay_cache.ts";
import type { HttpRefusal } from "../http/request_head.ts";

/** The outcome of {@linkcode FleetAdmission.admit}. */
export type AdmissionOutcome =
  | { kind: "admitted"; admission: Admission }
  | {
    kind: "refused";
    /** What the client gets. */
    refusal: HttpRefusal;
    /** What the log gets. */
    detail: string;
  };

/** An admission store and how to close what it owns. */
export interface OpenedAdmissionStore {
  /** The store. */
  store: AdmissionStore;
  /** Whether it is a fleet store reached over the network (`--store`). */
  isRemote: boolean;
  /** Stops the store and closes its connections. */
  close(): Promise<void>;
}

/** Options of {@linkcode openAdmissionStore}. */
export interface OpenAdmissionStoreOptions {
  /**
   * The used ticket ids of a local store (shared with the upgrade policy's
   * early replay check).
   * @default {a new ReplayCache}
   */
  replayCache?: ReplayCache;
  /**
   * Receives a store error of a lease refresh or a release (which never
   * fail a handshake).
   * @default {() => {}}
   */
  onError?: (error: unknown) => void;
}

/**
 * Opens the store a configuration asks for: `RedisAdmission` on a
 * `RedisClient` when `store` is set (the password read from its env var or
 * file now), else a `LocalAdmission`. Nothing is sent to Redis yet: the
 * client connects on first use, so a store down at start is an outage, not
 * a start failure.
 *
 * @example Without a store: one process's counts
 * ```ts
 * import { openAdmissionStore } from "./fleet_admission.ts";
 * import assert from "node:assert/strict";
 * const opened = await openAdmissionStore(undefined);
 * assert.equal(opened.isRemote, false);
 * const result = await opened.store.admit({ clientKey: "a", perIpLimit: 1 });
 * assert.equal(result.kind, "admitted");
 * await opened.close();
 * ```
 *
 * @param settings The store settings, or `undefined` for none.
 * @param options The local replay cache, the error sink.
 * @returns The store.
 * @throws {ConfigError} When the settings or the password are invalid.
 */
export async function openAdmissionStore(
  settings: Readonly<StoreSettings> | undefined,
  options: OpenAdmissionStoreOptions = {},
): Promise<OpenedAdmissionStore> {
  if (settings === undefined) {
    const store = new LocalAdmission(
      options.replayCache === undefined
        ? {}
        : { replayCache: options.replayCache },
    );
    return { store, isRemote: false, close: () => store.close() };
  }
  const password = await readStorePassword(settings);
  const resolved = resolveStoreOptions(
    settings,
    password === undefined ? {} : { password },
  );
  const client = new RedisClient(resolved.address, {
    ...(resolved.password === undefined ? {} : { password: resolved.password }),
    connectTimeoutMs: resolved.timeoutMs,
    commandTimeoutMs: resolved.timeoutMs,
  });
  const store = await RedisAdmission.create(client, {
    prefix: resolved.prefix,
    leaseMs: resolved.leaseMs,
    ...(options.onError === undefined ? {} : { onError: options.onError }),
  });
  return {
    store,
    isRemote: true,
    async close() {
      await store.close();
      await client.close();
    },
  };
}

/**
 * The warning for a lease refresh or a release the store failed (which never
 * fails a handshake): the slot frees itself when its lease ends.
 *
 * @example
 * ```ts
 * import { slotUpkeepFailed } from "./fleet_admission.ts";
 * import assert from "node:assert/strict";
 * const event = slotUpkeepFailed(new Error("timeout"));
 * assert.equal(event.type, "warning");
 * assert.ok(event.type === "warning" && event.message.startsWith("store_unavailable"));
 * ```
 *
 * @param error What the store threw.
 * @returns The event to report.
 */
export function slotUpkeepFailed(error: unknown): GatewayEvent {
  return {
    type: "warning",
    message:
      "store_unavailable: a session slot was not refreshed or released; it frees itself when its lease ends",
    detail: String(error),
  };
}

/**
 * The hard timer on a store's answers: the settings' `--store-timeout`, or
 * its default (also for a worker asking its main thread, which has no
 * store settings).
 *
 * @example
 * ```ts
 * import { storeTimeoutMs } from "./fleet_admission.ts";
 * import assert from "node:assert/strict";
 * assert.equal(storeTimeoutMs(undefined), 1000);
 * assert.equal(storeTimeoutMs({ url: "redis://h", timeoutMs: 250 }), 250);
 * ```
 *
 * @param settings The store settings, if any.
 * @returns The timer in milliseconds.
 */
export function storeTimeoutMs(
  settings: Readonly<StoreSettings> | undefined,
): number {
  return settings?.timeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
}

/** Options of {@linkcode FleetAdmission}. */
export interface FleetAdmissionOptions {
  /**
   * The hard limit on one admission (and one health check), in ms; past it
   * the handshake gets 503 `store_unavailable`. `Infinity` for none (a
   * local store answers at once).
   * @default {Infinity}
   */
  timeoutMs?: number;
}

/**
 * Admits upgrades through one store with a hard timer, and maps the result
 * to the HTTP refusal.
 *
 * @example A second session from one address is refused with 429
 * ```ts
 * import { FleetAdmission } from "./fleet_admission.ts";
 * import { LocalAdmission } from "../security/local_admission.ts";
 * import assert from "node:assert/strict";
 * const fleet = new FleetAdmission(new LocalAdmission());
 * const request = { clientKey: "10.0.0.1", perIpLimit: 1 };
 * const first = await fleet.admit(request);
 * assert.equal(first.kind, "admitted");
 * const second = await fleet.admit(request);
 * assert.equal(second.kind === "refused" && second.refusal.status, 429);
 * if (first.kind === "admitted") await fleet.release(first.admission);
 * assert.equal(await fleet.checkHealth(), undefined);
 * ```
 */
export class FleetAdmission {
  #store: AdmissionStore;
  #timeoutMs: number;

  /**
   * Constructs a new instance.
   * @param store The process's one admission store.
   * @param options The hard timer.
   */
  constructor(store: AdmissionStore, options: FleetAdmissionOptions = {}) {
    this.#store = store;
    this.#timeoutMs = options.timeoutMs ?? Infinity;
  }

  /** The sessions this process holds in the store now. */
  get liveCount(): number {
    return this.#store.liveCount;
  }

  /**
   * Admits one upgrade, or says which refusal to send. A store that fails
   * or is later than the timer refuses with 503 (fail closed); an
   * admission that arrives after the timer is given back at once.
   * @param request The client, its caps, the ticket.
   * @returns The admission, or the refusal and its log detail.
   */
  async admit(request: AdmissionRequest): Promise<AdmissionOutcome> {
    const store = this.#store;
    const admitting = store.admit(request);
    let result;
    try {
      result = await this.#bounded(admitting);
    } catch (error) {
      return storeUnavailable(error);
    }
    if (result === undefined) {
      // Late: the session never opens, so a late admission spends nothing.
      admitting.then(
        (late) => {
          if (late.kind === "admitted") return store.releaseTicket(late);
        },
        () => {},
      );
      return storeUnavailable(
        `no answer within ${this.#timeoutMs} ms`,
      );
    }
    if (result.kind === "admitted") {
      return { kind: "admitted", admission: result };
    }
    switch (result.reason) {
      case "per_ip":
        return {
          kind: "refused",
          refusal: {
            status: 429,
            body: "Too many sessions from your address",
            headers: { "retry-after": "5" },
          },
          detail:
            `per-address limit ${request.perIpLimit} reached for ${request.clientKey}`,
        };
      case "capacity":
        return {
          kind: "refused",
          refusal: {
            status: 503,
            body: "Too many sessions",
            headers: { "retry-after": "5" },
          },
          detail: `session limit ${request.sessionLimit} reached`,
        };
      case "replayed":
        return {
          kind: "refused",
          refusal: { status: 401, body: "Unauthorized" },
          detail: "ticket refused: replayed",
        };
    }
  }

  /**
   * Frees the slot of a session that ended. Never rejects.
   * @param admission What {@linkcode FleetAdmission.admit} admitted.
   */
  release(admission: Admission): Promise<void> {
    return this.#store.release(admission).catch(() => {});
  }

  /**
   * Frees the slot and un-spends the ticket of a session that never opened
   * (the backend connect failed). Never rejects.
   * @param admission What {@linkcode FleetAdmission.admit} admitted.
   */
  releaseTicket(admission: Admission): Promise<void> {
    return this.#store.releaseTicket(admission).catch(() => {});
  }

  /**
   * Why the store cannot decide admissions now (unreachable, failing or
   * later than the timer), or `undefined` when it can; for `/healthz`.
   * @returns The reason, or `undefined`.
   */
  async checkHealth(): Promise<string | undefined> {
    const check = this.#store.checkHealth;
    if (check === undefined) return undefined;
    try {
      const answer = await this.#bounded(
        check.call(this.#store).then((problem) => ({ problem })),
      );
      return answer === undefined
        ? `store did not answer within ${this.#timeoutMs} ms`
        : answer.problem;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }

  /** `promise`'s value, or `undefined` when the timer ran out. */
  #bounded<T>(promise: Promise<T>): Promise<T | undefined> {
    return valueWithin(promise, this.#timeoutMs);
  }
}

function storeUnavailable(cause: unknown): AdmissionOutcome {
  const text = cause instanceof Error ? cause.message : String(cause);
  return {
    kind: "refused",
    refusal: {
      status: 503,
      body: STORE_UNAVAILABLE_BODY,
      headers: { "retry-after": "1" },
    },
    detail: `store_unavailable: ${text}`,
  };
}
