/**
 * The two interfaces every framing codec implements: an incremental
 * {@linkcode FrameDecoder} (bytes in, messages out, any chunking) and a
 * {@linkcode FrameEncoder} (message in, frame bytes out). Codecs are pure:
 * no `Deno.*`, no timers, no I/O.
 *
 * Vocabulary: a *frame* is what travels on the TCP byte stream; a *message* is
 * what travels as one WebSocket message. For `u32be` a frame is a 4-byte
 * length followed by the message.
 *
 * @module
 */

/** Receives one decoded message. */
export type MessageSink = (message: Uint8Array) => void;

/** Options of a decoder (see `createFrameDecoder`). */
export interface FrameDecoderOptions {
  /**
   * A message that spans chunks and is at most this many bytes is gathered
   * in one reused scratch buffer instead of a new one: it is then valid only
   * during `onMessage` (the caller copies what it keeps). Supported by the
   * length-prefixed codecs; 0 turns reuse off.
   * @default {0}
   */
  scratchBytes?: number;
}

/**
 * Splits a byte stream into messages, whatever the chunking.
 *
 * Invariants:
 * - `push` calls `onMessage` once per complete frame, in stream order,
 *   synchronously, before it returns.
 * - A message is a view into `chunk` when the frame lies inside `chunk`
 *   (no copy), or a freshly allocated array when it spans chunks (codecs
 *   that must reassemble a message, such as `offset=N` without `whole`,
 *   return views of a buffer allocated per push). The caller must not
 *   overwrite `chunk` while it still uses a view of it.
 * - A length is checked against the maximum before anything of that size is
 *   allocated or buffered: `FrameTooLargeError` (close 1009). Impossible
 *   headers raise `MalformedFrameError` (close 1002). After a throw the
 *   decoder must not be used again.
 */
export interface FrameDecoder {
  /**
   * Feeds the next bytes of the stream.
   * @param chunk The next bytes; may be empty.
   * @param onMessage Called for each complete message.
   */
  push(chunk: Uint8Array, onMessage: MessageSink): void;
  /** Bytes held back for an incomplete frame. */
  readonly pendingBytes: number;
  /**
   * Signals the end of the stream. Throws `TruncatedFrameError` when bytes of
   * an incomplete frame are held. (`raw` throws only with `text`, when the
   * stream ends inside a UTF-8 character.)
   */
  finish(): void;
}

/**
 * Turns messages into frames; the exact inverse of the matching
 * {@linkcode FrameDecoder}.
 *
 * A frame is laid out as `head + message.subarray(bodyOffset) + trailer`,
 * where `head` is what {@linkcode FrameEncoder.encodeHeadInto} writes (it
 * includes `message.subarray(0, bodyOffset)` when `bodyOffset > 0`). This lets
 * a caller write a large body from the message itself without copying it.
 */
export interface FrameEncoder {
  /**
   * Bytes at the start of every message that are copied into the head (the
   * bytes before the length field in `offset=N` specs; otherwise 0).
   */
  readonly bodyOffset: number;
  /** Bytes appended after the body (`\n`, `\r\n`, or empty). */
  readonly trailer: Uint8Array;
  /**
   * Validates `message` and returns the length in bytes of its frame.
   * Throws `FrameTooLargeError` (1009) or `InvalidMessageError` (1007).
   * @param message The message to frame.
   * @returns The frame length in bytes.
   */
  frameLength(message: Uint8Array): number;
  /**
   * Writes the head of the frame for `message` into `target` at `offset`.
   * The caller must have validated `message` with `frameLength` first and
   * must provide enough room (at most `bodyOffset + 16` bytes).
   * @param message The message to frame.
   * @param target Where to write.
   * @param offset Where in `target` to start.
   * @returns The number of bytes written.
   */
  encodeHeadInto(
    message: Uint8Array,
    target: Uint8Array,
    offset: number,
  ): number;
  /**
   * Writes the whole frame for `message` into `target` at `offset`.
   * The caller must have validated `message` with `frameLength` first and
   * provide `frameLength(message)` bytes of room.
   * @param message The message to frame.
   * @param target Where to write.
   * @param offset Where in `target` to start.
   * @returns The number of bytes written (the frame length).
   */
  encodeInto(message: Uint8Array, target: Uint8Array, offset: number): number;
  /**
   * Validates `message` and returns its frame as a new array.
   * @param message The message to frame.
   * @returns The frame bytes.
   */
  encode(message: Uint8Array): Uint8Array;
}
