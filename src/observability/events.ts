/**
 * The typed events wsgate emits while it runs ({@linkcode GatewayEvent}) and
 * the sink type that receives them ({@linkcode EventSink}). Library code never
 * logs: it hands events to a sink, and `cli/main.ts` decides how to print
 * them (see `log.ts`).
 *
 * Fields that hold text from the network (reasons, paths, details) are
 * untrusted; formatters must quote or escape them.
 *
 * @module
 */

/**
 * Which way bytes travel through the gateway: `to_backend` is browser to TCP
 * backend, `to_browser` is TCP backend to browser.
 */
export type TrafficDirection = "to_backend" | "to_browser";

/** The gateway started accepting connections. */
export interface ListeningEvent {
  /** Discriminant. */
  type: "listening";
  /** The address the listener is bound to, for example `127.0.0.1`. */
  hostname: string;
  /** The bound port (the real one when 0 was asked for). */
  port: number;
  /** Whether the listener speaks TLS (`wss://`). */
  tls: boolean;
}

/** A WebSocket was accepted and its backend connection is open. */
export interface SessionOpenEvent {
  /** Discriminant. */
  type: "session_open";
  /** The session id, unique within the process. */
  sessionId: string;
  /** The route (request path) the browser asked for. */
  route: string;
  /** The browser's address as `host:port`. */
  client: string;
  /** The backend as `host:port` or `unix:/path`. */
  target: string;
}

/** A session ended; counts cover the whole session. */
export interface SessionCloseEvent {
  /** Discriminant. */
  type: "session_close";
  /** The session id. */
  sessionId: string;
  /** The route of the session. */
  route: string;
  /** The browser's address as `host:port`. */
  client: string;
  /** The backend as `host:port` or `unix:/path`. */
  target: string;
  /** The WebSocket close code sent or received. */
  code: number;
  /** The short close reason the browser sees (may be empty). */
  reason: string;
  /** Operator-only detail (errno, which side ended first...); may be empty. */
  detail: string;
  /** Payload bytes relayed from browser to backend. */
  bytesToBackend: number;
  /** Payload bytes relayed from backend to browser. */
  bytesToBrowser: number;
  /** Messages relayed from browser to backend. */
  framesToBackend: number;
  /** Messages relayed from backend to browser. */
  framesToBrowser: number;
  /** Session lifetime in milliseconds. */
  durationMs: number;
}

/** An upgrade request was refused with an HTTP status before upgrading. */
export interface HandshakeRefusedEvent {
  /** Discriminant. */
  type: "handshake_refused";
  /** The HTTP status sent (400, 401, 403, 404, 429, 431, 503...). */
  status: number;
  /** The short fixed reason the client sees, for example `origin not allowed`. */
  reason: string;
  /** Operator-only detail, for example the rejected origin. */
  detail: string;
  /** The client's address as `host:port`. */
  client: string;
  /** The request path. */
  path: string;
}

/** The backend of a session could not be reached or failed mid-session. */
export interface BackendErrorEvent {
  /** Discriminant. */
  type: "backend_error";
  /** The session id. */
  sessionId: string;
  /** What failed, for example `connect 10.0.0.5:5900: ECONNREFUSED`. */
  detail: string;
}

/** Bytes relayed in one direction; emitted only with `--log-traffic`. */
export interface TrafficEvent {
  /** Discriminant. */
  type: "traffic";
  /** The session id. */
  sessionId: string;
  /** Which way the bytes went. */
  direction: TrafficDirection;
  /** The message payload (possibly cut short). Formatters cap how much of it they print. */
  bytes: Uint8Array;
  /** The full message size in bytes, when `bytes` was cut short. */
  size?: number;
}

/**
 * A normal shutdown began (a signal, or the embedder): open sessions are
 * being drained.
 */
export interface ShuttingDownEvent {
  /** Discriminant. */
  type: "shutting_down";
  /** What asked for it, for example `SIGTERM`. */
  cause: string;
}

/** Something the operator should know about that did not stop anything. */
export interface GatewayWarningEvent {
  /** Discriminant. */
  type: "warning";
  /** One-line summary. */
  message: string;
  /** Optional detail. */
  detail?: string;
}

/** An unexpected failure (a bug or an environment problem). */
export interface GatewayErrorEvent {
  /** Discriminant. */
  type: "error";
  /** One-line summary. */
  message: string;
  /** Optional detail, for example an error stack. */
  detail?: string;
  /** The session concerned, if any. */
  sessionId?: string;
}

/**
 * Everything wsgate reports, discriminated by `type`.
 *
 * @example Narrowing on `type`
 * ```ts
 * import type { GatewayEvent } from "./events.ts";
 * import assert from "node:assert/strict";
 * const event: GatewayEvent = { type: "backend_error", sessionId: "s1", detail: "refused" };
 * assert.equal(event.type === "backend_error" ? event.detail : "", "refused");
 * ```
 */
export type GatewayEvent =
  | ListeningEvent
  | SessionOpenEvent
  | SessionCloseEvent
  | HandshakeRefusedEvent
  | BackendErrorEvent
  | TrafficEvent
  | ShuttingDownEvent
  | GatewayWarningEvent
  | GatewayErrorEvent;

/**
 * Receives gateway events. Called synchronously on the hot path: a sink must
 * be quick and must not throw.
 *
 * @example Collecting events
 * ```ts
 * import type { EventSink, GatewayEvent } from "./events.ts";
 * import assert from "node:assert/strict";
 * const seen: GatewayEvent[] = [];
 * const sink: EventSink = (event) => seen.push(event);
 * sink({ type: "warning", message: "slow backend" });
 * assert.equal(seen.length, 1);
 * ```
 */
export type EventSink = (event: GatewayEvent) => void;
