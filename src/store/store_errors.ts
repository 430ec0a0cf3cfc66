/**
 * The error classes of the store client: a reply the server sent as an error
 * ({@linkcode StoreReplyError}), and a store that cannot be reached or does
 * not answer in time ({@linkcode StoreUnavailableError}).
 *
 * @module
 */

/**
 * The client-facing body of a handshake refused (503) because the store
 * did not answer in time: fleet admission and token lookups alike, so
 * `/metrics` counts both under one reason.
 */
export const STORE_UNAVAILABLE_BODY = "Store unavailable";

/** Options of the store error constructors. */
export interface StoreErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * The server answered a command with an error reply (`-ERR ...`,
 * `-WRONGPASS ...`, `-NOSCRIPT ...`). `prefix` is the first word of the
 * reply, the Redis error code.
 *
 * @example Usage
 * ```ts
 * import { StoreReplyError } from "./store_errors.ts";
 * import assert from "node:assert/strict";
 * const error = new StoreReplyError("NOSCRIPT No matching script");
 * assert.equal(error.prefix, "NOSCRIPT");
 * ```
 */
export class StoreReplyError extends Error {
  /** The first word of the error reply, such as `ERR` or `WRONGPASS`. */
  readonly prefix: string;
  /**
   * Constructs a new instance.
   * @param reply The error reply text without the leading `-`.
   */
  constructor(reply: string) {
    super(reply);
    this.name = "StoreReplyError";
    const space = reply.indexOf(" ");
    this.prefix = space === -1 ? reply : reply.slice(0, space);
  }
}

/**
 * The store could not be reached, did not answer within the deadline, closed
 * the connection, or sent bytes that are not RESP. Callers fail closed (503).
 *
 * @example Usage
 * ```ts
 * import { StoreUnavailableError } from "./store_errors.ts";
 * import assert from "node:assert/strict";
 * const error = new StoreUnavailableError("Cannot reach store: timed out");
 * assert.equal(error.name, "StoreUnavailableError");
 * ```
 */
export class StoreUnavailableError extends Error {
  /**
   * Constructs a new instance.
   * @param message What failed.
   * @param options The cause.
   */
  constructor(message: string, options: StoreErrorOptions = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = "StoreUnavailableError";
  }
}
