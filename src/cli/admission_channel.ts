/**
 * Admission shared by `--workers`: the main thread keeps the one
 * {@linkcode AdmissionStore} (a `LocalAdmission` without a fleet store) and
 * answers each worker over its own `MessagePort` ({@linkcode serveAdmission});
 * in a worker, {@linkcode RemoteAdmission} is the `AdmissionStore` the
 * gateway calls. N workers then decide ticket ids, per-IP and total counts in
 * one place, exactly like one process. One message round trip per handshake.
 *
 * @module
 */

import type {
  Admission,
  AdmissionRequest,
  AdmissionResult,
  AdmissionStore,
} from "../security/admission.ts";

/** A request from a worker to the main thread. */
export type AdmissionCall =
  | { id: number; op: "admit"; request: AdmissionRequest }
  | { id: number; op: "health" }
  | { id: number; op: "release" | "releaseTicket"; admission: Admission };

/** The main thread's answer to an {@linkcode AdmissionCall}. */
export type AdmissionAnswer =
  | { id: number; result: AdmissionResult | null }
  | { id: number; problem: string | undefined }
  | { id: number; error: string };

/** What {@linkcode serveAdmission} returns. */
export interface AdmissionService {
  /** The admissions held by this port's worker now. */
  readonly heldCount: number;
  /**
   * Stops answering and releases every admission the worker still holds:
   * call it when the worker exits or is terminated, so its sessions do not
   * stay counted.
   */
  close(): Promise<void>;
}

/**
 * Answers one worker's admission calls from the shared store.
 * @param port The main thread's end of the worker's channel.
 * @param store The process's one admission store.
 * @returns The service; close it when the worker ends.
 *
 * @example Usage
 * ```ts
 * import { RemoteAdmission, serveAdmission } from "./admission_channel.ts";
 * import { LocalAdmission } from "../security/local_admission.ts";
 * import assert from "node:assert/strict";
 * const shared = new LocalAdmission();
 * const channel = new MessageChannel();
 * const service = serveAdmission(channel.port1, shared);
 * const worker = new RemoteAdmission(channel.port2);
 * const result = await worker.admit({ clientKey: "10.0.0.1", perIpLimit: 1 });
 * assert.equal(result.kind, "admitted");
 * assert.equal(shared.liveCount, 1);
 * await worker.close();
 * await service.close(); // releases what the worker still held
 * assert.equal(shared.liveCount, 0);
 * ```
 */
export function serveAdmission(
  port: MessagePort,
  store: AdmissionStore,
): AdmissionService {
  const held = new Map<string, Admission>();
  let isClosed = false;
  port.onmessage = async (message: MessageEvent<AdmissionCall>) => {
    const call = message.data;
    try {
      let result: AdmissionResult | null = null;
      if (call.op === "health") {
        const problem = await store.checkHealth?.();
        if (!isClosed) port.postMessage({ id: call.id, problem });
        return;
      }
      if (call.op === "admit") {
        result = await store.admit(call.request);
        if (result.kind === "admitted") {
          if (isClosed) {
            await store.release(result);
            throw new Error("Cannot admit session as the worker has ended");
          }
          held.set(result.member, result);
        }
      } else if (held.delete(call.admission.member)) {
        // Only admissions this worker holds: a worker cannot free another's.
        await (call.op === "release"
          ? store.release(call.admission)
          : store.releaseTicket(call.admission));
      }
      if (!isClosed) port.postMessage({ id: call.id, result });
    } catch (error) {
      if (!isClosed) {
        port.postMessage({
          id: call.id,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
  };
  return {
    get heldCount() {
      return held.size;
    },
    async close() {
      if (isClosed) return;
      isClosed = true;
      port.onmessage = null;
      port.close();
      const admissions = [...held.values()];
      held.clear();
      await Promise.all(
        admissions.map((admission) => store.release(admission)),
      );
    },
  };
}

/** The error a worker's admit rejects with when the main thread fails it. */
export class AdmissionChannelError extends Error {
  /**
   * Constructs a new instance.
   * @param message What failed.
   */
  constructor(message: string) {
    super(message);
    this.name = "AdmissionChannelError";
  }
}

/**
 * The {@linkcode AdmissionStore} of a worker: forwards every call to the main
 * thread's store over a `MessagePort`.
 *
 * @example Usage
 * ```ts
 * import { RemoteAdmission, serveAdmission } from "./admission_channel.ts";
 * import { LocalAdmission } from "../security/local_admission.ts";
 * import assert from "node:assert/strict";
 * const channel = new MessageChannel();
 * const service = serveAdmission(channel.port1, new LocalAdmission());
 * const remote = new RemoteAdmission(channel.port2);
 * const admitted = await remote.admit({ clientKey: "a", perIpLimit: 5 });
 * if (admitted.kind === "admitted") await remote.release(admitted);
 * assert.equal(remote.liveCount, 0);
 * await remote.close();
 * await service.close();
 * ```
 */
export class RemoteAdmission implements AdmissionStore {
  #port: MessagePort;
  #nextId = 1;
  #waiting = new Map<
    number,
    {
      resolve: (answer: AdmissionAnswer) => void;
      reject: (e: Error) => void;
    }
  >();
  #live = new Set<string>();
  #isClosed = false;

  /**
   * Constructs a new instance.
   * @param port The worker's end of the channel.
   */
  constructor(port: MessagePort) {
    this.#port = port;
    port.onmessage = (message: MessageEvent<AdmissionAnswer>) => {
      const answer = message.data;
      const entry = this.#waiting.get(answer.id);
      if (entry === undefined) return;
      this.#waiting.delete(answer.id);
      if ("error" in answer) {
        entry.reject(new AdmissionChannelError(answer.error));
      } else entry.resolve(answer);
    };
  }

  /** The sessions this worker holds now. */
  get liveCount(): number {
    return this.#live.size;
  }

  /**
   * Asks the main thread to admit a session.
   * @param request The client, its caps, the ticket.
   * @returns The admission or the refusal.
   * @throws {AdmissionChannelError} When the main thread's store failed.
   */
  async admit(request: AdmissionRequest): Promise<AdmissionResult> {
    const answer = await this.#call({ op: "admit", request });
    const result = "result" in answer ? answer.result : null;
    if (result === null) {
      throw new AdmissionChannelError("Cannot admit session: no answer");
    }
    if (result.kind === "admitted") this.#live.add(result.member);
    return result;
  }

  /**
   * Frees the slot. Idempotent; never rejects.
   * @param admission The admission.
   */
  async release(admission: Admission): Promise<void> {
    if (!this.#live.delete(admission.member)) return;
    await this.#call({ op: "release", admission }).catch(() => {});
  }

  /**
   * Frees the slot and un-spends the ticket id. Idempotent; never rejects.
   * @param admission The admission.
   */
  async releaseTicket(admission: Admission): Promise<void> {
    if (!this.#live.delete(admission.member)) return;
    await this.#call({ op: "releaseTicket", admission }).catch(() => {});
  }

  /**
   * Asks the main thread's store why it cannot decide admissions now.
   * @returns The reason, or `undefined` when it can.
   */
  async checkHealth(): Promise<string | undefined> {
    try {
      const answer = await this.#call({ op: "health" });
      return "problem" in answer ? answer.problem : undefined;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }

  /** Closes the port; calls in flight reject. Idempotent. */
  close(): Promise<void> {
    if (!this.#isClosed) {
      this.#isClosed = true;
      this.#port.onmessage = null;
      this.#port.close();
      for (const entry of this.#waiting.values()) {
        entry.reject(new AdmissionChannelError("Cannot admit session: closed"));
      }
      this.#waiting.clear();
    }
    return Promise.resolve();
  }

  #call(
    call:
      | { op: "admit"; request: AdmissionRequest }
      | { op: "health" }
      | { op: "release" | "releaseTicket"; admission: Admission },
  ): Promise<AdmissionAnswer> {
    if (this.#isClosed) {
      return Promise.reject(
        new AdmissionChannelError("Cannot admit session: closed"),
      );
    }
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<
      AdmissionAnswer
    >();
    this.#waiting.set(id, { resolve, reject });
    this.#port.postMessage({ id, ...call });
    return promise;
  }
}
