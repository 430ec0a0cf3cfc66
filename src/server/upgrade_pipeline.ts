/**
 * The upgrade pipeline: what happens to a WebSocket upgrade request, step
 * by step, from the request head to a running session. Each step either
 * passes the request on or ends it (an HTTP refusal before the 101, a
 * close with 1011 after it); a step that ends it gives back what the steps
 * before it took.
 *
 * 1. **check**: the {@linkcode UpgradePolicy} (route, upgrade headers,
 *    origin, ticket, subprotocol, target; see `upgrade_policy.ts`);
 * 2. **admit**: not while draining; then the process's one admission
 *    store (local, the main thread's for `--workers`, or the fleet's Redis
 *    with `--store`, under `--store-timeout`) checks the session caps (total
 *    and per address) and spends the single-use ticket id, both or
 *    neither;
 * 3. **connect**: dial the backend (and send its PROXY header);
 * 4. **switch protocols**: negotiate permessage-deflate
 *    ({@linkcode CompressionNegotiator}) and write the 101;
 * 5. **open**: start the relay session ({@linkcode openSession}).
 *
 * @module
 */

import type { HttpRefusal, RequestHead } from "../http/request_head.ts";
import { computeAcceptKey } from "../websocket/handshake.ts";
import { closeQuietly } from "../io/close_quietly.ts";
import { CloseCode } from "../session/close_codes.ts";
import type { RelaySession } from "../session/relay.ts";
import { awaitOneRead } from "./_await_one_read.ts";
import { writeAll } from "../io/write_all.ts";
import {
  sendRefusal,
  switchingProtocols,
  switchingProtocolsThenClose,
} from "../http/http_replies.ts";
import type { Reporter } from "./_reporter.ts";
import {
  backendUnreachableSummary,
  sessionCloseEvent,
} from "./_session_reports.ts";
import { connectBackend } from "./backend_connect.ts";
import { type ClientAddress, proxyHeader } from "./client_address.ts";
import type { Generation } from "./generation.ts";
import { openSession } from "./open_session.ts";
import type {
  CompressionNegotiator,
  NegotiatedCompression,
} from "./_compression_negotiator.ts";
import { nextSessionId, type SessionLabels } from "./session_labels.ts";
import { sessionCaps, type SessionTable } from "./session_table.ts";
import type { Admission } from "../security/admission.ts";
import type { UpgradeDecision } from "./upgrade_policy.ts";

/** One upgrade request, its head read, on its way through the pipeline. */
export interface UpgradeRequest {
  /** The browser's connection. */
  conn: Deno.Conn;
  /** The request head. */
  head: RequestHead;
  /** The client's address (after PROXY and forwarded headers). */
  client: ClientAddress;
  /** Bytes that followed the request head, if any. */
  leftover: Uint8Array | undefined;
  /** The configuration generation the request is decided under. */
  generation: Generation;
}

/** An accepted policy decision. */
type Accepted = Extract<UpgradeDecision, { kind: "accept" }>;

/** Why a step ended the request before the 101, for the client and the log. */
interface StepRefusal {
  refusal: HttpRefusal;
  /** Operator-only detail. */
  detail: string;
}

/** Options of {@linkcode UpgradePipeline}. */
export interface UpgradePipelineOptions {
  /** The process's session table: caps, ticket ids, drain, open sessions. */
  table: SessionTable<RelaySession>;
  /** Where events and metrics go. */
  reporter: Reporter;
  /** Negotiates permessage-deflate under the process's memory budget. */
  compression: CompressionNegotiator;
}

/** Takes upgrade requests through the steps listed in the module doc. */
export class UpgradePipeline {
  #table: SessionTable<RelaySession>;
  #reporter: Reporter;
  #compression: CompressionNegotiator;

  /**
   * Creates the pipeline.
   * @param options The session table, the reporter and the compression.
   */
  constructor(options: UpgradePipelineOptions) {
    this.#table = options.table;
    this.#reporter = options.reporter;
    this.#compression = options.compression;
  }

  /**
   * Takes one request through every step; never throws for a refusal or a
   * backend that cannot be reached (both are answered and reported).
   * @param request The request.
   * @returns Resolves once the request is refused, closed, or its session
   * started.
   */
  async run(request: UpgradeRequest): Promise<void> {
    // 1. check
    const decision = await this.#check(request);
    if (decision.kind === "refuse") {
      return this.#refuse(request, decision);
    }
    // 2. admit
    const admitted = await this.#admit(request, decision);
    if (admitted.kind === "refused") return this.#refuse(request, admitted);
    const admission = admitted.admission;
    // 3. connect
    const labels: SessionLabels = {
      id: nextSessionId(),
      route: decision.route.path,
      client: request.client.text,
      target: decision.targetText,
    };
    const accept = computeAcceptKey(decision.key);
    const backend = await this.#connect(request, decision, {
      labels,
      accept,
      admission,
    });
    if (backend === undefined) return;
    // 4. switch protocols
    const negotiated = this.#compression.negotiate(
      request.head.headers.get("sec-websocket-extensions"),
      decision.route,
    );
    const isSwitched = await this.#switchProtocols(
      request,
      decision,
      backend,
      {
        accept,
        admission,
        ...(negotiated === undefined ? {} : { negotiated }),
      },
    );
    if (!isSwitched) {
      this.#compression.release(negotiated);
      return;
    }
    // 5. open
    openSession({
      labels,
      route: decision.route,
      config: request.generation.config,
      browser: request.conn,
      backend,
      leftover: request.leftover,
      admission,
      table: this.#table,
      reporter: this.#reporter,
      ...(negotiated === undefined ? {} : {
        compression: { negotiated, negotiator: this.#compression },
      }),
    });
  }

  /** Step 1: every check of the upgrade policy, in its order. */
  #check(request: UpgradeRequest): Promise<UpgradeDecision> {
    const { conn, generation } = request;
    const local = conn.localAddr;
    const peer = conn.remoteAddr;
    return generation.policy.decide(request.head, {
      ...(local.transport === "tcp" ? { listenPort: local.port } : {}),
      // A Unix socket is reached only through the local proxy in front.
      isFromTrustedProxy: peer.transport === "unix" ||
        (peer.transport === "tcp" &&
          generation.trustedProxies?.(peer.hostname) === true),
    });
  }

  /**
   * Step 2: admits the session or says why not. Admitted, it holds a slot
   * (given back by the steps after on failure, else when the session
   * ends) and its single-use ticket id is spent; refused, nothing is held.
   */
  async #admit(
    request: UpgradeRequest,
    decision: Accepted,
  ): Promise<
    | { kind: "admitted"; admission: Admission }
    | StepRefusal & {
      kind: "refused";
    }
  > {
    if (this.#table.isDraining) {
      return {
        kind: "refused",
        refusal: { status: 503, body: "Gateway shutting down" },
        detail: "draining",
      };
    }
    const caps = sessionCaps(request.generation.config);
    const ticket = decision.ticketUse;
    return await this.#table.admit({
      clientKey: request.client.ip,
      perIpLimit: caps.maxSessionsPerIp,
      sessionLimit: caps.maxSessions,
      ...(ticket === undefined ? {} : {
        ticketId: ticket.id,
        ticketExpiresAtMs: ticket.expiresAtMs,
      }),
    });
  }

  /**
   * Step 3: dials the backend. When it cannot be reached, the slot and the
   * ticket id are given back, the browser gets a 101 and a close 1011
   * "backend unreachable" (browsers never see a failed upgrade's status),
   * and `undefined` is returned.
   */
  async #connect(
    request: UpgradeRequest,
    decision: Accepted,
    started: { labels: SessionLabels; accept: string; admission: Admission },
  ): Promise<Deno.Conn | undefined> {
    const { labels, accept } = started;
    const { conn, client, generation } = request;
    const metrics = this.#reporter.metrics;
    const route = decision.route;
    const connectStarted = performance.now();
    let backend: Deno.Conn | undefined;
    try {
      backend = await connectBackend(
        decision.target,
        generation.config.connectTimeoutMs,
        generation.backendTls.get(route.path),
      );
      metrics.observeBackendConnectMs(performance.now() - connectStarted);
      if (route.proxyProtocol !== undefined) {
        await writeAll(
          backend,
          proxyHeader(route.proxyProtocol, client, conn.localAddr),
        );
      }
      return backend;
    } catch (error) {
      if (backend !== undefined) closeQuietly(backend);
      // No session opened: the ticket may be used again.
      this.#table.releaseTicket(started.admission);
      const detail = error instanceof Error ? error.message : String(error);
      this.#reporter.emit({
        type: "backend_error",
        sessionId: labels.id,
        detail,
      });
      await acceptThenClose(conn, {
        accept,
        subprotocol: decision.subprotocol,
        reason: "backend unreachable",
        lingerMs: generation.config.closeTimeoutMs,
      });
      metrics.sessionOpened(route.path);
      metrics.sessionClosed(route.path, CloseCode.INTERNAL_ERROR);
      this.#reporter.emit(
        sessionCloseEvent(labels, backendUnreachableSummary(detail)),
      );
      return undefined;
    }
  }

  /**
   * Step 4: writes the 101. When the browser is gone, both sockets are
   * closed, the slot is given back and `false` is returned.
   */
  async #switchProtocols(
    request: UpgradeRequest,
    decision: Accepted,
    backend: Deno.Conn,
    answer: {
      accept: string;
      admission: Admission;
      negotiated?: NegotiatedCompression;
    },
  ): Promise<boolean> {
    const conn = request.conn;
    try {
      await writeAll(
        conn,
        switchingProtocols(
          answer.accept,
          decision.subprotocol,
          answer.negotiated?.header,
        ),
      );
    } catch {
      this.#table.release(answer.admission);
      closeQuietly(conn);
      closeQuietly(backend);
      return false;
    }
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    return true;
  }

  /** Counts, logs and answers a refusal before the 101. */
  async #refuse(request: UpgradeRequest, refused: StepRefusal): Promise<void> {
    this.#reporter.refused(
      refused.refusal,
      request.client.text,
      request.head.path,
      refused.detail,
    );
    await sendRefusal(request.conn, refused.refusal);
  }
}

/** Options of {@linkcode acceptThenClose}. */
interface AcceptThenCloseOptions {
  /** The `Sec-WebSocket-Accept` value. */
  accept: string;
  /** The chosen subprotocol, if any. */
  subprotocol: string | undefined;
  /** The close reason the page can read (sent with 1011). */
  reason: string;
  /** How long to wait for the browser's answer, in milliseconds. */
  lingerMs: number;
}

/** Completes the upgrade only to close at once with a readable reason. */
async function acceptThenClose(
  conn: Deno.Conn,
  options: AcceptThenCloseOptions,
): Promise<void> {
  try {
    await writeAll(
      conn,
      switchingProtocolsThenClose(
        options.accept,
        options.subprotocol,
        CloseCode.INTERNAL_ERROR,
        options.reason,
      ),
    );
    // Give the browser a moment to answer the close frame, bounded.
    await awaitOneRead(conn, options.lingerMs);
  } catch {
    // The browser went away first.
  }
  closeQuietly(conn);
}
