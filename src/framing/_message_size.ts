/**
 * The size check every encoder makes before writing anything. Private to
 * `framing/`.
 *
 * @module
 */

import { FrameTooLargeError } from "../errors.ts";

/**
 * Throws `FrameTooLargeError` when `length` is above `max`.
 * @param length The message length.
 * @param max The largest length accepted.
 * @param noun What is encoded, for the message ("message", "line").
 */
export function checkMessageSize(
  length: number,
  max: number,
  noun: string,
): void {
  if (length > max) {
    throw new FrameTooLargeError(
      length,
      max,
      `Cannot encode ${noun} as its length must be <= ${max}: current value is ${length}`,
    );
  }
}
