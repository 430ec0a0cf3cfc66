/**
 * The one interface every websockify-style token plugin implements, so the
 * upgrade pipeline can ask any of them for a target, and
 * {@linkcode tokenOfRequest}, which finds the token as websockify does
 * (`?token=`, or the Host header without its port with `--host-token`).
 *
 * @module
 */

import type { TokenTarget } from "./token_file.ts";

/** What a resolver answers. */
export type TokenResolution =
  | {
    /** The token leads here. */
    readonly kind: "target";
    /** The backend. */
    readonly target: TokenTarget;
  }
  | {
    /** Refuse the upgrade. */
    readonly kind: "refuse";
    /** The HTTP status (404 unknown token, 503 lookup unavailable). */
    readonly status: number;
    /** The short body sent to the client. */
    readonly body: string;
    /** The detail for the log (never sent). */
    readonly detail: string;
    /** Extra response headers (`retry-after` on a 503). */
    readonly headers?: Readonly<Record<string, string>>;
  };

/** A token plugin. */
export interface TokenResolver {
  /**
   * Finds the target of a token; never throws (failures are refusals).
   * @param token The token from the request.
   * @returns The target or the refusal.
   */
  resolve(token: string): Promise<TokenResolution>;
}

/** The parts of a request head a token is read from. */
export interface TokenRequest {
  /** The query parameters. */
  readonly query: URLSearchParams;
  /** The headers, keyed in lower case. */
  readonly headers: ReadonlyMap<string, string>;
}

/**
 * The token of a request, or `undefined` when there is none.
 *
 * @example
 * ```ts
 * import { tokenOfRequest } from "./token_resolver.ts";
 * import assert from "node:assert/strict";
 * const request = { query: new URLSearchParams("token=vm1"), headers: new Map([["host", "vm2.example:6080"]]) };
 * assert.equal(tokenOfRequest(request, { isHostToken: false }), "vm1");
 * assert.equal(tokenOfRequest(request, { isHostToken: true }), "vm2.example");
 * ```
 *
 * @param request The request head.
 * @param options Whether the Host header is the token (`--host-token`).
 * @returns The token.
 */
export function tokenOfRequest(
  request: TokenRequest,
  options: { isHostToken: boolean },
): string | undefined {
  const token = options.isHostToken
    ? request.headers.get("host")?.split(":")[0]
    : request.query.get("token")?.replace(/\n+$/, "");
  return token === undefined || token === "" ? undefined : token;
}

/**
 * A refusal for an unknown token (404).
 *
 * @example
 * ```ts
 * import { unknownToken } from "./token_resolver.ts";
 * import assert from "node:assert/strict";
 * const refusal = unknownToken("vm9", "no such key in the store");
 * assert.equal(refusal.status, 404);
 * assert.equal(refusal.detail, 'unknown token "vm9": no such key in the store');
 * assert.equal(unknownToken("vm9").detail, 'unknown token "vm9"');
 * ```
 *
 * @param token The token (cut to 64 characters in the log).
 * @param why Why it is unknown, for the log (none for a plain miss).
 * @returns The refusal.
 */
export function unknownToken(
  token: string,
  why?: string,
): Extract<TokenResolution, { kind: "refuse" }> {
  const named = `unknown token ${JSON.stringify(token.slice(0, 64))}`;
  return {
    kind: "refuse",
    status: 404,
    body: "Unknown token",
    detail: why === undefined ? named : `${named}: ${why}`,
  };
}

/**
 * The target named by a plugin answer's `host` and `port` (a JSON API's
 * body, a JWT's claims): a non-empty string host and a port 1-65535, given
 * as a number or as decimal digits.
 *
 * @example
 * ```ts
 * import { hostPortTarget } from "./token_resolver.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(hostPortTarget("vm1", "5901"), { transport: "tcp", hostname: "vm1", port: 5901 });
 * assert.equal(hostPortTarget("vm1", 70000), undefined);
 * assert.equal(hostPortTarget("", 5901), undefined);
 * ```
 *
 * @param host The `host` value.
 * @param port The `port` value.
 * @returns The TCP target, or `undefined` when either is invalid.
 */
export function hostPortTarget(
  host: unknown,
  port: unknown,
): TokenTarget | undefined {
  const portNumber = typeof port === "string" && /^\d{1,5}$/.test(port)
    ? Number(port)
    : port;
  if (
    typeof host !== "string" || host === "" ||
    typeof portNumber !== "number" || !Number.isInteger(portNumber) ||
    portNumber < 1 || portNumber > 65535
  ) {
    return undefined;
  }
  return { transport: "tcp", hostname: host, port: portNumber };
}
