// @ts-check
// @ts-self-types="./wsgate_client.d.ts"
/**
 * The wsgate browser client: one small dependency-free ES module, served
 * verbatim by the gateway at `/wsgate-client.js`. {@linkcode WsgateClient}
 * wraps a WebSocket to one wsgate route and adds what pages otherwise write
 * by hand:
 *
 * - messages arrive as `Uint8Array` (binary) or `string` (text);
 * - `send()` returns `false` when the caller should wait for `"drain"`
 *   (socket buffer above `highWaterMarkBytes`, or not connected);
 * - automatic reconnect with exponential backoff and jitter, up to a cap;
 * - a bounded send queue while disconnected (`QueueFullError` when full);
 * - an optional application heartbeat.
 *
 * Reconnect policy: after a close, the client reconnects unless `close()`
 * was called, `reconnect` is `false`, `maxAttempts` is used up, or the close
 * code is in `noRetryCodes`. By default those are the codes that mean
 * "retrying would fail the same way": 1000 (the backend ended the session on
 * purpose), 1002 (protocol error), 1003 (unsupported data), 1007 (invalid
 * payload), 1008 (policy: origin, ticket), 1009 (message too big) and 1010.
 * Everything else is retried, notably 1001 (gateway shutting down), 1006
 * (connection lost or refused), 1011 (backend unreachable), 1012, 1013 and
 * the 4000-4999 codes.
 *
 * Backoff: a connection counts as established only once it received a
 * message or stayed open `stableAfterMs`; only then does the attempt count
 * start again from 1. A gateway that upgrades and then closes at once (1011:
 * the backend is down) therefore meets growing delays, not a reconnect storm.
 * Attempt `n` waits a random time in `[cap / 2, cap)` with
 * `cap = min(maxDelayMs, initialDelayMs * 2^(n-1))` ("equal jitter": the
 * delays grow with every attempt until the cap, and tabs still spread out).
 *
 * ```js ignore
 * import { WsgateClient } from "/wsgate-client.js";
 * const client = new WsgateClient("/telnet", { heartbeatIntervalMs: 30000, heartbeatMessage: "\n" });
 * client.addEventListener("message", (event) => console.log(event.data));
 * client.addEventListener("close", (event) => console.log("closed", event.code, event.reason));
 * client.addEventListener("reconnect", (event) => console.log("retry", event.attempt, "in", event.delayMs));
 * if (!client.send("hello\n")) await new Promise((resolve) => client.addEventListener("drain", resolve, { once: true }));
 * ```
 *
 * @module
 */

/** Close codes after which the client does not reconnect by default. */
export const DEFAULT_NO_RETRY_CODES = Object.freeze([
  1000,
  1002,
  1003,
  1007,
  1008,
  1009,
  1010,
]);

/** Thrown by `send()` when the queue kept while disconnected is full. */
export class QueueFullError extends Error {
  /**
   * @param {number} queuedMessages Messages already queued.
   * @param {number} queuedBytes Bytes already queued.
   * @param {number} messageBytes Size of the refused message.
   */
  constructor(queuedMessages, queuedBytes, messageBytes) {
    super(
      `Cannot queue message of ${messageBytes} bytes while disconnected as the queue is full: ` +
        `${queuedMessages} messages, ${queuedBytes} bytes queued`,
    );
    this.name = "QueueFullError";
    /** Messages already queued. */
    this.queuedMessages = queuedMessages;
    /** Bytes already queued. */
    this.queuedBytes = queuedBytes;
  }
}

/** The `"close"` event: one per closed connection. */
export class WsgateCloseEvent extends Event {
  /**
   * @param {number} code The WebSocket close code.
   * @param {string} reason The close reason.
   * @param {boolean} wasClean Whether the close handshake completed.
   * @param {boolean} willReconnect Whether a `"reconnect"` follows.
   */
  constructor(code, reason, wasClean, willReconnect) {
    super("close");
    /** The WebSocket close code (1006 when the connection was lost). */
    this.code = code;
    /** The close reason sent by the gateway (may be empty). */
    this.reason = reason;
    /** Whether the close handshake completed. */
    this.wasClean = wasClean;
    /** Whether the client will try again; `false` means it is done. */
    this.willReconnect = willReconnect;
  }
}

/** The `"reconnect"` event: a new attempt is scheduled. */
export class WsgateReconnectEvent extends Event {
  /**
   * @param {number} attempt The attempt number, from 1.
   * @param {number} delayMs The wait before it, in milliseconds.
   */
  constructor(attempt, delayMs) {
    super("reconnect");
    /** The attempt number, from 1 (reset once a connection is established). */
    this.attempt = attempt;
    /** The wait before the attempt, in milliseconds. */
    this.delayMs = delayMs;
  }
}

/**
 * @typedef {"connecting" | "open" | "closing" | "reconnecting" | "closed"} WsgateClientState
 */

/**
 * @typedef {object} WsgateClientOptions
 * @property {string | string[]} [protocols] WebSocket subprotocols.
 * @property {number} [highWaterMarkBytes] `send()` returns false above this socket buffer size. Default 1048576.
 * @property {number} [drainCheckIntervalMs] How often to poll the buffer while above the mark. Default 50.
 * @property {boolean} [reconnect] Whether to reconnect at all. Default true.
 * @property {number} [initialDelayMs] Backoff cap of the first attempt. Default 500.
 * @property {number} [stableAfterMs] A connection open this long (or one that received a message) is established and resets the attempt count. Default 5000.
 * @property {number} [maxDelayMs] Largest backoff cap. Default 30000.
 * @property {number} [maxAttempts] Attempts after a close before giving up. Default Infinity.
 * @property {readonly number[]} [noRetryCodes] Close codes never retried. Default DEFAULT_NO_RETRY_CODES.
 * @property {number} [heartbeatIntervalMs] Send heartbeatMessage this often while open; 0 is off. Default 0.
 * @property {string | Uint8Array} [heartbeatMessage] The heartbeat message. Default "".
 * @property {number} [maxQueuedMessages] Queue limit while disconnected, in messages. Default 1000.
 * @property {number} [maxQueuedBytes] Queue limit while disconnected, in bytes. Default 1048576.
 * @property {() => number} [random] Source of jitter in [0, 1). Default Math.random.
 */

/** A WebSocket to one wsgate route that reconnects and queues. */
export class WsgateClient extends EventTarget {
  /** @type {string} */
  #url;
  /** @type {string | string[]} */
  #protocols;
  #highWaterMarkBytes;
  #drainCheckIntervalMs;
  #reconnect;
  #initialDelayMs;
  #stableAfterMs;
  #maxDelayMs;
  #maxAttempts;
  /** @type {readonly number[]} */
  #noRetryCodes;
  #heartbeatIntervalMs;
  /** @type {string | Uint8Array} */
  #heartbeatMessage;
  #maxQueuedMessages;
  #maxQueuedBytes;
  /** @type {() => number} */
  #random;

  /** @type {WebSocket | undefined} */
  #socket = undefined;
  /** @type {WsgateClientState} */
  #state = "connecting";
  /** @type {(string | Uint8Array)[]} */
  #queue = [];
  #queuedBytes = 0;
  #attempt = 0;
  #isEstablished = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #stableTimer = undefined;
  #needsDrain = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #reconnectTimer = undefined;
  /** @type {ReturnType<typeof setInterval> | undefined} */
  #heartbeatTimer = undefined;
  /** @type {ReturnType<typeof setInterval> | undefined} */
  #drainTimer = undefined;

  /**
   * Connects at once. A relative URL (`/vnc`) is resolved against the page
   * and `http(s):` becomes `ws(s):`.
   *
   * @param {string | URL} url The route, for example `wss://gw.example/vnc` or `/vnc`.
   * @param {WsgateClientOptions} [options] Reconnect, queue, heartbeat and back-pressure settings.
   */
  constructor(url, options = {}) {
    super();
    const {
      protocols = [],
      highWaterMarkBytes = 1048576,
      drainCheckIntervalMs = 50,
      reconnect = true,
      initialDelayMs = 500,
      stableAfterMs = 5000,
      maxDelayMs = 30000,
      maxAttempts = Number.POSITIVE_INFINITY,
      noRetryCodes = DEFAULT_NO_RETRY_CODES,
      heartbeatIntervalMs = 0,
      heartbeatMessage = "",
      maxQueuedMessages = 1000,
      maxQueuedBytes = 1048576,
      random = Math.random,
    } = options;
    /** @type {[string, number, number][]} */
    const ranges = [
      ["highWaterMarkBytes", highWaterMarkBytes, 0],
      ["drainCheckIntervalMs", drainCheckIntervalMs, 1],
      ["initialDelayMs", initialDelayMs, 0],
      ["stableAfterMs", stableAfterMs, 0],
      ["maxDelayMs", maxDelayMs, 0],
      ["maxAttempts", maxAttempts, 0],
      ["heartbeatIntervalMs", heartbeatIntervalMs, 0],
      ["maxQueuedMessages", maxQueuedMessages, 0],
      ["maxQueuedBytes", maxQueuedBytes, 0],
    ];
    for (const [name, value, min] of ranges) {
      if (typeof value !== "number" || Number.isNaN(value) || value < min) {
        throw new RangeError(
          `Cannot create WsgateClient as ${name} must be a number >= ${min}: current value is ${value}`,
        );
      }
    }
    this.#url = resolveUrl(url);
    this.#protocols = protocols;
    this.#highWaterMarkBytes = highWaterMarkBytes;
    this.#drainCheckIntervalMs = drainCheckIntervalMs;
    this.#reconnect = reconnect;
    this.#initialDelayMs = initialDelayMs;
    this.#stableAfterMs = stableAfterMs;
    this.#maxDelayMs = maxDelayMs;
    this.#maxAttempts = maxAttempts;
    this.#noRetryCodes = noRetryCodes;
    this.#heartbeatIntervalMs = heartbeatIntervalMs;
    this.#heartbeatMessage = heartbeatMessage;
    this.#maxQueuedMessages = maxQueuedMessages;
    this.#maxQueuedBytes = maxQueuedBytes;
    this.#random = random;
    this.#connect();
  }

  /** The resolved `ws:` or `wss:` URL. */
  get url() {
    return this.#url;
  }

  /** @returns {WsgateClientState} The connection state. */
  get readyState() {
    return this.#state;
  }

  /**
   * The number of the current reconnect attempt: 0 while the connection is
   * established (or before the first close), else the attempt in progress or
   * scheduled, from 1.
   */
  get attempt() {
    return this.#attempt;
  }

  /** Whether the current connection is established (see `stableAfterMs`). */
  get isEstablished() {
    return this.#isEstablished;
  }

  /** The subprotocol the gateway chose, or `""`. */
  get protocol() {
    return this.#socket?.protocol ?? "";
  }

  /** Bytes waiting: the socket's `bufferedAmount` plus the queue. */
  get bufferedAmount() {
    return (this.#socket?.bufferedAmount ?? 0) + this.#queuedBytes;
  }

  /** Messages waiting in the queue for a connection. */
  get queuedMessages() {
    return this.#queue.length;
  }

  /** Bytes waiting in the queue for a connection. */
  get queuedBytes() {
    return this.#queuedBytes;
  }

  /**
   * Sends a binary (`Uint8Array`, `ArrayBuffer`) or text (`string`) message,
   * or queues a copy of it while not connected.
   *
   * @param {Uint8Array | ArrayBuffer | string} message The message.
   * @returns {boolean} `true` to keep sending; `false` to wait for the
   * `"drain"` event (buffer above the high-water mark, or queued).
   * @throws {QueueFullError} When not connected and the queue is full.
   * @throws {DOMException} `InvalidStateError` after `close()` or giving up.
   */
  send(message) {
    if (this.#state === "closing" || this.#state === "closed") {
      throw new DOMException(
        `Cannot send as the client is ${this.#state}`,
        "InvalidStateError",
      );
    }
    const socket = this.#socket;
    if (this.#state === "open" && socket !== undefined) {
      socket.send(message);
      return this.#checkBackpressure(socket);
    }
    const bytes = typeof message === "string"
      ? utf8Length(message)
      : message.byteLength;
    if (
      this.#queue.length + 1 > this.#maxQueuedMessages ||
      this.#queuedBytes + bytes > this.#maxQueuedBytes
    ) {
      throw new QueueFullError(this.#queue.length, this.#queuedBytes, bytes);
    }
    // Copy: the caller may reuse its buffer once send() returns.
    this.#queue.push(
      typeof message === "string"
        ? message
        : message instanceof ArrayBuffer
        ? new Uint8Array(message.slice(0))
        : message.slice(),
    );
    this.#queuedBytes += bytes;
    this.#needsDrain = true;
    return false;
  }

  /**
   * Closes the connection for good: no reconnect follows, queued messages
   * are dropped. A final `"close"` event with `willReconnect: false` is
   * dispatched. Calling it again does nothing.
   *
   * @param {number} [code] 1000 or 3000-4999. Default 1000.
   * @param {string} [reason] At most 123 bytes of UTF-8. Default "".
   */
  close(code = 1000, reason = "") {
    if (this.#state === "closed" || this.#state === "closing") return;
    const socket = this.#socket;
    if (socket !== undefined) {
      socket.close(code, reason);
      this.#state = "closing";
      this.#dropQueue();
      return;
    }
    this.#state = "closed";
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#dropQueue();
    this.dispatchEvent(new WsgateCloseEvent(code, reason, true, false));
  }

  #connect() {
    this.#reconnectTimer = undefined;
    this.#state = "connecting";
    const socket = new WebSocket(this.#url, this.#protocols);
    socket.binaryType = "arraybuffer";
    this.#socket = socket;
    socket.onopen = () => this.#handleOpen(socket);
    socket.onmessage = (event) => {
      if (socket !== this.#socket) return;
      this.#establish();
      const data = typeof event.data === "string"
        ? event.data
        : new Uint8Array(event.data);
      this.dispatchEvent(new MessageEvent("message", { data }));
    };
    // Deno reports a failed connection (and 1014) as code 0; browsers say 1006.
    socket.onclose = (event) =>
      this.#handleClose(
        socket,
        event.code === 0 ? 1006 : event.code,
        event.reason,
        event.wasClean,
      );
  }

  /** @param {WebSocket} socket */
  #handleOpen(socket) {
    if (socket !== this.#socket || this.#state !== "connecting") return;
    this.#state = "open";
    // Not established yet: a gateway that upgrades and closes at once (backend
    // down) must not reset the backoff.
    this.#stableTimer = setTimeout(
      () => this.#establish(),
      this.#stableAfterMs,
    );
    // Queued messages go first, so they stay ahead of sends made in "open".
    const queue = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    for (const message of queue) socket.send(message);
    if (this.#heartbeatIntervalMs > 0) {
      this.#heartbeatTimer = setInterval(() => {
        if (this.#state === "open") socket.send(this.#heartbeatMessage);
      }, this.#heartbeatIntervalMs);
    }
    this.dispatchEvent(new Event("open"));
    if (this.#state === "open") this.#checkDrain(socket);
  }

  /** The connection proved itself: the next close starts from attempt 1. */
  #establish() {
    clearTimeout(this.#stableTimer);
    this.#stableTimer = undefined;
    if (this.#isEstablished || this.#state !== "open") return;
    this.#isEstablished = true;
    this.#attempt = 0;
    this.dispatchEvent(new Event("established"));
  }

  /**
   * @param {WebSocket} socket
   * @param {number} code
   * @param {string} reason
   * @param {boolean} wasClean
   */
  #handleClose(socket, code, reason, wasClean) {
    if (socket !== this.#socket) return;
    this.#socket = undefined;
    clearInterval(this.#heartbeatTimer);
    clearInterval(this.#drainTimer);
    clearTimeout(this.#stableTimer);
    this.#heartbeatTimer = undefined;
    this.#drainTimer = undefined;
    this.#stableTimer = undefined;
    this.#isEstablished = false;
    const willReconnect = this.#state !== "closing" && this.#reconnect &&
      !this.#noRetryCodes.includes(code) &&
      this.#attempt < this.#maxAttempts;
    if (!willReconnect) {
      this.#state = "closed";
      this.#dropQueue();
      this.dispatchEvent(
        new WsgateCloseEvent(code, reason, wasClean, false),
      );
      return;
    }
    this.#state = "reconnecting";
    this.#attempt++;
    const attempt = this.#attempt;
    const delayMs = backoffDelayMs(attempt, {
      initialDelayMs: this.#initialDelayMs,
      maxDelayMs: this.#maxDelayMs,
      random: this.#random,
    });
    // Scheduled before dispatching, so close() in a listener can cancel it.
    this.#reconnectTimer = setTimeout(() => this.#connect(), delayMs);
    this.dispatchEvent(new WsgateCloseEvent(code, reason, wasClean, true));
    if (this.#state === "reconnecting" && this.#attempt === attempt) {
      this.dispatchEvent(new WsgateReconnectEvent(attempt, delayMs));
    }
  }

  /**
   * @param {WebSocket} socket
   * @returns {boolean}
   */
  #checkBackpressure(socket) {
    if (socket.bufferedAmount <= this.#highWaterMarkBytes) return true;
    this.#needsDrain = true;
    this.#checkDrain(socket);
    return false;
  }

  /** @param {WebSocket} socket */
  #checkDrain(socket) {
    if (!this.#needsDrain) return;
    if (socket.bufferedAmount <= this.#highWaterMarkBytes) {
      this.#needsDrain = false;
      clearInterval(this.#drainTimer);
      this.#drainTimer = undefined;
      this.dispatchEvent(new Event("drain"));
      return;
    }
    // Browsers have no event for a shrinking bufferedAmount: poll while high.
    this.#drainTimer ??= setInterval(
      () => this.#checkDrain(socket),
      this.#drainCheckIntervalMs,
    );
  }

  #dropQueue() {
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#needsDrain = false;
  }
}

/**
 * The wait before reconnect attempt `attempt` (from 1): equal jitter, uniform
 * in `[cap / 2, cap)` with `cap = min(maxDelayMs, initialDelayMs * 2^(attempt-1))`,
 * so each delay is at least the previous attempt's cap and the delays grow
 * until the cap.
 *
 * @param {number} attempt The attempt number, from 1.
 * @param {{ initialDelayMs: number, maxDelayMs: number, random: () => number }} options
 *   The backoff settings and the jitter source in [0, 1).
 * @returns {number} Whole milliseconds.
 */
export function backoffDelayMs(attempt, options) {
  const { initialDelayMs, maxDelayMs, random } = options;
  const cap = Math.min(maxDelayMs, initialDelayMs * 2 ** (attempt - 1));
  return Math.floor(cap / 2 + random() * (cap / 2));
}

/**
 * @param {string | URL} url
 * @returns {string}
 */
function resolveUrl(url) {
  const base = globalThis.location?.href;
  const resolved = new URL(url, base);
  if (resolved.protocol === "http:") resolved.protocol = "ws:";
  if (resolved.protocol === "https:") resolved.protocol = "wss:";
  if (resolved.protocol !== "ws:" && resolved.protocol !== "wss:") {
    throw new SyntaxError(
      `Cannot create WsgateClient as the URL scheme must be ws, wss, http or https: current value is "${resolved.protocol}"`,
    );
  }
  return resolved.href;
}

/**
 * @param {string} text
 * @returns {number} The UTF-8 length of `text` without encoding it.
 */
function utf8Length(text) {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) length += 1;
    else if (unit < 0x800) length += 2;
    else if (
      unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length &&
      (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      length += 4;
      i++;
    } else length += 3;
  }
  return length;
}
