/**
 * permessage-deflate at the upgrade: reads the browser's offers, reserves
 * context memory from the process budget, negotiates under the route's
 * settings and builds the session's zlib state and the response header.
 *
 * @module
 */

import type { ResolvedRoute } from "../config/config.ts";
import type { SessionCompression } from "../session/relay_options.ts";
import {
  type CompressionBudget,
  contextMemoryBytes,
} from "../websocket/compression_budget.ts";
import {
  MessageDeflater,
  MessageInflater,
} from "../websocket/message_deflate.ts";
import {
  formatDeflateResponse,
  negotiateDeflate,
  parseDeflateOffers,
} from "../websocket/permessage_deflate_offer.ts";

/** A negotiated compression for one session. */
export interface NegotiatedCompression {
  /** The `Sec-WebSocket-Extensions` response value. */
  header: string;
  /** The session's zlib state. */
  compression: SessionCompression;
  /** Bytes reserved from the budget; give them back when the session ends. */
  reservedBytes: number;
}

/**
 * Negotiates permessage-deflate for an upgrade on `route`.
 * @example A route without compression declines
 * ```ts
 * import { negotiateCompression } from "./_compression.ts";
 * import { CompressionBudget } from "../websocket/compression_budget.ts";
 * import { resolveOptions } from "../config/config.ts";
 * import assert from "node:assert/strict";
 * const route = resolveOptions({ routes: [{ path: "/", target: "127.0.0.1:9" }] }).routes.get("/")!;
 * assert.equal(negotiateCompression("permessage-deflate", route, new CompressionBudget()), undefined);
 * ```
 * @param offered The `Sec-WebSocket-Extensions` request value, if any.
 * @param route The route.
 * @param budget The process-wide compression memory budget.
 * @returns The agreement, or undefined to answer without the extension.
 */
export function negotiateCompression(
  offered: string | undefined,
  route: ResolvedRoute,
  budget: CompressionBudget,
): NegotiatedCompression | undefined {
  const settings = route.compression;
  if (settings === undefined || offered === undefined) return undefined;
  const offers = parseDeflateOffers(offered);
  if (offers.length === 0) return undefined;
  let agreement = negotiateDeflate(offers, settings);
  if (agreement === null) return undefined;
  let reservedBytes = 0;
  if (
    !agreement.serverNoContextTakeover || !agreement.clientNoContextTakeover
  ) {
    const bytes = contextMemoryBytes({
      serverWindowBits: agreement.serverMaxWindowBits,
      clientWindowBits: agreement.clientMaxWindowBits,
      memLevel: 8,
    });
    if (budget.tryReserve(bytes)) {
      reservedBytes = bytes;
    } else {
      agreement = negotiateDeflate(offers, settings, {
        isBudgetExhausted: true,
      });
      if (agreement === null) return undefined;
    }
  }
  const chosen = offers.find((offer) =>
    negotiateDeflate([offer], settings) !== null
  );
  const header = formatDeflateResponse(agreement, {
    isClientWindowOffered: chosen?.clientMaxWindowBits !== undefined,
  });
  return {
    header,
    reservedBytes,
    compression: {
      deflater: new MessageDeflater({
        noContextTakeover: agreement.serverNoContextTakeover,
        windowBits: agreement.serverMaxWindowBits,
        ...(settings.level === undefined ? {} : { level: settings.level }),
        ...(settings.minSize === undefined
          ? {}
          : { minSize: settings.minSize }),
      }),
      inflater: new MessageInflater({
        noContextTakeover: agreement.clientNoContextTakeover,
        windowBits: agreement.clientMaxWindowBits,
        maxMessageBytes: route.maxMessageBytes,
      }),
    },
  };
}
