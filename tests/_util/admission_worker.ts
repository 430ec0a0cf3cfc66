/**
 * A Worker for the `--workers` admission tests: it receives its
 * `MessagePort` to the main thread, then on `{ attempts, request }` runs that
 * many concurrent admits through a `RemoteAdmission` and reports the results.
 *
 * @module
 */

import { RemoteAdmission } from "../../src/cli/admission_channel.ts";
import type { AdmissionRequest } from "../../src/security/admission.ts";

interface WorkerScope {
  postMessage(message: unknown): void;
  onmessage: ((message: MessageEvent) => void) | null;
}
const scope = self as unknown as WorkerScope;
let remote: RemoteAdmission | undefined;

scope.onmessage = async (message: MessageEvent) => {
  const data = message.data as
    | { port: MessagePort }
    | { attempts: number; request: AdmissionRequest }
    | { close: true };
  if ("port" in data) {
    remote = new RemoteAdmission(data.port);
    scope.postMessage({ ready: true });
  } else if ("attempts" in data) {
    const results = await Promise.all(
      Array.from({ length: data.attempts }, () => remote!.admit(data.request)),
    );
    scope.postMessage({ results });
  } else {
    await remote?.close();
    scope.postMessage({ closed: true });
  }
};
