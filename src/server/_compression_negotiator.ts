/**
 * permessage-deflate at the upgrade: {@linkcode CompressionNegotiator} reads
 * the browser's offers, negotiates under the route's settings and the
 * gateway's compression memory budget, builds the session's zlib state and
 * the response header, and gives the memory back when the session ends.
 *
 * @module
 */

import type { ResolvedRoute } from "../config/config.ts";
import type { EventSink } from "../observability/events.ts";
import type { GatewayMetrics } from "../observability/gateway_metrics.ts";
import type { SessionCompression } from "../session/relay_options.ts";
import {
  CompressionBudget,
  contextMemoryBytes,
} from "../websocket/compression_budget.ts";
import {
  MessageDeflater,
  MessageInflater,
} from "../websocket/message_deflate.ts";
import {
  type DeflateAgreement,
  type DeflateOffer,
  type DeflateSettings,
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
  /** Bytes reserved from the budget; given back by `release`. */
  reservedBytes: number;
  /** Negotiated without context takeover because the budget was spent. */
  isBudgetFallback: boolean;
}

/** Options of {@linkcode CompressionNegotiator}. */
export interface CompressionNegotiatorOptions {
  /** The budget for kept contexts, in bytes. @default {67108864} */
  limitBytes?: number;
  /** Counts negotiations, fallbacks and reserved memory. @default {undefined} */
  metrics?: GatewayMetrics;
  /** Receives the warning when the budget is first spent. @default {undefined} */
  onEvent?: EventSink;
}

/**
 * Negotiates permessage-deflate for upgrades under one memory budget.
 * Sessions that keep a context reserve its size estimate; once the budget
 * is spent, new sessions are answered with `server_no_context_takeover;
 * client_no_context_takeover` (each message is then compressed and inflated
 * in one call, so an idle session holds no zlib memory), a warning is
 * emitted once per spell of exhaustion and every fallback is counted.
 *
 * @example A route with compression, then a spent budget
 * ```ts
 * import { CompressionNegotiator } from "./_compression_negotiator.ts";
 * import { resolveOptions } from "../config/config.ts";
 * import assert from "node:assert/strict";
 * const route = resolveOptions({
 *   routes: [{ path: "/", target: "127.0.0.1:9", compression: "on" }],
 * }).routes.get("/")!;
 * const negotiator = new CompressionNegotiator({ limitBytes: 400_000 });
 * const first = negotiator.negotiate("permessage-deflate", route)!;
 * assert.equal(first.header, "permessage-deflate");
 * const second = negotiator.negotiate("permessage-deflate", route)!;
 * assert.equal(second.isBudgetFallback, true);
 * assert.equal(
 *   second.header,
 *   "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
 * );
 * negotiator.release(first);
 * negotiator.release(second);
 * assert.equal(negotiator.reservedBytes, 0);
 * ```
 */
export class CompressionNegotiator {
  #budget: CompressionBudget;
  #metrics: GatewayMetrics | undefined;
  #onEvent: EventSink;
  #isSpent = false;

  /**
   * Constructs a new instance.
   * @param options The budget, metrics and event sink.
   */
  constructor(options: CompressionNegotiatorOptions = {}) {
    const { limitBytes = 64 * 1024 * 1024, metrics, onEvent } = options;
    this.#budget = new CompressionBudget({ limitBytes });
    this.#metrics = metrics;
    this.#onEvent = onEvent ?? (() => {});
  }

  /** Bytes reserved now by sessions that keep a context. */
  get reservedBytes(): number {
    return this.#budget.reservedBytes;
  }

  /**
   * Changes the budget (a reload); reservations already made stay.
   * @param limitBytes The new budget in bytes.
   */
  setLimit(limitBytes: number): void {
    this.#budget.setLimit(limitBytes);
  }

  /**
   * Negotiates permessage-deflate for an upgrade on `route`.
   * @param offered The `Sec-WebSocket-Extensions` request value, if any.
   * @param route The route.
   * @returns The agreement, or undefined to answer without the extension
   *   (no compression on the route, no offer, or no offer that fits).
   */
  negotiate(
    offered: string | undefined,
    route: ResolvedRoute,
  ): NegotiatedCompression | undefined {
    const settings = route.compression;
    if (settings === undefined || offered === undefined) return undefined;
    const offers = parseDeflateOffers(offered);
    let agreement = negotiateDeflate(offers, settings);
    if (agreement === null) return undefined;
    let reservedBytes = 0;
    let isBudgetFallback = false;
    const bytes = keptContextBytes(agreement);
    if (bytes > 0) {
      if (this.#budget.tryReserve(bytes)) {
        reservedBytes = bytes;
        this.#isSpent = false;
      } else {
        agreement = negotiateDeflate(offers, settings, {
          isBudgetExhausted: true,
        });
        if (agreement === null) return undefined;
        isBudgetFallback = true;
        this.#warnSpent(bytes);
      }
    }
    this.#metrics?.compressionNegotiated(reservedBytes > 0, isBudgetFallback);
    this.#metrics?.setCompressionMemoryBytes(this.#budget.reservedBytes);
    return {
      header: formatDeflateResponse(agreement, {
        isClientWindowOffered: chosenOffer(offers, settings)
          ?.clientMaxWindowBits !== undefined,
      }),
      reservedBytes,
      isBudgetFallback,
      compression: sessionCompression(agreement, settings, route),
    };
  }

  /**
   * Frees a session's zlib state and gives its reservation back; call once
   * when the session ends or its upgrade fails.
   * @param negotiated What {@linkcode CompressionNegotiator.negotiate} returned.
   */
  release(negotiated: NegotiatedCompression | undefined): void {
    if (negotiated === undefined) return;
    negotiated.compression.deflater.close();
    negotiated.compression.inflater.close();
    this.#budget.release(negotiated.reservedBytes);
    this.#metrics?.setCompressionMemoryBytes(this.#budget.reservedBytes);
  }

  #warnSpent(bytes: number): void {
    // Once per spell: the next successful reservation re-arms it.
    if (this.#isSpent) return;
    this.#isSpent = true;
    this.#onEvent({
      type: "warning",
      message:
        "compression memory budget spent: new sessions negotiate permessage-deflate without context takeover",
      detail:
        `reserved ${this.#budget.reservedBytes} of ${this.#budget.limitBytes} bytes (compressionMemory), a session needs ${bytes}`,
    });
  }
}

/** The memory a session holds between messages under `agreement`. */
function keptContextBytes(agreement: DeflateAgreement): number {
  if (agreement.serverNoContextTakeover && agreement.clientNoContextTakeover) {
    return 0;
  }
  return contextMemoryBytes({
    serverWindowBits: agreement.serverMaxWindowBits,
    clientWindowBits: agreement.clientMaxWindowBits,
    memLevel: 8,
  });
}

/** The offer the agreement answers: the first one that fits. */
function chosenOffer(
  offers: readonly DeflateOffer[],
  settings: DeflateSettings,
): DeflateOffer | undefined {
  return offers.find((offer) => negotiateDeflate([offer], settings) !== null);
}

function sessionCompression(
  agreement: DeflateAgreement,
  settings: DeflateSettings,
  route: ResolvedRoute,
): SessionCompression {
  return {
    deflater: new MessageDeflater({
      noContextTakeover: agreement.serverNoContextTakeover,
      windowBits: agreement.serverMaxWindowBits,
      ...(settings.level === undefined ? {} : { level: settings.level }),
      ...(settings.minSize === undefined ? {} : { minSize: settings.minSize }),
    }),
    inflater: new MessageInflater({
      noContextTakeover: agreement.clientNoContextTakeover,
      windowBits: agreement.clientMaxWindowBits,
      maxMessageBytes: route.maxMessageBytes,
    }),
  };
}
