/**
 * The strict minimal HTTP/1.1 responder for requests that are not WebSocket
 * upgrades: GET/HEAD only, `Connection: close`. Serves `/healthz`,
 * `/metrics`, `/wsgate-client.js`, the console at `/_console`, the demo
 * page, and static files.
 *
 * @module
 */

import {
  consolePage,
  consolePageCsp,
  type ConsoleStats,
} from "./console_page.ts";
import type { StaticFiles } from "./static_files.ts";
import type { AuthCheck } from "../security/websockify_auth.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../observability/render_prometheus.ts";
import { encodeHttpResponse } from "./http_response.ts";
import type { RequestHead } from "./request_head.ts";

/** What the responder needs to know about the gateway. */
export interface HttpRouteContext {
  /** Whether the gateway is draining (healthz answers 503). */
  isDraining: boolean;
  /**
   * Whether `/healthz` is served here (off when an admin listener serves it).
   * @default {true}
   */
  isHealthEnabled?: boolean;
  /**
   * Renders the demo page served at `/` from the route paths; undefined
   * when the demo page is off.
   */
  demoPage: ((routes: readonly string[]) => string) | undefined;
  /**
   * Why the shared store cannot decide admissions (`/healthz` answers 503
   * with it), or `undefined` while it can.
   * @default {undefined}
   */
  storeProblem?: string | undefined;
  /** Whether `/_console` is served. */
  isConsoleEnabled: boolean;
  /** The configured WebSocket route paths. */
  routes: string[];
  /** Renders `/metrics`; undefined when metrics are not served here. */
  renderMetrics: (() => string) | undefined;
  /** The console's live stats. */
  consoleStats: () => ConsoleStats;
  /** Static files, if configured. */
  staticFiles: StaticFiles | undefined;
  /**
   * websockify's `--web-auth`: the auth plugin's check, run before any
   * answer. @default {undefined}
   */
  authCheck?: AuthCheck;
}

/** A response: head bytes, and a file to stream after them, if any. */
export interface HttpResponse {
  /** The head (and the whole body when small). */
  bytes: Uint8Array;
  /** A file body to stream after `bytes` (always closed by the writer). */
  file: Deno.FsFile | undefined;
}

const TEXT = { "content-type": "text/plain; charset=utf-8" };
const CLIENT_MODULE_URL = new URL(
  "../client/wsgate_client.js",
  import.meta.url,
);
let clientModule: Promise<Uint8Array> | undefined;
let consoleCsp: Promise<string> | undefined;

/**
 * Answers a non-upgrade request.
 *
 * @example Health check
 * ```ts
 * import { respondToHttpRequest } from "./http_routes.ts";
 * import { parseRequestHead } from "./request_head.ts";
 * import assert from "node:assert/strict";
 * const parsed = parseRequestHead(new TextEncoder().encode("GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n"), 8192);
 * if (parsed.kind !== "head") throw new Error("unreachable");
 * const response = await respondToHttpRequest(parsed.head, {
 *   isDraining: false, demoPage: undefined, isConsoleEnabled: false, routes: [],
 *   renderMetrics: undefined, staticFiles: undefined,
 *   consoleStats: () => ({ sessionsOpen: 0, bytesToBackend: 0, bytesToBrowser: 0, sessions: [] }),
 * });
 * assert.ok(new TextDecoder().decode(response.bytes).startsWith("HTTP/1.1 200 OK"));
 * ```
 *
 * @param head The request head.
 * @param context Gateway state.
 * @returns The response.
 */
export async function respondToHttpRequest(
  head: RequestHead,
  context: HttpRouteContext,
): Promise<HttpResponse> {
  const isHead = head.method === "HEAD";
  const reply = (
    status: number,
    headers: Record<string, string>,
    body: string | Uint8Array,
  ): HttpResponse => ({
    bytes: encodeHttpResponse(status, headers, body, isHead),
    file: undefined,
  });
  if (head.method !== "GET" && !isHead) {
    return reply(405, { ...TEXT, allow: "GET, HEAD" }, "Method not allowed\n");
  }
  const denied = context.authCheck?.(head.headers);
  if (denied !== undefined) {
    return reply(
      denied.status,
      { ...TEXT, ...denied.headers },
      `${denied.body}\n`,
    );
  }
  const path = head.path;
  if (path === "/healthz" && context.isHealthEnabled !== false) {
    if (context.isDraining) return reply(503, TEXT, "draining\n");
    return context.storeProblem === undefined
      ? reply(200, TEXT, "ok\n")
      : reply(503, TEXT, `store unavailable: ${context.storeProblem}\n`);
  }
  if (path === "/metrics" && context.renderMetrics !== undefined) {
    return reply(
      200,
      { "content-type": PROMETHEUS_CONTENT_TYPE },
      context.renderMetrics(),
    );
  }
  if (path === "/wsgate-client.js") {
    clientModule ??= Deno.readFile(CLIENT_MODULE_URL);
    return reply(200, {
      "content-type": "text/javascript; charset=utf-8",
      "cache-control": "no-cache",
    }, await clientModule);
  }
  if (context.isConsoleEnabled && path === "/_console") {
    consoleCsp ??= consolePageCsp();
    return reply(200, {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "content-security-policy": await consoleCsp,
    }, consolePage({ routes: context.routes }));
  }
  if (context.isConsoleEnabled && path === "/_console/stats") {
    return reply(200, {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
    }, JSON.stringify(context.consoleStats()));
  }
  if (
    context.demoPage !== undefined && (path === "/" || path === "/index.html")
  ) {
    return reply(200, {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
    }, context.demoPage(context.routes));
  }
  // A route path answers 426 to a plain request, unless the static root
  // has a file there: with --static beside a route at /, GET / serves
  // index.html as websockify's --web does, and only upgrades reach the route.
  const isRoutePath = context.routes.includes(path);
  const expectsUpgrade = (): HttpResponse =>
    reply(
      426,
      { ...TEXT, upgrade: "websocket" },
      "This path expects a WebSocket upgrade\n",
    );
  if (isRoutePath && context.staticFiles === undefined) return expectsUpgrade();
  if (context.staticFiles !== undefined) {
    // The static resolver decodes the path itself: hand it the raw target.
    const question = head.target.indexOf("?");
    const result = await context.staticFiles.resolve(
      question < 0 ? head.target : head.target.slice(0, question),
    );
    if (isRoutePath && result.status === 404) return expectsUpgrade();
    if (result.body instanceof Uint8Array) {
      return reply(result.status, result.headers, result.body);
    }
    const file = result.body;
    const size = (await file.stat()).size;
    let headText = `HTTP/1.1 ${result.status} OK\r\n`;
    for (const [name, value] of Object.entries(result.headers)) {
      if (name !== "content-length") headText += `${name}: ${value}\r\n`;
    }
    headText += `content-length: ${size}\r\nconnection: close\r\n\r\n`;
    if (isHead) {
      file.close();
      return { bytes: new TextEncoder().encode(headText), file: undefined };
    }
    return { bytes: new TextEncoder().encode(headText), file };
  }
  return reply(404, TEXT, "Not found\n");
}
