import {
  assertEquals,
  assertModule,
  assertStrictEquals,
} from "../_util/assert.ts";
import {
  consoleStats,
  foldTraffic,
  renderMetrics,
  type ViewedSession,
} from "../../src/server/gateway_views.ts";
import type { SessionLabels } from "../../src/server/session_labels.ts";
import { GatewayMetrics } from "../../src/observability/gateway_metrics.ts";
import {
  type RelayStatsDelta,
  SIZE_BUCKET_COUNT,
} from "../../src/session/relay_stats.ts";

/** Bucket counts with one message in the smallest bucket (or none). */
function buckets(messages: number): number[] {
  const counts = new Array<number>(SIZE_BUCKET_COUNT).fill(0);
  counts[0] = messages;
  return counts;
}

/** A session that relayed `toBackend` and `toBrowser` bytes in one message each. */
function viewed(toBackend: number, toBrowser: number): ViewedSession {
  let delta: RelayStatsDelta | undefined = {
    bytesToBackend: toBackend,
    bytesToBrowser: toBrowser,
    messagesToBackend: 1,
    messagesToBrowser: 1,
    sizesToBackend: buckets(1),
    sizesToBrowser: buckets(1),
  };
  return {
    traffic: { toBackend, toBrowser },
    openedAtMs: 1000,
    takeStats() {
      const taken = delta;
      delta = {
        bytesToBackend: 0,
        bytesToBrowser: 0,
        messagesToBackend: 0,
        messagesToBrowser: 0,
        sizesToBackend: buckets(0),
        sizesToBrowser: buckets(0),
      };
      return taken!;
    },
  };
}

function labels(id: string): SessionLabels {
  return { id, route: "/r", client: "192.0.2.1:5000", target: "127.0.0.1:9" };
}

Deno.test("consoleStats lists open sessions by their labels and counts their bytes before a sweep", () => {
  const stats = consoleStats(
    [[viewed(5, 7), labels("s1")], [viewed(1, 2), labels("s2")]],
    new GatewayMetrics(),
  );
  assertStrictEquals(stats.sessionsOpen, 2);
  assertStrictEquals(stats.bytesToBackend, 6);
  assertStrictEquals(stats.bytesToBrowser, 9);
  assertEquals(stats.sessions[0], {
    id: "s1",
    route: "/r",
    client: "192.0.2.1:5000",
    openedAtMs: 1000,
    bytesToBackend: 5,
    bytesToBrowser: 7,
  });
});

Deno.test("consoleStats lists at most 100 sessions but counts them all", () => {
  const sessions: [ViewedSession, SessionLabels][] = Array.from(
    { length: 120 },
    (_, index) => [viewed(1, 1), labels(`s${index}`)],
  );
  const stats = consoleStats(sessions, new GatewayMetrics());
  assertStrictEquals(stats.sessionsOpen, 120);
  assertStrictEquals(stats.sessions.length, 100);
});

Deno.test("foldTraffic and renderMetrics add each session's new traffic once", () => {
  const metrics = new GatewayMetrics();
  const sessions: [ViewedSession, SessionLabels][] = [[
    viewed(5, 7),
    labels("s1"),
  ]];
  foldTraffic(sessions, metrics);
  assertStrictEquals(metrics.totals().bytesToBackend, 5);
  const text = renderMetrics(sessions, metrics);
  assertStrictEquals(metrics.totals().bytesToBackend, 5, "nothing new");
  assertModule.match(text, /route="\/r"/);
});
