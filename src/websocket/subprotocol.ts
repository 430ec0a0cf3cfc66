/**
 * Subprotocol choice for an upgrade (`Sec-WebSocket-Protocol`). Pure.
 *
 * A route that lists subprotocols is strict: one of the client's offers
 * must be listed, else 400. A route that lists none behaves as a
 * transparent relay, because browsers fail a connection whose offers all
 * go unanswered (RFC 6455 lets a server omit the header, Chromium then
 * reports 1006): it answers `binary` when offered (websockify's answer),
 * else the client's first offer, so a protocol such as `mqtt` is spoken
 * end to end between page and backend. The one exception is `base64`,
 * websockify 0.8's text encoding, which this relay does not speak: it is
 * never chosen, and a client offering nothing else is refused with 400.
 *
 * @module
 */

import { trimOws } from "./ows.ts";

/** The subprotocol websockify answers when a client offers it. */
export const BINARY_SUBPROTOCOL = "binary";

/** websockify 0.8's base64 text encoding, never chosen here. */
export const BASE64_SUBPROTOCOL = "base64";

/** The outcome of {@linkcode chooseSubprotocol}. */
export type SubprotocolChoice =
  | {
    /** Upgrade. */
    readonly kind: "accept";
    /** The value of the response header; `undefined` omits it. */
    readonly protocol: string | undefined;
  }
  | {
    /** Answer 400 instead of upgrading. */
    readonly kind: "refuse";
    /** The short reason sent to the client. */
    readonly body: string;
    /** The detail for the log. */
    readonly detail: string;
  };

/**
 * Chooses the subprotocol to answer.
 *
 * @example Transparent and strict routes
 * ```ts
 * import { chooseSubprotocol } from "./subprotocol.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(chooseSubprotocol(["base64", "binary"], []), { kind: "accept", protocol: "binary" });
 * assert.deepEqual(chooseSubprotocol(["mqtt"], []), { kind: "accept", protocol: "mqtt" });
 * assert.equal(chooseSubprotocol(["base64"], []).kind, "refuse");
 * assert.equal(chooseSubprotocol(["mqtt"], ["chat"]).kind, "refuse");
 * assert.deepEqual(chooseSubprotocol([], ["chat"]), { kind: "accept", protocol: undefined });
 * ```
 *
 * @param offered The client's offers in its order (the header split at
 * commas and trimmed; empty entries removed).
 * @param configured The route's subprotocols; empty means transparent.
 * @returns The choice.
 */
export function chooseSubprotocol(
  offered: readonly string[],
  configured: readonly string[],
): SubprotocolChoice {
  if (offered.length === 0) return { kind: "accept", protocol: undefined };
  if (configured.length > 0) {
    const match = offered.find((name) => configured.includes(name));
    return match === undefined
      ? {
        kind: "refuse",
        body: "None of the offered subprotocols is accepted",
        detail: `offered ${JSON.stringify(offered)}, accepted ${
          JSON.stringify(configured)
        }`,
      }
      : { kind: "accept", protocol: match };
  }
  if (offered.includes(BINARY_SUBPROTOCOL)) {
    return { kind: "accept", protocol: BINARY_SUBPROTOCOL };
  }
  const first = offered.find((name) => name !== BASE64_SUBPROTOCOL);
  if (first === undefined) {
    return {
      kind: "refuse",
      body: "The base64 subprotocol is not supported: offer binary",
      detail: `offered ${
        JSON.stringify(offered)
      }: base64 encoding is not spoken`,
    };
  }
  return { kind: "accept", protocol: first };
}

/**
 * Splits a `Sec-WebSocket-Protocol` header value into its offers.
 *
 * @example Usage
 * ```ts
 * import { splitSubprotocols } from "./subprotocol.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(splitSubprotocols(" binary ,base64,"), ["binary", "base64"]);
 * assert.deepEqual(splitSubprotocols(undefined), []);
 * ```
 *
 * @param header The header value, if present.
 * @returns The offers, in order.
 */
export function splitSubprotocols(header: string | undefined): string[] {
  if (header === undefined) return [];
  return header.split(",").map(trimOws).filter((name) => name !== "");
}
