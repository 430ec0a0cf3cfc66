/**
 * The configuration turned into timing and relay settings: the settings a
 * new relay session gets from its route and the global options, and how
 * often the gateway's shared sweep must run for the shortest timer.
 * Private to `server/`.
 *
 * @module
 */

import type { ResolvedGatewayConfig, ResolvedRoute } from "../config/config.ts";
import { routeTimers } from "../config/route_options.ts";
import { COPY_THRESHOLD_BYTES } from "../session/output_writer.ts";
import {
  createFrameDecoder,
  createFrameEncoder,
} from "../framing/create_codec.ts";
import type { RelaySessionOptions } from "../session/relay_options.ts";
import type { FrameEncoder } from "../framing/codec.ts";

/** Relay session options that come from configuration alone. */
export type RelaySettings = Omit<
  RelaySessionOptions,
  "id" | "onClose" | "onTraffic"
>;

/** The liveness timers of a session: one object per route and generation. */
type SessionTimers = RelaySettings["timers"];

/** What every session of a route shares under one configuration. */
interface RouteShared {
  config: ResolvedGatewayConfig;
  timers: SessionTimers;
  /** Encoders hold configuration only: one per route serves all sessions. */
  encoder: FrameEncoder;
}

/**
 * Each route's shared settings under the configuration they were computed
 * for: sessions of one route share one frozen timers object and one
 * encoder instead of building them per session.
 */
const SHARED_OF = new WeakMap<ResolvedRoute, RouteShared>();

function sharedOf(
  route: ResolvedRoute,
  config: ResolvedGatewayConfig,
): RouteShared {
  const cached = SHARED_OF.get(route);
  if (cached !== undefined && cached.config === config) return cached;
  const shared: RouteShared = {
    config,
    timers: Object.freeze({
      pingIntervalMs: config.pingIntervalMs,
      pingTimeoutMs: config.pingTimeoutMs,
      ...routeTimers(route),
      stallTimeoutMs: config.stallTimeoutMs,
    }),
    encoder: createFrameEncoder(route.toBackend),
  };
  SHARED_OF.set(route, shared);
  return shared;
}

/**
 * The relay settings of a new session on `route`, with a fresh decoder
 * (the encoder and timers are the route's, shared).
 * @param route The session's route.
 * @param config The configuration generation the session starts under.
 * @param leftover Bytes that followed the request head, if any.
 * @returns The settings.
 */
export function relaySettings(
  route: ResolvedRoute,
  config: ResolvedGatewayConfig,
  leftover: Uint8Array | undefined,
): RelaySettings {
  const shared = sharedOf(route, config);
  return {
    encoder: shared.encoder,
    // The relay copies every message below its copy threshold, so the
    // decoder may gather spanning frames in a reused scratch buffer.
    decoder: createFrameDecoder(route.toBrowser, {
      scratchBytes: COPY_THRESHOLD_BYTES - 1,
    }),
    isTextToBrowser: route.toBrowser.text,
    maxMessageBytes: route.maxMessageBytes,
    highWaterBytes: route.bufferBytes,
    closeTimeoutMs: config.closeTimeoutMs,
    timers: shared.timers,
    heartbeatMessage: route.backendHeartbeatMessage,
    initialBrowserBytes: leftover,
    maxControlFramesPerSecond: config.maxControlFramesPerSecond,
    now: Date.now,
  };
}

/**
 * The sweep runs often enough for the shortest configured timer: a quarter
 * of it, between 10 ms and 1 s.
 * @param config The configuration.
 * @returns The sweep period in milliseconds.
 */
export function sweepPeriodMs(config: ResolvedGatewayConfig): number {
  let shortest = Math.min(
    config.handshakeTimeoutMs,
    config.pingIntervalMs || Infinity,
    config.pingTimeoutMs || Infinity,
    config.stallTimeoutMs || Infinity,
  );
  for (const route of config.routes.values()) {
    for (const value of Object.values(routeTimers(route))) {
      if (value > 0) shortest = Math.min(shortest, value);
    }
  }
  return Math.max(10, Math.min(1000, Math.floor(shortest / 4)));
}
