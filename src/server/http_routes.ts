/**
 * The strict minimal HTTP/1.1 responder for requests that are not WebSocket
 * upgrades: GET/HEAD only, `Connection: close`. Serves `/healthz` and the
 * demo page.
 *
 * @module
 */

import { demoPageHtml } from "../demo/demo_page.ts";
import {
  encodeHttpResponse,
  type RequestHead,
} from "../websocket/handshake.ts";

/** What the responder needs to know about the gateway. */
export interface HttpRouteContext {
  /** Whether the gateway is draining (healthz answers 503). */
  isDraining: boolean;
  /** Whether `/` serves the demo page. */
  isDemoPageEnabled: boolean;
  /** The configured WebSocket route paths. */
  routes: string[];
}

const TEXT = { "content-type": "text/plain; charset=utf-8" };

/**
 * Answers a non-upgrade request with the full response bytes.
 *
 * @example
 * ```ts
 * import { respondToHttpRequest } from "./http_routes.ts";
 * import { parseRequestHead } from "../websocket/handshake.ts";
 * import assert from "node:assert/strict";
 * const parsed = parseRequestHead(new TextEncoder().encode("GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n"), 8192);
 * assert.equal(parsed.kind, "head");
 * if (parsed.kind === "head") {
 *   const text = new TextDecoder().decode(respondToHttpRequest(parsed.head, { isDraining: false, isDemoPageEnabled: false, routes: [] }));
 *   assert.ok(text.startsWith("HTTP/1.1 200 OK"));
 * }
 * ```
 *
 * @param head The request head.
 * @param context Gateway state.
 * @returns The response bytes.
 */
export function respondToHttpRequest(
  head: RequestHead,
  context: HttpRouteContext,
): Uint8Array {
  const isHead = head.method === "HEAD";
  if (head.method !== "GET" && !isHead) {
    return encodeHttpResponse(
      405,
      { ...TEXT, allow: "GET, HEAD" },
      "Method not allowed\n",
    );
  }
  if (head.path === "/healthz") {
    return context.isDraining
      ? encodeHttpResponse(503, TEXT, "draining\n", isHead)
      : encodeHttpResponse(200, TEXT, "ok\n", isHead);
  }
  if (
    context.isDemoPageEnabled &&
    (head.path === "/" || head.path === "/index.html")
  ) {
    return encodeHttpResponse(
      200,
      {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
      },
      demoPageHtml(context.routes),
      isHead,
    );
  }
  if (context.routes.includes(head.path)) {
    return encodeHttpResponse(
      426,
      { ...TEXT, upgrade: "websocket" },
      "This path expects a WebSocket upgrade\n",
      isHead,
    );
  }
  return encodeHttpResponse(404, TEXT, "Not found\n", isHead);
}
