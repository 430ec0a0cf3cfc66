import assert from "node:assert/strict";
import { CompressionNegotiator } from "../../src/server/_compression_negotiator.ts";
import { resolveOptions, type RouteOptions } from "../../src/config/config.ts";
import type { GatewayEvent } from "../../src/observability/events.ts";
import { GatewayMetrics } from "../../src/observability/gateway_metrics.ts";
import { contextMemoryBytes } from "../../src/websocket/compression_budget.ts";

const FULL_CONTEXT_BYTES = contextMemoryBytes({
  serverWindowBits: 15,
  clientWindowBits: 15,
  memLevel: 8,
});
const CONTEXT_FREE =
  "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

function routeWith(compression: RouteOptions["compression"]) {
  const route = resolveOptions({
    routes: [{
      path: "/",
      target: "127.0.0.1:9",
      ...(compression === undefined ? {} : { compression }),
    }],
  }).routes.get("/");
  assert.ok(route !== undefined);
  return route;
}

function metricLine(metrics: GatewayMetrics, prefix: string): string {
  return metrics.renderPrometheus().split("\n").find((line) =>
    line.startsWith(prefix)
  ) ?? `(no ${prefix})`;
}

Deno.test("CompressionNegotiator answers without the extension when the route has no compression, nothing is offered, or no offer fits", () => {
  const negotiator = new CompressionNegotiator();
  assert.equal(
    negotiator.negotiate("permessage-deflate", routeWith(undefined)),
    undefined,
  );
  assert.equal(
    negotiator.negotiate("permessage-deflate", routeWith("off")),
    undefined,
  );
  const on = routeWith("on");
  assert.equal(negotiator.negotiate(undefined, on), undefined);
  assert.equal(negotiator.negotiate("x-webkit-deflate-frame", on), undefined);
  // An 8-bit server window cannot be honoured by zlib; an unknown
  // parameter makes the offer invalid (RFC 7692 section 7.1).
  assert.equal(
    negotiator.negotiate(
      "permessage-deflate; server_max_window_bits=8, permessage-deflate; x=1",
      on,
    ),
    undefined,
  );
  assert.equal(negotiator.reservedBytes, 0);
});

Deno.test("CompressionNegotiator takes the first offer that fits and answers client_max_window_bits only when offered", () => {
  const negotiator = new CompressionNegotiator();
  const route = routeWith({ maxWindowBits: 12 });
  const chosen = negotiator.negotiate(
    "permessage-deflate; client_max_window_bits=15",
    route,
  );
  assert.equal(
    chosen?.header,
    "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
  );
  // Without client_max_window_bits the client may use 15 bits, which a
  // route capped at 12 cannot accept: the offer is declined.
  assert.equal(negotiator.negotiate("permessage-deflate", route), undefined);
  negotiator.release(chosen);
  assert.equal(negotiator.reservedBytes, 0);
});

Deno.test("CompressionNegotiator reserves no memory for a route without context takeover", () => {
  const metrics = new GatewayMetrics();
  const negotiator = new CompressionNegotiator({ metrics, limitBytes: 0 });
  const negotiated = negotiator.negotiate(
    "permessage-deflate",
    routeWith({ contextTakeover: false }),
  );
  assert.equal(negotiated?.header, CONTEXT_FREE);
  assert.equal(negotiated?.reservedBytes, 0);
  assert.equal(negotiated?.isBudgetFallback, false);
  assert.equal(
    metricLine(metrics, 'wsgate_compression_sessions_total{context="none"}'),
    'wsgate_compression_sessions_total{context="none"} 1',
  );
  assert.equal(
    metricLine(metrics, "wsgate_compression_budget_fallbacks_total"),
    "wsgate_compression_budget_fallbacks_total 0",
  );
  negotiator.release(negotiated);
});

Deno.test("CompressionNegotiator falls back to no context takeover past the budget, warns once per spell and counts every fallback", () => {
  const metrics = new GatewayMetrics();
  const events: GatewayEvent[] = [];
  const negotiator = new CompressionNegotiator({
    limitBytes: FULL_CONTEXT_BYTES,
    metrics,
    onEvent: (event) => events.push(event),
  });
  const route = routeWith("on");
  const kept = negotiator.negotiate("permessage-deflate", route);
  assert.equal(kept?.header, "permessage-deflate");
  assert.equal(kept?.reservedBytes, FULL_CONTEXT_BYTES);
  assert.equal(
    metricLine(metrics, "wsgate_compression_memory_bytes"),
    `wsgate_compression_memory_bytes ${FULL_CONTEXT_BYTES}`,
  );
  const second = negotiator.negotiate("permessage-deflate", route);
  const third = negotiator.negotiate("permessage-deflate", route);
  for (const fallback of [second, third]) {
    assert.equal(fallback?.header, CONTEXT_FREE);
    assert.equal(fallback?.isBudgetFallback, true);
    assert.equal(fallback?.reservedBytes, 0);
  }
  assert.equal(events.length, 1);
  assert.equal(events[0]?.type, "warning");
  assert.match(
    events[0]?.type === "warning" ? events[0].detail ?? "" : "",
    /compressionMemory/,
  );
  assert.equal(
    metricLine(metrics, "wsgate_compression_budget_fallbacks_total"),
    "wsgate_compression_budget_fallbacks_total 2",
  );
  assert.equal(
    metricLine(
      metrics,
      'wsgate_compression_sessions_total{context="takeover"}',
    ),
    'wsgate_compression_sessions_total{context="takeover"} 1',
  );
  // Room again: the next session keeps its context, and the next spell of
  // exhaustion warns again.
  negotiator.release(kept);
  assert.equal(
    metricLine(metrics, "wsgate_compression_memory_bytes"),
    "wsgate_compression_memory_bytes 0",
  );
  const again = negotiator.negotiate("permessage-deflate", route);
  assert.equal(again?.header, "permessage-deflate");
  const spent = negotiator.negotiate("permessage-deflate", route);
  assert.equal(spent?.isBudgetFallback, true);
  assert.equal(events.length, 2);
  for (const negotiated of [second, third, again, spent]) {
    negotiator.release(negotiated);
  }
  assert.equal(negotiator.reservedBytes, 0);
});

Deno.test("CompressionNegotiator.setLimit applies to the next upgrade", () => {
  const negotiator = new CompressionNegotiator();
  const route = routeWith("on");
  negotiator.setLimit(0);
  const negotiated = negotiator.negotiate("permessage-deflate", route);
  assert.equal(negotiated?.header, CONTEXT_FREE);
  negotiator.release(negotiated);
});
