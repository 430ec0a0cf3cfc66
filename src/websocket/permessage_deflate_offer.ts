/**
 * permessage-deflate negotiation (RFC 7692 section 7): parsing the
 * client's `Sec-WebSocket-Extensions` offers, choosing one under the route's
 * settings and the process memory budget, and formatting the response value.
 * Pure: no I/O, no zlib.
 *
 * @module
 */

import { trimOws } from "./ows.ts";

/** One permessage-deflate offer as the client sent it. */
export interface DeflateOffer {
  /** The client asks the server not to keep its compression context. */
  serverNoContextTakeover: boolean;
  /** The client will not keep its compression context. */
  clientNoContextTakeover: boolean;
  /** The server's window limit the client asks for (8-15), if any. */
  serverMaxWindowBits?: number;
  /**
   * The client's window limit: `true` when offered without a value (the
   * server may then pick one), a number 8-15 when offered with one,
   * absent when not offered (the server must not send it).
   */
  clientMaxWindowBits?: number | true;
}

/** The route's compression settings once resolved. */
export interface DeflateSettings {
  /** Keep the compression context between messages. @default {true} */
  contextTakeover?: boolean;
  /** The deflate level, 0-9. @default {6} */
  level?: number;
  /** Messages shorter than this many bytes go out uncompressed. @default {64} */
  minSize?: number;
  /** The largest LZ77 window the server uses and accepts, 8-15. @default {15} */
  maxWindowBits?: number;
}

/** Options of {@linkcode negotiateDeflate}. */
export interface NegotiateDeflateOptions {
  /**
   * The process-wide compression memory budget is exhausted: negotiate
   * no-context-takeover on both sides, or nothing.
   * @default {false}
   */
  isBudgetExhausted?: boolean;
}

/** Options of {@linkcode formatDeflateResponse}. */
export interface FormatDeflateResponseOptions {
  /** The chosen offer carried `client_max_window_bits`. @default {false} */
  isClientWindowOffered?: boolean;
}

/** The agreed parameters for one session. */
export interface DeflateAgreement {
  /** The server resets its compressor after each message. */
  serverNoContextTakeover: boolean;
  /** The client resets its compressor after each message. */
  clientNoContextTakeover: boolean;
  /** The server's window bits (8-15). zlib rejects 8 for raw deflate: 9 is used then. */
  serverMaxWindowBits: number;
  /** The client's window bits (8-15), sizing the server's inflater. */
  clientMaxWindowBits: number;
}

const EXTENSION_NAME = "permessage-deflate";
const PARAM_NAMES = new Set([
  "server_no_context_takeover",
  "client_no_context_takeover",
  "server_max_window_bits",
  "client_max_window_bits",
]);

/**
 * Parses a `Sec-WebSocket-Extensions` value into the permessage-deflate
 * offers it holds, in preference order. Other extensions are skipped; an
 * offer with an unknown, duplicate or malformed parameter is dropped (RFC
 * 7692 section 7.1: the server declines it).
 *
 * @example Two offers, the first with a window limit
 * ```ts
 * import { parseDeflateOffers } from "./permessage_deflate_offer.ts";
 * import assert from "node:assert/strict";
 * const offers = parseDeflateOffers(
 *   "permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate",
 * );
 * assert.equal(offers.length, 2);
 * assert.equal(offers[0]?.serverMaxWindowBits, 10);
 * assert.equal(offers[0]?.clientMaxWindowBits, true);
 * ```
 *
 * @param header The header value (several headers joined with ", ").
 * @returns The valid offers, possibly none.
 */
export function parseDeflateOffers(header: string): DeflateOffer[] {
  const offers: DeflateOffer[] = [];
  for (const element of splitOutsideQuotes(header, ",")) {
    const parts = splitOutsideQuotes(element, ";").map(trimOws);
    if (parts[0]?.toLowerCase() !== EXTENSION_NAME) continue;
    const offer = parseOfferParams(parts.slice(1));
    if (offer !== null) offers.push(offer);
  }
  return offers;
}

function parseOfferParams(params: string[]): DeflateOffer | null {
  const seen = new Set<string>();
  const offer: DeflateOffer = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
  };
  for (const param of params) {
    const eq = param.indexOf("=");
    const name = trimOws(eq < 0 ? param : param.slice(0, eq)).toLowerCase();
    if (!PARAM_NAMES.has(name) || seen.has(name)) return null;
    seen.add(name);
    let value: string | undefined;
    if (eq >= 0) {
      value = trimOws(param.slice(eq + 1));
      // RFC 7692 section 7.1: a quoted-string value is compared unquoted.
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
        value = value.slice(1, -1);
      }
    }
    switch (name) {
      case "server_no_context_takeover":
        if (value !== undefined) return null;
        offer.serverNoContextTakeover = true;
        break;
      case "client_no_context_takeover":
        if (value !== undefined) return null;
        offer.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits": {
        const bits = parseWindowBits(value);
        if (bits === null) return null;
        offer.serverMaxWindowBits = bits;
        break;
      }
      default: {
        if (value === undefined) {
          offer.clientMaxWindowBits = true;
          break;
        }
        const bits = parseWindowBits(value);
        if (bits === null) return null;
        offer.clientMaxWindowBits = bits;
      }
    }
  }
  return offer;
}

function parseWindowBits(value: string | undefined): number | null {
  // RFC 7692 section 7.1.2: 1*DIGIT without leading zero, 8-15.
  if (value === undefined || !/^[1-9][0-9]?$/.test(value)) return null;
  const bits = Number(value);
  return bits >= 8 && bits <= 15 ? bits : null;
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const out: string[] = [];
  let start = 0;
  let isQuoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') isQuoted = !isQuoted;
    else if (ch === separator && !isQuoted) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

/**
 * Chooses the first offer the server can honour, or `null` to answer
 * without the extension. The server drops its context when the route turns
 * `contextTakeover` off, when the client asks, or when the budget is
 * exhausted; it also asks the client to drop its context in those cases
 * (declining the offer on exhaustion would cost the session compression,
 * so both sides go context-free instead).
 *
 * @example The route caps the window at 12
 * ```ts
 * import { negotiateDeflate, parseDeflateOffers } from "./permessage_deflate_offer.ts";
 * import assert from "node:assert/strict";
 * const agreement = negotiateDeflate(
 *   parseDeflateOffers("permessage-deflate; client_max_window_bits"),
 *   { maxWindowBits: 12 },
 * );
 * assert.equal(agreement?.serverMaxWindowBits, 12);
 * assert.equal(agreement?.clientMaxWindowBits, 12);
 * ```
 *
 * @param offers The offers in the client's preference order.
 * @param settings The route's compression settings.
 * @param options The budget state.
 * @returns The agreement, or `null` when no offer fits.
 */
export function negotiateDeflate(
  offers: readonly DeflateOffer[],
  settings: DeflateSettings,
  options: NegotiateDeflateOptions = {},
): DeflateAgreement | null {
  const { contextTakeover = true, maxWindowBits = 15 } = settings;
  const { isBudgetExhausted = false } = options;
  const isContextFree = !contextTakeover || isBudgetExhausted;
  for (const offer of offers) {
    const serverBits = Math.min(offer.serverMaxWindowBits ?? 15, maxWindowBits);
    // zlib cannot deflate raw data with an 8-bit window (it silently uses
    // 9), so a server window of 8 cannot be honoured: decline the offer.
    if (serverBits < 9) continue;
    let clientBits: number;
    if (offer.clientMaxWindowBits === undefined) {
      // The client may use any window up to 15; the server cannot make it
      // smaller, so a route limit below 15 cannot be honoured.
      if (maxWindowBits < 15) continue;
      clientBits = 15;
    } else if (offer.clientMaxWindowBits === true) {
      clientBits = maxWindowBits;
    } else {
      clientBits = Math.min(offer.clientMaxWindowBits, maxWindowBits);
    }
    return {
      serverNoContextTakeover: offer.serverNoContextTakeover || isContextFree,
      clientNoContextTakeover: offer.clientNoContextTakeover || isContextFree,
      serverMaxWindowBits: serverBits,
      clientMaxWindowBits: clientBits,
    };
  }
  return null;
}

/**
 * Formats the `Sec-WebSocket-Extensions` response value for an agreement.
 * `client_max_window_bits` is sent only when the client offered it (RFC
 * 7692 section 7.1.2.2); `server_max_window_bits` only below 15.
 *
 * @example
 * ```ts
 * import { formatDeflateResponse } from "./permessage_deflate_offer.ts";
 * import assert from "node:assert/strict";
 * const value = formatDeflateResponse({
 *   serverNoContextTakeover: true,
 *   clientNoContextTakeover: false,
 *   serverMaxWindowBits: 15,
 *   clientMaxWindowBits: 15,
 * }, { isClientWindowOffered: false });
 * assert.equal(value, "permessage-deflate; server_no_context_takeover");
 * ```
 *
 * @param agreement The chosen parameters.
 * @param options Whether the client offered `client_max_window_bits`.
 * @returns The header value.
 */
export function formatDeflateResponse(
  agreement: DeflateAgreement,
  options: FormatDeflateResponseOptions = {},
): string {
  const { isClientWindowOffered = false } = options;
  const parts = [EXTENSION_NAME];
  if (agreement.serverNoContextTakeover) {
    parts.push("server_no_context_takeover");
  }
  if (agreement.clientNoContextTakeover) {
    parts.push("client_no_context_takeover");
  }
  if (agreement.serverMaxWindowBits < 15) {
    parts.push(`server_max_window_bits=${agreement.serverMaxWindowBits}`);
  }
  if (isClientWindowOffered && agreement.clientMaxWindowBits < 15) {
    parts.push(`client_max_window_bits=${agreement.clientMaxWindowBits}`);
  }
  return parts.join("; ");
}
