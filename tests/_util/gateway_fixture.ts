/**
 * Starts a gateway for a test on 127.0.0.1 port 0, records its events, and
 * stops it with `await using`.
 *
 * @module
 */

import { createGateway, type Gateway } from "../../src/server/gateway.ts";
import type { GatewayOptions } from "../../src/config/config.ts";
import type { GatewayEvent } from "../../src/observability/events.ts";
import { within } from "./assert.ts";

/** The event a gateway emits when a session ends. */
export type SessionClose = Extract<GatewayEvent, { type: "session_close" }>;

/** A started gateway plus what tests need around it. */
export interface GatewayFixture {
  /** The gateway. */
  gateway: Gateway;
  /** Its port. */
  port: number;
  /** `ws://127.0.0.1:PORT` + path. */
  url(path?: string): string;
  /** Every event emitted so far. */
  events: GatewayEvent[];
  /** Resolves with the next event matching `predicate` (already seen ones count). */
  waitForEvent<T extends GatewayEvent>(
    predicate: (event: GatewayEvent) => event is T,
  ): Promise<T>;
  /** Resolves with the next `session_close` event (seen or future). */
  nextClose(): Promise<SessionClose>;
  /** Stops the gateway. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a gateway with `options` (port forced to 0 on 127.0.0.1). */
export async function startGateway(
  options: GatewayOptions,
): Promise<GatewayFixture> {
  const events: GatewayEvent[] = [];
  let listeners: ((event: GatewayEvent) => void)[] = [];
  let closesTaken = 0;
  const gateway = createGateway({
    ...options,
    hostname: "127.0.0.1",
    port: 0,
    onEvent: (event) => {
      events.push(event);
      for (const listener of listeners) listener(event);
      options.onEvent?.(event);
    },
  });
  const addr = await gateway.listen();
  const waitForEvent = <T extends GatewayEvent>(
    predicate: (event: GatewayEvent) => event is T,
  ): Promise<T> => {
    const seen = events.find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const listener = (event: GatewayEvent) => {
        if (!predicate(event)) return;
        listeners = listeners.filter((other) => other !== listener);
        resolve(event);
      };
      listeners.push(listener);
    });
  };
  return {
    gateway,
    port: addr.port,
    url: (path = "/") => `ws://127.0.0.1:${addr.port}${path}`,
    events,
    waitForEvent,
    nextClose() {
      const index = closesTaken++;
      const isClose = (
        event: GatewayEvent,
      ): event is SessionClose => event.type === "session_close";
      const closes = events.filter(isClose);
      if (closes[index] !== undefined) return Promise.resolve(closes[index]);
      return new Promise((resolve) => {
        const listener = (event: GatewayEvent) => {
          if (!isClose(event)) return;
          if (events.filter(isClose).length - 1 < index) return;
          listeners = listeners.filter((other) => other !== listener);
          resolve(event);
        };
        listeners.push(listener);
      });
    },
    [Symbol.asyncDispose]: () => gateway.close(),
  };
}

/**
 * The fixture's next `session_close` event, within `timeoutMs`.
 *
 * @param fixture The gateway fixture.
 * @param timeoutMs How long to wait at most, in milliseconds.
 * @returns The event; rejects on the timeout.
 */
export function nextClose(
  fixture: GatewayFixture,
  timeoutMs = 5000,
): Promise<SessionClose> {
  return within(fixture.nextClose(), timeoutMs, "session_close");
}
