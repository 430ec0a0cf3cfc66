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

/** Relay session options that come from configuration alone. */
export type RelaySettings = Omit<
  RelaySessionOptions,
  "id" | "onClose" | "onTraffic"
>;

/**
 * The relay settings of a new session on `route`, with fresh codecs.
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
  return {
    encoder: createFrameEncoder(route.toBackend),
    // The relay copies every message below its copy threshold, so the
    // decoder may gather spanning frames in a reused scratch buffer.
    decoder: createFrameDecoder(route.toBrowser, {
      scratchBytes: COPY_THRESHOLD_BYTES - 1,
    }),
    isTextToBrowser: route.toBrowser.text,
    maxMessageBytes: route.maxMessageBytes,
    highWaterBytes: route.bufferBytes,
    closeTimeoutMs: config.closeTimeoutMs,
    timers: {
      pingIntervalMs: config.pingIntervalMs,
      pingTimeoutMs: config.pingTimeoutMs,
      ...routeTimers(route),
      stallTimeoutMs: config.stallTimeoutMs,
    },
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
