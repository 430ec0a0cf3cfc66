/**
 * Every check made before a WebSocket upgrade is accepted, in one place:
 * route, upgrade headers, auth plugin, origin, ticket, subprotocol and target (fixed,
 * token file or dynamic allow-list, resolved once so the checked address is
 * the dialled one, within `connectTimeoutMs`). A refusal is an HTTP status
 * with a short fixed body; the detail goes to the log only.
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import type {
  BackendTarget,
  ResolvedGatewayConfig,
  ResolvedRoute,
} from "../config/config.ts";
import { StoreClientPool } from "../store/store_client_pool.ts";
import { RouteTokens } from "./route_tokens.ts";
import {
  type BackendPolicy,
  compileBackendPolicy,
} from "../security/backend_policy.ts";
import {
  compileOriginPolicy,
  type OriginCheck,
  type OriginPolicy,
} from "../security/origin_policy.ts";
import { ReplayCache } from "../security/replay_cache.ts";
import { withTimeout } from "../io/deadline_queue.ts";
import {
  importTicketKey,
  type TicketClaims,
  TicketError,
  verifyTicket,
} from "../security/ticket.ts";
import type { HttpRefusal, RequestHead } from "../http/request_head.ts";
import { checkUpgradeHeaders } from "../websocket/handshake.ts";
import {
  chooseSubprotocol,
  splitSubprotocols,
} from "../websocket/subprotocol.ts";
import { formatTarget } from "./backend_connect.ts";
import { targetLookups } from "./target_lookups.ts";
import { ConfigError } from "../errors.ts";

/** The prefix of a `Sec-WebSocket-Protocol` entry that carries a ticket. */
export const TICKET_SUBPROTOCOL_PREFIX = "wsgate.ticket.";

/** The verdict for one upgrade request. */
export type UpgradeDecision =
  | {
    kind: "refuse";
    refusal: HttpRefusal;
    /** Operator-only detail for the log. */
    detail: string;
  }
  | {
    kind: "accept";
    route: ResolvedRoute;
    /** What to dial (for dynamic routes: the checked, resolved address). */
    target: BackendTarget;
    /** The target as text, for logs. */
    targetText: string;
    /** The `Sec-WebSocket-Key`. */
    key: string;
    /** The chosen subprotocol, if any. */
    subprotocol: string | undefined;
    /**
     * A single-use ticket's id, checked unused but not yet spent: the
     * session table spends it only once every capacity check admitted the
     * session, and gives it back when the backend connect fails.
     */
    ticketUse?: TicketUse;
  };

/** A single-use ticket's id and how long it must stay spent. */
export interface TicketUse {
  /** The ticket's `jti`. */
  id: string;
  /** When the id may be forgotten (`exp` + 30 s), in ms since the epoch. */
  expiresAtMs: number;
}

/** Options of {@linkcode UpgradePolicy}. */
export interface UpgradePolicyOptions {
  /**
   * The used single-use ticket ids. The server passes the process's one
   * cache, so ids stay used across reloads.
   * @default {a new ReplayCache}
   */
  replayCache?: ReplayCache;
  /**
   * The process's Redis clients for `tokens: "redis"` routes (the server
   * passes its one pool, kept across reloads and closed with it).
   * @default {a new StoreClientPool, never closed}
   */
  storeClients?: StoreClientPool;
}

/** Where an upgrade request came in, for {@linkcode UpgradePolicy.decide}. */
export interface UpgradeConnection {
  /**
   * The port the request came in on, which a loopback gateway's `Host` must
   * name.
   * @default {the configured port (none when it is 0)}
   */
  listenPort?: number;
  /**
   * Whether the peer is a trusted proxy (`trustedProxies`); the loopback
   * `Host` check does not apply behind one.
   * @default {false}
   */
  isFromTrustedProxy?: boolean;
}

/** Compiled access policy for one configuration. */
export class UpgradePolicy {
  #config: ResolvedGatewayConfig;
  #origins: OriginPolicy;
  #proxiedOrigins: OriginPolicy;
  #tokens: RouteTokens;
  #dynamic = new Map<string, BackendPolicy>();
  #ticketKey: CryptoKey | undefined;
  #replayCache: ReplayCache;

  /**
   * Compiles the policy; call {@linkcode UpgradePolicy.init} before use.
   * @param config The resolved configuration.
   * @param options The shared replay cache.
   */
  constructor(
    config: ResolvedGatewayConfig,
    options: UpgradePolicyOptions = {},
  ) {
    this.#config = config;
    this.#replayCache = options.replayCache ?? new ReplayCache();
    this.#tokens = new RouteTokens(
      config,
      options.storeClients ?? new StoreClientPool(),
    );
    this.#origins = compileOriginPolicy(config.allowOrigins, {
      listenHostname: config.hostname,
    });
    this.#proxiedOrigins = compileOriginPolicy(config.allowOrigins);
    for (const route of config.routes.values()) {
      if (route.dynamic !== undefined) {
        this.#dynamic.set(route.path, compileBackendPolicy(route.dynamic));
      }
    }
  }

  /**
   * Loads token files and keys, sets up token stores and imports the ticket
   * key; throws `ConfigError`.
   */
  async init(): Promise<void> {
    const problems = await this.#tokens.init();
    if (this.#config.ticketSecret !== undefined) {
      this.#ticketKey = await importTicketKey(this.#config.ticketSecret);
    }
    if (problems.length > 0) throw new ConfigError(problems);
  }

  /**
   * Decides an upgrade request. For a dynamic target given by name this
   * includes one DNS lookup, bounded by `connectTimeoutMs` (504 past it).
   * @param head The request head.
   * @param connection Where the request came in: the listener's port and
   * whether the peer is a trusted proxy.
   * @returns The decision.
   */
  async decide(
    head: RequestHead,
    connection: UpgradeConnection = {},
  ): Promise<UpgradeDecision> {
    const route = this.#config.routes.get(head.path);
    if (route === undefined) {
      return refuse(404, "No such route", `no route for path "${head.path}"`);
    }
    const checked = checkUpgradeHeaders(head);
    if (!("key" in checked)) {
      return { kind: "refuse", refusal: checked, detail: checked.body };
    }
    // websockify's --auth-plugin (BasicHTTPAuth, ExpectOrigin).
    const denied = this.#config.authCheck?.(head.headers);
    if (denied !== undefined) {
      return {
        kind: "refuse",
        refusal: {
          status: denied.status,
          body: denied.body,
          headers: { ...denied.headers },
        },
        detail: `auth plugin: ${denied.detail}`,
      };
    }
    const host = head.headers.get("host") ?? null;
    const port = connection.listenPort ??
      (this.#config.port === 0 ? undefined : this.#config.port);
    // Behind a trusted proxy the browser reached the proxy, not this
    // loopback listener: the Host names the proxy, so only same-origin holds.
    const origin = connection.isFromTrustedProxy === true
      ? this.#proxiedOrigins(head.headers.get("origin") ?? null, host)
      : this.#origins(head.headers.get("origin") ?? null, host, port);
    if (!origin.allowed) {
      return refuse(
        403,
        "Origin not allowed",
        originRefusalDetail(origin, host, port),
      );
    }
    const offered = splitSubprotocols(
      head.headers.get("sec-websocket-protocol"),
    );
    const ticketEntry = offered.find((entry) =>
      entry.startsWith(TICKET_SUBPROTOCOL_PREFIX)
    );
    const protocols = offered.filter((entry) => entry !== ticketEntry);
    // Tickets are checked before anything about the target is looked up,
    // so tokens and names cannot be probed without a valid ticket.
    let claims: TicketClaims | undefined;
    if (route.requireTicket) {
      const ticket = head.query.get("ticket") ??
        ticketEntry?.slice(TICKET_SUBPROTOCOL_PREFIX.length);
      if (ticket === undefined || ticket === "") {
        return refuse(401, "Unauthorized", "ticket missing");
      }
      try {
        claims = await verifyTicket(ticket, this.#ticketKey!, {
          route: route.path,
          isTargetChecked: false,
          requireJti: route.singleUseTickets,
        });
      } catch (error) {
        return refuse(
          401,
          "Unauthorized",
          `ticket refused: ${ticketReason(error)}`,
        );
      }
    }
    // A route without subprotocols relays transparently (binary, else the
    // first offer); a route that lists some is strict.
    const choice = chooseSubprotocol(protocols, route.subprotocols);
    if (choice.kind === "refuse") {
      return refuse(400, choice.body, choice.detail);
    }
    const subprotocol = choice.protocol;
    const target = await this.#resolveTarget(route, head);
    if ("refusal" in target) return { kind: "refuse", ...target };
    let ticketUse: TicketUse | undefined;
    if (claims !== undefined) {
      if (claims.target !== undefined && claims.target !== target.claimText) {
        return refuse(
          401,
          "Unauthorized",
          `ticket refused: wrong target: expected ${
            JSON.stringify(target.claimText)
          }, ticket has ${JSON.stringify(claims.target)}`,
        );
      }
      if (route.singleUseTickets) {
        // Checked here, spent only once the session is admitted.
        if (this.#replayCache.isHeld(claims.jti!, Date.now())) {
          return refuse(401, "Unauthorized", "ticket refused: replayed");
        }
        ticketUse = { id: claims.jti!, expiresAtMs: (claims.exp + 30) * 1000 };
      }
    }
    return {
      kind: "accept",
      route,
      target: target.target,
      targetText: target.text,
      key: checked.key,
      // Browsers fail a connection whose offered protocols all go
      // unanswered, so a ticket offered alone is echoed back.
      subprotocol: subprotocol ??
        (protocols.length === 0 ? ticketEntry : undefined),
      ...(ticketUse === undefined ? {} : { ticketUse }),
    };
  }

  async #resolveTarget(
    route: ResolvedRoute,
    head: RequestHead,
  ): Promise<
    | { target: BackendTarget; text: string; claimText: string }
    | { refusal: HttpRefusal; detail: string }
  > {
    if (route.target !== undefined) {
      const text = formatTarget(route.target);
      return { target: route.target, text, claimText: text };
    }
    const policy = this.#dynamic.get(route.path);
    if (RouteTokens.isTokenRoute(route)) {
      const found = await this.#tokens.resolve(route, head);
      if (found.kind === "refuse") {
        return {
          refusal: {
            status: found.status,
            body: found.body,
            ...(found.headers === undefined
              ? {}
              : { headers: { ...found.headers } }),
          },
          detail: found.detail,
        };
      }
      const target = found.target;
      if (policy === undefined) {
        const text = formatTarget(target);
        return { target, text, claimText: text };
      }
      // The route's allow-list also bounds what a token may name, so a
      // write to the token store cannot reach what the operator denied.
      if (target.transport !== "tcp") {
        return {
          refusal: { status: 403, body: "Target not allowed" },
          detail: `token target ${
            formatTarget(target)
          } refused: a Unix socket is outside the allow-list`,
        };
      }
      return await this.#checkAllowed(policy, target.hostname, target.port);
    }
    const host = head.query.get("host") ?? "";
    // Decimal digits only: Number() would also read "0x50" or "8e1" as 80.
    const portText = head.query.get("port") ?? "";
    const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (host === "" || !Number.isInteger(port) || port < 1 || port > 65535) {
      return {
        refusal: { status: 400, body: "Expected host and port parameters" },
        detail: `bad dynamic target ${JSON.stringify(host)}:${
          head.query.get("port")
        }`,
      };
    }
    return await this.#checkAllowed(policy!, host, port);
  }

  /**
   * Checks a target named by the browser or a token against the route's
   * allow-list; a name is resolved once, and the address that passes is
   * the one dialled.
   */
  async #checkAllowed(
    policy: BackendPolicy,
    host: string,
    port: number,
  ): Promise<
    | { target: BackendTarget; text: string; claimText: string }
    | { refusal: HttpRefusal; detail: string }
  > {
    const check = policy.checkTarget(host, port);
    if (check.kind === "refused") {
      return targetRefused(host, port, check.reason);
    }
    const claimText = host.includes(":")
      ? `[${host}]:${port}`
      : `${host}:${port}`;
    if (check.kind === "address") {
      const target = {
        transport: "tcp" as const,
        hostname: check.address,
        port,
      };
      return { target, text: formatTarget(target), claimText };
    }
    // Resolve once; the address that passes the check is the one dialled,
    // so a later DNS answer cannot point the session elsewhere. Resolving
    // is the first step of reaching the backend, so the connect timeout
    // bounds it too: without it only the resolver's own retries did.
    const lookingUp = targetLookups.track(() =>
      lookup(check.name, { all: true })
    );
    if (lookingUp === undefined) {
      return {
        refusal: {
          status: 503,
          body: "Too many target lookups in progress",
          headers: { "retry-after": "5" },
        },
        detail: `not resolving ${
          JSON.stringify(check.name)
        }: ${targetLookups.inFlight} lookups in flight (limit ${targetLookups.max})`,
      };
    }
    const lookedUp = await awaitTargetLookup(
      check.name,
      lookingUp,
      this.#config.connectTimeoutMs,
    );
    if ("refusal" in lookedUp) return lookedUp;
    const addresses = lookedUp.addresses;
    const allowed = addresses.find((entry) =>
      policy.isAllowedResolvedAddress(entry.address, port)
    );
    if (allowed === undefined) {
      return targetRefused(
        host,
        port,
        `resolves only to denied addresses ${
          addresses.map((entry) => entry.address).join(", ")
        }`,
      );
    }
    const target = {
      transport: "tcp" as const,
      hostname: allowed.address,
      port,
      // Backend TLS verifies the name the client asked for, not the IP.
      serverName: check.name,
    };
    return {
      target,
      text: `${host}:${port} (${formatTarget(target)})`,
      claimText,
    };
  }
}

/**
 * Waits for the DNS lookup of a dynamic target name, at most `deadlineMs`.
 * A lookup that fails is a 502 refusal; one still unanswered at the
 * deadline is a 504 refusal (the lookup itself runs on, its answer unused).
 *
 * @example A lookup that never answers
 * ```ts
 * import { awaitTargetLookup } from "./upgrade_policy.ts";
 * import assert from "node:assert/strict";
 * const result = await awaitTargetLookup("slow.example", new Promise(() => {}), 1);
 * assert.ok("refusal" in result);
 * assert.equal(result.refusal.status, 504);
 * ```
 *
 * @param name The name being resolved, for the log.
 * @param lookingUp The pending lookup (`node:dns` `lookup` with `all`).
 * @param deadlineMs The longest wait, in milliseconds.
 * @returns The addresses, or the refusal with its log detail.
 */
export async function awaitTargetLookup(
  name: string,
  lookingUp: Promise<readonly { address: string }[]>,
  deadlineMs: number,
): Promise<
  | { addresses: readonly { address: string }[] }
  | { refusal: HttpRefusal; detail: string }
> {
  let addresses: readonly { address: string }[] | undefined;
  try {
    await withTimeout(
      lookingUp.then((found) => {
        addresses = found;
      }),
      deadlineMs,
    );
  } catch (error) {
    return {
      refusal: { status: 502, body: "Target name does not resolve" },
      detail: `cannot resolve ${JSON.stringify(name)}: ${
        error instanceof Error ? error.message : String(error)
      }`,
    };
  }
  if (addresses === undefined) {
    return {
      refusal: { status: 504, body: "Target name lookup timed out" },
      detail: `cannot resolve ${
        JSON.stringify(name)
      }: no answer within ${deadlineMs} ms`,
    };
  }
  return { addresses };
}

/**
 * The log detail of an origin refusal: what was refused, why, and the flag
 * that would let it in.
 */
function originRefusalDetail(
  check: OriginCheck,
  host: string | null,
  listenPort: number | undefined,
): string {
  const origin = JSON.stringify(check.origin);
  switch (check.reason) {
    case "non-loopback-host":
      return `host ${JSON.stringify(host)} refused: a loopback gateway ` +
        `accepts only loopback Host names (localhost, 127.0.0.1, [::1])` +
        (listenPort === undefined ? "" : ` on port ${listenPort}`) +
        ` unless origins are listed (DNS rebinding); list the pages allowed ` +
        `to connect with --allow-origin (or name a proxy in front with ` +
        `--trust-proxy)`;
    case "cross-origin":
    case "not-listed":
      return `origin ${origin} refused (${check.reason}): add --allow-origin ${check.origin}`;
    default:
      return `origin ${origin} refused (${check.reason})`;
  }
}

/**
 * The log detail of a refused ticket: the reason, then its values. The
 * error's message restates the reason, so it is not appended whole (that
 * read "missing jti: Cannot accept ticket as it is refused: missing jti").
 */
function ticketReason(error: unknown): string {
  if (!(error instanceof TicketError)) return String(error);
  return error.detail === undefined
    ? error.reason
    : `${error.reason} (${error.detail})`;
}

function targetRefused(
  host: string,
  port: number,
  reason: string,
): { refusal: HttpRefusal; detail: string } {
  return {
    refusal: { status: 403, body: "Target not allowed" },
    detail: `dynamic target ${JSON.stringify(host)}:${port} refused: ${reason}`,
  };
}

function refuse(status: number, body: string, detail: string): UpgradeDecision {
  return { kind: "refuse", refusal: { status, body }, detail };
}
