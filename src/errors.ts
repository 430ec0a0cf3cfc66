/**
 * The domain error classes of wsgate. Each maps to one WebSocket close code
 * (see `closeCodeForError` in `session/close_codes.ts`).
 *
 * @module
 */

/** Options shared by the error constructors. */
export interface WsgateErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * A frame or message is larger than the configured maximum. Raised before the
 * announced size is allocated or buffered. Maps to close code 1009.
 *
 * @example Usage
 * ```ts
 * import { FrameTooLargeError } from "./errors.ts";
 * import assert from "node:assert/strict";
 * const error = new FrameTooLargeError(70000, 65536);
 * assert.equal(error.size, 70000);
 * ```
 */
export class FrameTooLargeError extends RangeError {
  /** The announced or actual size in bytes. */
  readonly size: number;
  /** The limit in bytes that was exceeded. */
  readonly limit: number;
  /**
   * Constructs a new instance.
   * @param size The announced or actual size in bytes.
   * @param limit The largest size accepted, in bytes.
   * @param message An optional message overriding the default one.
   */
  constructor(size: number, limit: number, message?: string) {
    super(
      message ??
        `Cannot accept frame as its length must be <= ${limit}: current value is ${size}`,
    );
    this.name = "FrameTooLargeError";
    this.size = size;
    this.limit = limit;
  }
}

/**
 * A length prefix announced too large a message and its bytes read as text
 * (`GET `, `+OK `, `HTTP`): the backend most likely speaks a text protocol
 * and the route wants `--framing raw` or `lines`. A {@linkcode
 * FrameTooLargeError}, so it still maps to close code 1009, with a reason
 * that says so.
 *
 * @example Usage
 * ```ts
 * import { FrameTooLargeError, LengthFieldIsTextError } from "./errors.ts";
 * import assert from "node:assert/strict";
 * const error = new LengthFieldIsTextError("+OK ", 726355744, 65536);
 * assert.ok(error instanceof FrameTooLargeError);
 * assert.equal(error.text, "+OK ");
 * assert.match(error.message, /--framing raw/);
 * ```
 */
export class LengthFieldIsTextError extends FrameTooLargeError {
  /** The length field's bytes as text (printable ASCII, tab, CR or LF). */
  readonly text: string;
  /**
   * Constructs a new instance.
   * @param text The length field's bytes, as text.
   * @param size The announced message size in bytes.
   * @param limit The largest size accepted, in bytes.
   */
  constructor(text: string, size: number, limit: number) {
    super(
      size,
      limit,
      `Cannot decode frame as its message length must be <= ${limit}: current value is ${size}, ` +
        `and the length field reads as text ${
          JSON.stringify(text)
        }: the backend seems to speak a text protocol, try --framing raw or --framing lines`,
    );
    this.name = "LengthFieldIsTextError";
    this.text = text;
  }
}

/**
 * Bytes do not form a valid frame of the configured framing (for example a
 * length below the header size or an overlong varint). Maps to close code 1002.
 *
 * @example Usage
 * ```ts
 * import { MalformedFrameError } from "./errors.ts";
 * import assert from "node:assert/strict";
 * assert.ok(new MalformedFrameError("Cannot decode frame") instanceof SyntaxError);
 * ```
 */
export class MalformedFrameError extends SyntaxError {
  /**
   * Constructs a new instance.
   * @param message What is malformed, with the offending value.
   * @param options The cause, if any.
   */
  constructor(message: string, options?: WsgateErrorOptions) {
    super(message, options);
    this.name = "MalformedFrameError";
  }
}

/**
 * A message does not fit the configured framing or type (for example a
 * `whole` message that is not exactly one frame, a line message containing
 * the delimiter, or invalid UTF-8 in a text message). Maps to close code 1007.
 *
 * @example Usage
 * ```ts
 * import { InvalidMessageError } from "./errors.ts";
 * import assert from "node:assert/strict";
 * assert.equal(new InvalidMessageError("bad").name, "InvalidMessageError");
 * ```
 */
export class InvalidMessageError extends TypeError {
  /**
   * Constructs a new instance.
   * @param message What is invalid about the message.
   * @param options The cause, if any.
   */
  constructor(message: string, options?: WsgateErrorOptions) {
    super(message, options);
    this.name = "InvalidMessageError";
  }
}

/**
 * The byte stream ended in the middle of a frame. Maps to close code 1011.
 *
 * @example Usage
 * ```ts
 * import { TruncatedFrameError } from "./errors.ts";
 * import assert from "node:assert/strict";
 * assert.equal(new TruncatedFrameError(3).pendingBytes, 3);
 * ```
 */
export class TruncatedFrameError extends Error {
  /** Bytes of the incomplete frame that were held when the stream ended. */
  readonly pendingBytes: number;
  /**
   * Constructs a new instance.
   * @param pendingBytes Bytes held for the incomplete frame.
   */
  constructor(pendingBytes: number) {
    super(
      `Cannot finish stream as it ends inside a frame: ${pendingBytes} bytes of an incomplete frame are pending`,
    );
    this.name = "TruncatedFrameError";
    this.pendingBytes = pendingBytes;
  }
}

/**
 * The backend could not be reached (refused, unresolvable or timed out).
 * Maps to close code 1011 with the reason "backend unreachable".
 *
 * @example Usage
 * ```ts
 * import { BackendConnectError } from "./errors.ts";
 * import assert from "node:assert/strict";
 * assert.equal(new BackendConnectError("127.0.0.1:1").target, "127.0.0.1:1");
 * ```
 */
export class BackendConnectError extends Error {
  /** The target that could not be reached, as `host:port` or `unix:/path`. */
  readonly target: string;
  /**
   * Constructs a new instance.
   * @param target The target that could not be reached.
   * @param options The underlying error.
   */
  constructor(target: string, options?: WsgateErrorOptions) {
    const detail = options?.cause instanceof Error
      ? `: ${options.cause.message}`
      : "";
    super(`Cannot connect to backend "${target}"${detail}`, options);
    this.name = "BackendConnectError";
    this.target = target;
  }
}

/**
 * A WebSocket peer broke RFC 6455 (unmasked frame, reserved bits, bad opcode,
 * fragmented control frame, invalid close code...). Maps to close code 1002.
 *
 * @example Usage
 * ```ts
 * import { WebSocketProtocolError } from "./errors.ts";
 * import assert from "node:assert/strict";
 * assert.ok(new WebSocketProtocolError("unmasked frame") instanceof SyntaxError);
 * ```
 */
export class WebSocketProtocolError extends SyntaxError {
  /**
   * Constructs a new instance.
   * @param message What rule was broken.
   */
  constructor(message: string) {
    super(message);
    this.name = "WebSocketProtocolError";
  }
}

/**
 * A configuration value or CLI flag is invalid. `problems` lists every
 * problem found, each prefixed with its path (for example
 * `routes[2].framing: unknown width "u7"`).
 *
 * @example Usage
 * ```ts
 * import { ConfigError } from "./errors.ts";
 * import assert from "node:assert/strict";
 * const error = new ConfigError(["--listen: bad"]);
 * assert.deepEqual(error.problems, ["--listen: bad"]);
 * ```
 */
export class ConfigError extends TypeError {
  /** Every problem found, one line each. */
  readonly problems: readonly string[];
  /**
   * Constructs a new instance.
   * @param problems Every problem found, one line each.
   */
  constructor(problems: readonly string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
    this.problems = problems;
  }
}
