/**
 * Checked messages for fault and soak tests: each names its stream and
 * sequence number and carries an FNV-1a checksum of its body, so a test can
 * prove that no message was lost, duplicated, reordered or corrupted.
 *
 * @module
 */

import { assert, assertEquals } from "./assert.ts";
import { patternBytes } from "./web_socket_client.ts";

/** Stream id, sequence number and FNV-1a checksum of the body. */
export const MESSAGE_HEADER_BYTES = 12;

/**
 * The 32-bit FNV-1a hash of `bytes`.
 *
 * @param bytes The bytes to hash.
 * @returns The hash as an unsigned 32-bit integer.
 *
 * @example Hash of the empty input
 * ```ts
 * import { assertEquals } from "./assert.ts";
 * import { fnv1a } from "./checked_messages.ts";
 *
 * assertEquals(fnv1a(new Uint8Array(0)), 0x811c9dc5);
 * ```
 */
export function fnv1a(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * A message that names its stream and place and proves its own integrity.
 *
 * @param stream The stream id.
 * @param seq The sequence number within the stream.
 * @param size The message size in bytes (at least the 12-byte header).
 * @returns The message.
 *
 * @example Round trip through inspectMessage
 * ```ts
 * import { assertEquals } from "./assert.ts";
 * import { checkedMessage, inspectMessage } from "./checked_messages.ts";
 *
 * assertEquals(inspectMessage(checkedMessage(3, 7, 100)), {
 *   stream: 3,
 *   seq: 7,
 * });
 * ```
 */
export function checkedMessage(
  stream: number,
  seq: number,
  size: number,
): Uint8Array {
  const out = new Uint8Array(Math.max(MESSAGE_HEADER_BYTES, size));
  out.set(
    patternBytes(out.length - MESSAGE_HEADER_BYTES, stream * 7919 + seq),
    MESSAGE_HEADER_BYTES,
  );
  const view = new DataView(out.buffer);
  view.setUint32(0, stream);
  view.setUint32(4, seq);
  view.setUint32(8, fnv1a(out.subarray(MESSAGE_HEADER_BYTES)));
  return out;
}

/**
 * The stream and sequence number of a message, or undefined when corrupt.
 *
 * @param message A message made by {@linkcode checkedMessage}.
 * @returns Its stream and sequence number, or undefined when the message is
 * short or its checksum does not match.
 *
 * @example A flipped byte is caught
 * ```ts
 * import { assertEquals } from "./assert.ts";
 * import { checkedMessage, inspectMessage } from "./checked_messages.ts";
 *
 * const message = checkedMessage(1, 0, 50);
 * message[40]! ^= 1;
 * assertEquals(inspectMessage(message), undefined);
 * ```
 */
export function inspectMessage(
  message: Uint8Array,
): { stream: number; seq: number } | undefined {
  if (message.length < MESSAGE_HEADER_BYTES) return undefined;
  const view = new DataView(message.buffer, message.byteOffset, 12);
  if (view.getUint32(8) !== fnv1a(message.subarray(MESSAGE_HEADER_BYTES))) {
    return undefined;
  }
  return { stream: view.getUint32(0), seq: view.getUint32(4) };
}

/**
 * Asserts `messages` are messages 0..n-1 of `stream`, intact and in order.
 *
 * @param messages The messages received.
 * @param stream The stream they must belong to.
 * @param what Names the direction in assertion messages.
 *
 * @example Three messages in order
 * ```ts
 * import { assertSequence, checkedMessage } from "./checked_messages.ts";
 *
 * const messages = [0, 1, 2].map((seq) => checkedMessage(5, seq, 30));
 * assertSequence(messages, 5, "to backend");
 * ```
 */
export function assertSequence(
  messages: readonly Uint8Array[],
  stream: number,
  what: string,
): void {
  for (const [index, message] of messages.entries()) {
    assert(message.length >= MESSAGE_HEADER_BYTES, `${what}: short message`);
    const view = new DataView(message.buffer, message.byteOffset, 12);
    assertEquals(
      [view.getUint32(0), view.getUint32(4)],
      [stream, index],
      `${what}: message ${index} lost, duplicated or misplaced`,
    );
    assertEquals(
      view.getUint32(8),
      fnv1a(message.subarray(MESSAGE_HEADER_BYTES)),
      `${what}: message ${index} corrupted`,
    );
  }
}
