import { assertEquals } from "./_util/assert.ts";
import * as wsgate from "../mod.ts";

// An accidental export (or a lost one) changes the public API: this list is
// the review checkpoint.
Deno.test("mod.ts exports exactly the documented runtime names", () => {
  assertEquals(Object.keys(wsgate).sort(), [
    "BackendConnectError",
    "CloseCode",
    "ConfigError",
    "Counter",
    "CounterSeries",
    "DEFAULT_NO_RETRY_CODES",
    "FrameTooLargeError",
    "FramingSpecError",
    "GatewayMetrics",
    "Gauge",
    "GaugeSeries",
    "Histogram",
    "HistogramSeries",
    "InvalidMessageError",
    "MalformedFrameError",
    "MetricsRegistry",
    "QueueFullError",
    "ReplayCache",
    "TicketError",
    "TruncatedFrameError",
    "WebSocketProtocolError",
    "WsgateClient",
    "WsgateCloseEvent",
    "WsgateReconnectEvent",
    "createFrameDecoder",
    "createFrameEncoder",
    "createGateway",
    "formatEvent",
    "formatFramingSpec",
    "importTicketKey",
    "maxMessageBytes",
    "parseFramingSpec",
    "signTicket",
    "verifyTicket",
  ]);
});

Deno.test("CloseCode values match the README table", () => {
  assertEquals(wsgate.CloseCode.NORMAL, 1000);
  assertEquals(wsgate.CloseCode.GOING_AWAY, 1001);
  assertEquals(wsgate.CloseCode.MESSAGE_TOO_BIG, 1009);
  assertEquals(wsgate.CloseCode.INTERNAL_ERROR, 1011);
  assertEquals(wsgate.CloseCode.BACKEND_SILENT, 4000);
  assertEquals(wsgate.CloseCode.IDLE_TIMEOUT, 4001);
  assertEquals(wsgate.CloseCode.LIFETIME_EXCEEDED, 4002);
});
