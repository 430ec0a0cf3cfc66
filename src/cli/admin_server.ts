/**
 * The optional admin listener (`--admin-listen`): `/metrics` and `/healthz`
 * on an address of their own, so they need not be exposed with the gateway
 * port. Not on the data path, so it uses the runtime's HTTP server.
 *
 * @module
 */

import { PROMETHEUS_CONTENT_TYPE } from "../observability/render_prometheus.ts";

/** What the admin server reads. */
export interface AdminSources {
  /** Renders the Prometheus text. */
  renderMetrics(): string;
  /** Whether the gateway is draining. */
  isDraining(): boolean;
  /**
   * Why the gateway's listener is not accepting connections, or `undefined`
   * while it is; `/healthz` answers 503 with it. Absent: always accepting.
   */
  acceptFailure?(): string | undefined;
  /**
   * Why the admission store (`--store`) cannot decide admissions now, or
   * `undefined` when it can; `/healthz` answers 503 with it. Absent: a
   * store in the process, always able.
   */
  storeProblem?(): Promise<string | undefined>;
}

/**
 * Starts the admin server.
 *
 * @example
 * ```ts
 * import { startAdminServer } from "./admin_server.ts";
 * import assert from "node:assert/strict";
 * const admin = startAdminServer({ hostname: "127.0.0.1", port: 0 }, {
 *   renderMetrics: () => "m 1\n", isDraining: () => false,
 * });
 * const response = await fetch(`http://127.0.0.1:${admin.addr.port}/metrics`);
 * assert.equal(await response.text(), "m 1\n");
 * await admin.close();
 * ```
 *
 * @param address Where to listen.
 * @param sources What to serve.
 * @returns The address and a close function.
 */
export function startAdminServer(
  address: { hostname: string; port: number },
  sources: AdminSources,
): { addr: Deno.NetAddr; close(): Promise<void> } {
  const server = Deno.serve({
    hostname: address.hostname,
    port: address.port,
    onListen: () => {},
  }, async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/metrics") {
      return new Response(sources.renderMetrics(), {
        headers: { "content-type": PROMETHEUS_CONTENT_TYPE },
      });
    }
    if (path === "/healthz") {
      if (sources.isDraining()) {
        return new Response("draining\n", { status: 503 });
      }
      const failure = sources.acceptFailure?.();
      if (failure !== undefined) {
        return new Response(`not accepting: ${failure}\n`, { status: 503 });
      }
      const problem = await sources.storeProblem?.();
      return problem === undefined
        ? new Response("ok\n")
        : new Response(`store unavailable: ${problem}\n`, { status: 503 });
    }
    return new Response("Not found\n", { status: 404 });
  });
  return {
    addr: server.addr,
    close: () => server.shutdown(),
  };
}
