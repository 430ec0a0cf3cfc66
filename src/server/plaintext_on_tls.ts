/**
 * Noticing clients that speak plain text (`http://`, `ws://`) to the TLS
 * port, and reporting them at most once per interval.
 *
 * The TLS listener's first read runs the handshake; a request line such as
 * `GET / HTTP/1.1` where a TLS record should start fails it with rustls'
 * `InvalidContentType`. Deno's TLS listener has already taken those bytes
 * and answers with a TLS alert, and Deno has no server-side `startTls` to
 * read them first, so the gateway cannot send that client an HTTP 400: the
 * log line is where the hint goes.
 *
 * @module
 */

/**
 * Whether a failed first read on a TLS connection means the client did not
 * start TLS at all (it sent plain text, such as an HTTP request line).
 *
 * @example A plain HTTP request on a TLS listener
 * ```ts
 * import { isPlaintextOnTls } from "./plaintext_on_tls.ts";
 * import assert from "node:assert/strict";
 * const error = new Deno.errors.InvalidData(
 *   "received corrupt message of type InvalidContentType",
 * );
 * assert.equal(isPlaintextOnTls(error), true);
 * assert.equal(isPlaintextOnTls(new Deno.errors.ConnectionReset("reset")), false);
 * ```
 *
 * @param error What the first read threw.
 * @returns True when the client sent plain text instead of a TLS handshake.
 */
export function isPlaintextOnTls(error: unknown): boolean {
  return error instanceof Deno.errors.InvalidData &&
    error.message.includes("InvalidContentType");
}

/** Options of {@linkcode PlaintextNotices}. */
export interface PlaintextNoticesOptions {
  /**
   * The shortest time between two reported notices; the ones in between
   * are counted and named in the next report.
   * @default {10000}
   */
  intervalMs?: number;
}

/**
 * The log line for plain-text clients on the TLS port, at most one per
 * interval, with the count of the ones left out since the last line.
 *
 * @example One line per interval
 * ```ts
 * import { PlaintextNotices } from "./plaintext_on_tls.ts";
 * import assert from "node:assert/strict";
 * const notices = new PlaintextNotices({ intervalMs: 1000 });
 * assert.match(notices.take("127.0.0.1:5000", 0)!, /use https:\/\/ or wss:\/\//);
 * assert.equal(notices.take("127.0.0.1:5001", 10), undefined);
 * assert.match(notices.take("127.0.0.1:5002", 1000)!, /1 more since the last/);
 * ```
 */
export class PlaintextNotices {
  #intervalMs: number;
  #lastReportMs = -Infinity;
  #suppressed = 0;

  /**
   * Constructs a new instance.
   * @param options The interval.
   */
  constructor(options: PlaintextNoticesOptions = {}) {
    const { intervalMs = 10_000 } = options;
    this.#intervalMs = intervalMs;
  }

  /**
   * Counts one plain-text client and returns the line to log, or undefined
   * when a line was logged less than the interval ago.
   * @param client The client's address, for the line.
   * @param nowMs The current time in milliseconds.
   * @returns The warning's detail, or undefined.
   */
  take(client: string, nowMs: number): string | undefined {
    if (nowMs - this.#lastReportMs < this.#intervalMs) {
      this.#suppressed++;
      return undefined;
    }
    this.#lastReportMs = nowMs;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    return `${client} sent plain text, not a TLS handshake: this port serves ` +
      `TLS, use https:// or wss:// (the client got a TLS alert)${
        suppressed === 0 ? "" : ` (${suppressed} more since the last notice)`
      }`;
  }
}
