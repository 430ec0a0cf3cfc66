/**
 * The body of one gateway worker thread (see `workers.ts`).
 *
 * @module
 */

import { createGatewayWithAdmission, type Gateway } from "../server/gateway.ts";
import { RemoteAdmission } from "./admission_channel.ts";
import { ConfigError } from "../errors.ts";
import type { WorkerCommand, WorkerReport } from "./workers.ts";

const scope = self as unknown as {
  postMessage(report: WorkerReport): void;
  onmessage: ((message: MessageEvent<WorkerCommand>) => void) | null;
  close(): void;
};

// A bug in one session must not take the worker (and its sessions) down.
globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  scope.postMessage({
    type: "event",
    event: {
      type: "error",
      message: "unhandled rejection (bug); the worker keeps running",
      detail: String(event.reason),
    },
  });
});

let gateway: Gateway | undefined;
let admission: RemoteAdmission | undefined;
let summedMetrics: string | undefined;
let timer: ReturnType<typeof setInterval> | undefined;

scope.onmessage = async (message) => {
  const command = message.data;
  switch (command.type) {
    case "start":
      try {
        // Admissions are decided by the main thread, for all workers.
        admission = new RemoteAdmission(command.admissionPort);
        gateway = createGatewayWithAdmission({
          // As in a single process: the CLI warms up unless told not to.
          warmUp: true,
          ...command.options,
          onEvent: (event) => scope.postMessage({ type: "event", event }),
          metricsRenderer: () => summedMetrics ?? gateway!.renderMetrics(),
        }, admission);
        const addr = await gateway.listen();
        timer = setInterval(() => {
          scope.postMessage({
            type: "snapshot",
            snapshot: gateway!.metrics.snapshot(),
            isDraining: gateway!.isDraining,
          });
        }, 500);
        scope.postMessage({
          type: "listening",
          hostname: addr.hostname,
          port: addr.port,
        });
      } catch (error) {
        scope.postMessage({
          type: "failed",
          message: (error as Error).message,
          ...(error instanceof ConfigError
            ? { problems: [...error.problems] }
            : {}),
        });
      }
      break;
    case "reload":
      try {
        await gateway!.reload(command.options);
        scope.postMessage({ type: "reloaded" });
      } catch (error) {
        scope.postMessage({
          type: "reloaded",
          problems: error instanceof ConfigError
            ? [...error.problems]
            : [String(error)],
        });
      }
      break;
    case "metrics":
      summedMetrics = command.text;
      break;
    case "close":
      clearInterval(timer);
      await gateway?.close();
      await admission?.close();
      scope.postMessage({ type: "closed" });
      break;
  }
};
