/**
 * Types of the wsgate browser client (`wsgate_client.js`, served by the
 * gateway at `/wsgate-client.js`). See {@linkcode WsgateClient}.
 *
 * Reconnect policy: after a close, the client reconnects unless `close()`
 * was called, `reconnect` is `false`, `maxAttempts` is used up, or the close
 * code is in `noRetryCodes` (by default {@linkcode DEFAULT_NO_RETRY_CODES}:
 * 1000 backend ended the session on purpose, 1002, 1003, 1007, 1008 policy,
 * 1009, 1010). Everything else is retried, notably 1001 (gateway shutting
 * down), 1006 (connection lost or refused), 1011 (backend unreachable), 1012,
 * 1013 and 4000-4999.
 *
 * Backoff: a connection counts as established once it received a message or
 * stayed open `stableAfterMs`; only then does the attempt count start again.
 * A route whose backend is down (upgrade, then 1011 at once) therefore meets
 * delays that grow to `maxDelayMs` ({@linkcode backoffDelayMs}), not a storm.
 *
 * @module
 */

/**
 * The client's connection state. `closing` and `closed` are final: they
 * follow `close()` or giving up.
 */
export type WsgateClientState =
  | "connecting"
  | "open"
  | "closing"
  | "reconnecting"
  | "closed";

/** Options of {@linkcode WsgateClient}. */
export interface WsgateClientOptions {
  /**
   * WebSocket subprotocols to offer.
   * @default {[]}
   */
  protocols?: string | string[];
  /**
   * `send()` returns `false` while the socket's `bufferedAmount` is above
   * this many bytes; `"drain"` fires when it is back at or below.
   * @default {1048576}
   */
  highWaterMarkBytes?: number;
  /**
   * How often `bufferedAmount` is polled while above the high-water mark, in
   * milliseconds (browsers have no event for it).
   * @default {50}
   */
  drainCheckIntervalMs?: number;
  /**
   * Whether to reconnect after a close at all.
   * @default {true}
   */
  reconnect?: boolean;
  /**
   * Backoff cap of the first attempt in milliseconds; attempt `n` waits a
   * uniformly random time in `[cap / 2, cap)` with
   * `cap = min(maxDelayMs, initialDelayMs * 2^(n-1))` (equal jitter, see
   * {@linkcode backoffDelayMs}).
   * @default {500}
   */
  initialDelayMs?: number;
  /**
   * Milliseconds a connection must stay open before it counts as
   * established; one that receives a message is established at once. Only an
   * established connection resets the attempt count, so an upgrade followed
   * by an immediate close (backend down) keeps backing off.
   * @default {5000}
   */
  stableAfterMs?: number;
  /**
   * Largest backoff cap in milliseconds.
   * @default {30000}
   */
  maxDelayMs?: number;
  /**
   * Attempts after a close before giving up; the count restarts when a
   * connection is established (see `stableAfterMs`).
   * @default {Infinity}
   */
  maxAttempts?: number;
  /**
   * Close codes after which the client never reconnects.
   * @default {DEFAULT_NO_RETRY_CODES}
   */
  noRetryCodes?: readonly number[];
  /**
   * Send `heartbeatMessage` this often while open, in milliseconds; 0 is off.
   * @default {0}
   */
  heartbeatIntervalMs?: number;
  /**
   * The application heartbeat message (text or binary).
   * @default {""}
   */
  heartbeatMessage?: string | Uint8Array;
  /**
   * Messages kept while not connected; one more throws `QueueFullError`.
   * @default {1000}
   */
  maxQueuedMessages?: number;
  /**
   * Bytes kept while not connected; more throws `QueueFullError`.
   * @default {1048576}
   */
  maxQueuedBytes?: number;
  /**
   * Source of jitter, returning a number in `[0, 1)`.
   * @default {Math.random}
   */
  random?: () => number;
}

/**
 * Close codes after which the client does not reconnect by default:
 * 1000, 1002, 1003, 1007, 1008, 1009, 1010.
 *
 * @example Policy violations are final
 * ```ts
 * import { DEFAULT_NO_RETRY_CODES } from "./wsgate_client.js";
 * import assert from "node:assert/strict";
 * assert.ok(DEFAULT_NO_RETRY_CODES.includes(1008));
 * assert.ok(!DEFAULT_NO_RETRY_CODES.includes(1011));
 * ```
 */
export declare const DEFAULT_NO_RETRY_CODES: readonly number[];

/** Options of {@linkcode backoffDelayMs}. */
export interface BackoffOptions {
  /** Backoff cap of attempt 1, in milliseconds. */
  initialDelayMs: number;
  /** Largest backoff cap, in milliseconds. */
  maxDelayMs: number;
  /** Source of jitter, returning a number in `[0, 1)`. */
  random: () => number;
}

/**
 * The wait before reconnect attempt `attempt` (from 1), in whole
 * milliseconds: uniform in `[cap / 2, cap)` with
 * `cap = min(maxDelayMs, initialDelayMs * 2^(attempt-1))`. Each delay is at
 * least the previous attempt's cap, so the delays grow until the cap.
 *
 * @example Delays double up to the cap
 * ```ts
 * import { backoffDelayMs } from "./wsgate_client.js";
 * import assert from "node:assert/strict";
 * const options = { initialDelayMs: 100, maxDelayMs: 500, random: () => 0 };
 * assert.deepEqual(
 *   [1, 2, 3, 4, 5].map((attempt) => backoffDelayMs(attempt, options)),
 *   [50, 100, 200, 250, 250],
 * );
 * ```
 *
 * @param attempt The attempt number, from 1.
 * @param options The backoff settings and the jitter source.
 * @returns The delay in milliseconds.
 */
export declare function backoffDelayMs(
  attempt: number,
  options: BackoffOptions,
): number;

/**
 * Thrown by {@linkcode WsgateClient.send} when the queue kept while
 * disconnected is full. `name` is `"QueueFullError"`.
 *
 * @example Catching it
 * ```ts
 * import { QueueFullError } from "./wsgate_client.js";
 * import assert from "node:assert/strict";
 * const error = new QueueFullError(2, 10, 5);
 * assert.equal(error.name, "QueueFullError");
 * assert.equal(error.queuedMessages, 2);
 * ```
 */
export declare class QueueFullError extends Error {
  /**
   * Constructs a new instance.
   * @param queuedMessages Messages already queued.
   * @param queuedBytes Bytes already queued.
   * @param messageBytes Size of the refused message.
   */
  constructor(
    queuedMessages: number,
    queuedBytes: number,
    messageBytes: number,
  );
  /** Messages already queued. */
  readonly queuedMessages: number;
  /** Bytes already queued. */
  readonly queuedBytes: number;
}

/**
 * The `"close"` event, dispatched once per closed connection.
 *
 * @example Fields
 * ```ts
 * import { WsgateCloseEvent } from "./wsgate_client.js";
 * import assert from "node:assert/strict";
 * const event = new WsgateCloseEvent(1011, "backend unreachable", true, true);
 * assert.equal(event.type, "close");
 * assert.equal(event.willReconnect, true);
 * ```
 */
export declare class WsgateCloseEvent extends Event {
  /**
   * Constructs a new instance.
   * @param code The WebSocket close code.
   * @param reason The close reason.
   * @param wasClean Whether the close handshake completed.
   * @param willReconnect Whether a `"reconnect"` follows.
   */
  constructor(
    code: number,
    reason: string,
    wasClean: boolean,
    willReconnect: boolean,
  );
  /** The WebSocket close code (1006 when the connection was lost). */
  readonly code: number;
  /** The close reason sent by the gateway (may be empty). */
  readonly reason: string;
  /** Whether the close handshake completed. */
  readonly wasClean: boolean;
  /** Whether the client will try again; `false` means it is done. */
  readonly willReconnect: boolean;
}

/**
 * The `"reconnect"` event: a new attempt is scheduled.
 *
 * @example Fields
 * ```ts
 * import { WsgateReconnectEvent } from "./wsgate_client.js";
 * import assert from "node:assert/strict";
 * const event = new WsgateReconnectEvent(3, 1200);
 * assert.equal(event.type, "reconnect");
 * assert.equal(event.delayMs, 1200);
 * ```
 */
export declare class WsgateReconnectEvent extends Event {
  /**
   * Constructs a new instance.
   * @param attempt The attempt number, from 1.
   * @param delayMs The wait before it, in milliseconds.
   */
  constructor(attempt: number, delayMs: number);
  /** The attempt number, from 1 (reset once a connection is established). */
  readonly attempt: number;
  /** The wait before the attempt, in milliseconds. */
  readonly delayMs: number;
}

/** The events of {@linkcode WsgateClient} by type. */
export interface WsgateClientEventMap {
  /** A connection opened (the first one or after a reconnect). */
  open: Event;
  /**
   * The open connection received a message or stayed open `stableAfterMs`:
   * the attempt count is back to 0.
   */
  established: Event;
  /** A message arrived: `Uint8Array` for binary, `string` for text. */
  message: MessageEvent<Uint8Array | string>;
  /** A connection closed; `willReconnect` says whether it is final. */
  close: WsgateCloseEvent;
  /** A reconnect attempt is scheduled. */
  reconnect: WsgateReconnectEvent;
  /** Back-pressure cleared after `send()` returned `false`. */
  drain: Event;
}

/**
 * A WebSocket to one wsgate route with reconnect, a bounded send queue,
 * back-pressure signalling and an optional heartbeat.
 *
 * @example Echo through a WebSocket server
 * ```ts
 * import { WsgateClient } from "./wsgate_client.js";
 * import assert from "node:assert/strict";
 * await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
 *   const { socket, response } = Deno.upgradeWebSocket(request);
 *   socket.onmessage = (event) => socket.send(event.data);
 *   return response;
 * });
 * const client = new WsgateClient(`ws://127.0.0.1:${server.addr.port}/echo`);
 * client.send("queued until open");
 * const echoed = Promise.withResolvers<unknown>();
 * client.addEventListener("message", (event) => echoed.resolve(event.data), { once: true });
 * assert.equal(await echoed.promise, "queued until open");
 * const closed = Promise.withResolvers<void>();
 * client.addEventListener("close", () => closed.resolve());
 * client.close();
 * await closed.promise;
 * assert.equal(client.readyState, "closed");
 * ```
 *
 * @example In a page served by wsgate
 * ```ts ignore
 * import { WsgateClient } from "/wsgate-client.js";
 * const client = new WsgateClient("/vnc", { heartbeatIntervalMs: 30000, heartbeatMessage: "" });
 * client.addEventListener("message", (event) => render(event.data));
 * client.addEventListener("close", (event) => {
 *   if (!event.willReconnect) show(`closed ${event.code} ${event.reason}`);
 * });
 * async function write(bytes: Uint8Array) {
 *   if (!client.send(bytes)) {
 *     await new Promise((resolve) => client.addEventListener("drain", resolve, { once: true }));
 *   }
 * }
 * ```
 */
export declare class WsgateClient extends EventTarget {
  /**
   * Connects at once. A relative URL (`/vnc`) is resolved against the page
   * and `http(s):` becomes `ws(s):`. Throws `RangeError` for a bad option and
   * `SyntaxError` for a URL that is not ws, wss, http or https.
   *
   * @param url The route, for example `wss://gw.example/vnc` or `/vnc`.
   * @param options Reconnect, queue, heartbeat and back-pressure settings.
   */
  constructor(url: string | URL, options?: WsgateClientOptions);
  /** The resolved `ws:` or `wss:` URL. */
  readonly url: string;
  /** The connection state. */
  readonly readyState: WsgateClientState;
  /**
   * The reconnect attempt in progress or scheduled, from 1; 0 before the
   * first close and while the connection is established.
   */
  readonly attempt: number;
  /** Whether the open connection is established (see `stableAfterMs`). */
  readonly isEstablished: boolean;
  /** The subprotocol the gateway chose, or `""`. */
  readonly protocol: string;
  /** Bytes waiting: the socket's `bufferedAmount` plus the queue. */
  readonly bufferedAmount: number;
  /** Messages waiting in the queue for a connection. */
  readonly queuedMessages: number;
  /** Bytes waiting in the queue for a connection. */
  readonly queuedBytes: number;
  /**
   * Sends a binary (`Uint8Array`, `ArrayBuffer`) or text (`string`)
   * message, or queues a copy while not connected. Throws `QueueFullError`
   * when not connected and the queue is full, and a `DOMException` named
   * `InvalidStateError` after `close()` or giving up.
   *
   * @param message The message.
   * @returns `true` to keep sending; `false` to wait for `"drain"` (buffer
   * above the high-water mark, or queued while not connected).
   */
  send(message: Uint8Array | ArrayBuffer | string): boolean;
  /**
   * Closes for good: no reconnect follows and queued messages are dropped.
   * A final `"close"` event with `willReconnect: false` follows. Calling it
   * again does nothing.
   *
   * @param code 1000 or 3000-4999.
   * @param reason At most 123 bytes of UTF-8.
   */
  close(code?: number, reason?: string): void;
  /**
   * Adds a typed listener.
   * @param type The event type.
   * @param listener The listener.
   * @param options Listener options.
   */
  addEventListener<K extends keyof WsgateClientEventMap>(
    type: K,
    listener: (this: WsgateClient, event: WsgateClientEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /**
   * Adds a listener.
   * @param type The event type.
   * @param listener The listener.
   * @param options Listener options.
   */
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /**
   * Removes a typed listener.
   * @param type The event type.
   * @param listener The listener.
   * @param options Listener options.
   */
  removeEventListener<K extends keyof WsgateClientEventMap>(
    type: K,
    listener: (this: WsgateClient, event: WsgateClientEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  /**
   * Removes a listener.
   * @param type The event type.
   * @param listener The listener.
   * @param options Listener options.
   */
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}
