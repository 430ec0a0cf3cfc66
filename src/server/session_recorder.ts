/**
 * Writes one session's recording (the format of
 * `observability/recording.ts`) to a file, in order, without blocking the
 * relay: lines are queued and appended by one background writer.
 *
 * @module
 */

import {
  encodeRecord,
  encodeRecordingHeader,
  type RecordingHeader,
} from "../observability/recording.ts";

/** Most bytes queued for the file before entries are dropped. */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

/** Records one session into `DIR/<sessionId>.wsrec`. */
export class SessionRecorder {
  #lines: string[] = [];
  #queuedBytes = 0;
  #dropped = 0;
  #file: Promise<Deno.FsFile | undefined>;
  #writing: Promise<void> = Promise.resolve();
  #onError: (error: unknown) => void;
  #isClosed = false;

  /**
   * Opens the file and writes the header.
   * @param dir The directory.
   * @param header The session details.
   * @param onError Called on a write failure (recording then stops).
   */
  constructor(
    dir: string,
    header: RecordingHeader,
    onError: (error: unknown) => void,
  ) {
    this.#onError = onError;
    const path = `${dir}/${header.sessionId}.wsrec`;
    this.#file = Deno.open(path, { write: true, create: true, truncate: true })
      .catch((error) => {
        onError(error);
        return undefined;
      });
    this.#enqueue(encodeRecordingHeader(header));
  }

  /**
   * Queues one message.
   * @param direction Which way it went.
   * @param bytes The message.
   */
  record(direction: "to_backend" | "to_browser", bytes: Uint8Array): void {
    if (this.#queuedBytes > MAX_QUEUED_BYTES) {
      this.#dropped++;
      return;
    }
    this.#enqueue(encodeRecord({ timeMs: Date.now(), direction, bytes }));
  }

  /** Flushes and closes the file. */
  close(): Promise<void> {
    this.#isClosed = true;
    this.#writing = this.#writing.then(async () => {
      const file = await this.#file;
      file?.close();
    });
    return this.#writing;
  }

  #enqueue(line: string): void {
    this.#lines.push(line);
    this.#queuedBytes += line.length;
    if (this.#lines.length === 1) {
      this.#writing = this.#writing.then(() => this.#drain());
    }
  }

  async #drain(): Promise<void> {
    const file = await this.#file;
    const lines = this.#lines;
    this.#lines = [];
    this.#queuedBytes = 0;
    if (file === undefined) return;
    try {
      const bytes = new TextEncoder().encode(lines.join(""));
      let rest = bytes;
      while (rest.length > 0) rest = rest.subarray(await file.write(rest));
    } catch (error) {
      if (!this.#isClosed) this.#onError(error);
    }
  }

  /** Entries dropped because the file could not keep up. */
  get dropped(): number {
    return this.#dropped;
  }
}
