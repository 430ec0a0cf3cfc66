import assert from "node:assert/strict";
import {
  GatewayMetrics,
  gatewayTotals,
} from "../../src/observability/gateway_metrics.ts";
import { assertWellFormed } from "../_util/prometheus_text.ts";

Deno.test("GatewayMetrics renders the whole wsgate metric set", () => {
  const metrics = new GatewayMetrics({
    backendConnectBucketsSeconds: [0.01, 0.1],
  });
  metrics.sessionOpened("/vnc");
  metrics.sessionOpened("/vnc");
  metrics.sessionClosed("/vnc", 1011);
  metrics.handshakeRefused("origin not allowed", 403);
  metrics.handshakeRefused("origin not allowed", 403);
  metrics.addTraffic("/vnc", "to_backend", 2, 30);
  metrics.addTraffic("/vnc", "to_backend", 1, 5);
  metrics.addTraffic("/vnc", "to_browser", 4, 4000);
  metrics.observeBackendConnectMs(50);
  metrics.observeFrameBytes("to_browser", 1000);
  metrics.addBufferedBytes(4096);
  metrics.addBufferedBytes(-1024);
  const text = metrics.renderPrometheus();
  assertWellFormed(text);
  for (
    const line of [
      "# TYPE wsgate_sessions_open gauge",
      'wsgate_sessions_open{route="/vnc"} 1',
      "# TYPE wsgate_sessions_total counter",
      'wsgate_sessions_total{route="/vnc"} 2',
      'wsgate_handshake_refusals_total{reason="origin not allowed",status="403"} 2',
      'wsgate_closes_total{code="1011"} 1',
      'wsgate_bytes_total{route="/vnc",direction="to_backend"} 35',
      'wsgate_bytes_total{route="/vnc",direction="to_browser"} 4000',
      'wsgate_frames_total{route="/vnc",direction="to_backend"} 3',
      'wsgate_frames_total{route="/vnc",direction="to_browser"} 4',
      "# TYPE wsgate_backend_connect_seconds histogram",
      'wsgate_backend_connect_seconds_bucket{le="0.01"} 0',
      'wsgate_backend_connect_seconds_bucket{le="0.1"} 1',
      "wsgate_backend_connect_seconds_sum 0.05",
      'wsgate_frame_bytes_bucket{direction="to_browser",le="1024"} 1',
      "wsgate_buffered_bytes 3072",
    ]
  ) {
    assert.ok(
      text.split("\n").includes(line),
      `missing line: ${line}\n${text}`,
    );
  }
  assert.deepEqual(metrics.totals(), {
    sessionsOpen: 1,
    sessionsTotal: 2,
    bytesToBackend: 35,
    bytesToBrowser: 4000,
    framesToBackend: 3,
    framesToBrowser: 4,
  });
  assert.deepEqual(gatewayTotals(metrics.snapshot()), metrics.totals());
});

Deno.test("GatewayMetrics.sessionClosed keeps one series per known close code and groups codes browsers invent", () => {
  const metrics = new GatewayMetrics();
  const codes = [
    1000,
    1015,
    4001,
    4003,
    3000,
    3999,
    4004,
    4999,
    1016,
    2999,
    5000,
  ];
  for (let i = 0; i < 500; i++) {
    metrics.sessionOpened("/");
    metrics.sessionClosed("/", 3000 + (i % 1000));
  }
  for (const code of codes) {
    metrics.sessionOpened("/");
    metrics.sessionClosed("/", code);
  }
  const series = metrics.renderPrometheus().split("\n").filter((line) =>
    line.startsWith("wsgate_closes_total{")
  );
  assert.deepEqual(series.sort(), [
    'wsgate_closes_total{code="1000"} 1',
    'wsgate_closes_total{code="1015"} 1',
    'wsgate_closes_total{code="3xxx"} 502',
    'wsgate_closes_total{code="4001"} 1',
    'wsgate_closes_total{code="4003"} 1',
    'wsgate_closes_total{code="4xxx"} 2',
    'wsgate_closes_total{code="other"} 3',
  ]);
});

Deno.test("GatewayMetrics.addRoutes creates each route's counters at zero and keeps known routes' values", () => {
  const metrics = new GatewayMetrics();
  metrics.sessionOpened("/a");
  metrics.addRoutes(["/a", "/b"]);
  const text = metrics.renderPrometheus();
  assertWellFormed(text);
  assert.match(text, /^wsgate_sessions_total\{route="\/a"\} 1$/m);
  assert.match(text, /^wsgate_sessions_total\{route="\/b"\} 0$/m);
  assert.match(text, /^wsgate_sessions_open\{route="\/b"\} 0$/m);
  for (const metric of ["wsgate_bytes_total", "wsgate_frames_total"]) {
    for (const direction of ["to_backend", "to_browser"]) {
      assert.ok(
        text.includes(`${metric}{route="/b",direction="${direction}"} 0\n`),
        `${metric} ${direction}:\n${text}`,
      );
    }
  }
});

Deno.test("GatewayMetrics counts compressing sessions by context, budget fallbacks and reserved compression memory", () => {
  const metrics = new GatewayMetrics();
  const before = metrics.renderPrometheus();
  assertWellFormed(before);
  for (
    const line of [
      'wsgate_compression_sessions_total{context="takeover"} 0',
      "wsgate_compression_budget_fallbacks_total 0",
      "wsgate_compression_memory_bytes 0",
    ]
  ) {
    assert.ok(before.split("\n").includes(line), `missing line: ${line}`);
  }
  metrics.compressionNegotiated(true, false);
  metrics.compressionNegotiated(false, true);
  metrics.compressionNegotiated(false, false);
  metrics.setCompressionMemoryBytes(340992);
  const text = metrics.renderPrometheus();
  assertWellFormed(text);
  for (
    const line of [
      "# TYPE wsgate_compression_sessions_total counter",
      'wsgate_compression_sessions_total{context="takeover"} 1',
      'wsgate_compression_sessions_total{context="none"} 2',
      "# TYPE wsgate_compression_budget_fallbacks_total counter",
      "wsgate_compression_budget_fallbacks_total 1",
      "# TYPE wsgate_compression_memory_bytes gauge",
      "wsgate_compression_memory_bytes 340992",
    ]
  ) {
    assert.ok(
      text.split("\n").includes(line),
      `missing line: ${line}\n${text}`,
    );
  }
});
