/**
 * One RESP connection: commands are written as they come (pipelined) and
 * replies matched to them in order. One timer watches the oldest command's
 * deadline; when it passes, the connection is failed as a whole, because a
 * late reply would otherwise be matched to the next command.
 *
 * @module
 */

import {
  RespDecoder,
  type RespDecoderOptions,
  type RespValue,
} from "./resp.ts";
import { StoreUnavailableError } from "./store_errors.ts";

interface Pending {
  resolve: (value: RespValue) => void;
  reject: (error: Error) => void;
  deadlineMs: number;
}

/** A connected socket speaking RESP; private to store/. */
export class RespConnection {
  #conn: Deno.Conn;
  #decoder: RespDecoder;
  #commandTimeoutMs: number;
  #pending: Pending[] = [];
  #head = 0;
  #writes: Uint8Array[] = [];
  #isWriting = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #failure: Error | null = null;

  /**
   * Starts reading replies from `conn`.
   * @param conn The connected socket; closed on failure.
   * @param options The command deadline in ms and the reply limits.
   */
  constructor(
    conn: Deno.Conn,
    options: { commandTimeoutMs: number; decoder: RespDecoderOptions },
  ) {
    this.#conn = conn;
    this.#commandTimeoutMs = options.commandTimeoutMs;
    this.#decoder = new RespDecoder(options.decoder);
    this.#readLoop();
  }

  /** Sets the deadline of commands sent from now on; returns this. */
  withCommandTimeout(commandTimeoutMs: number): this {
    this.#commandTimeoutMs = commandTimeoutMs;
    return this;
  }

  /** Whether the connection can still carry commands. */
  get isOpen(): boolean {
    return this.#failure === null;
  }

  /** Sends one encoded command; resolves with its reply (errors as values). */
  send(bytes: Uint8Array): Promise<RespValue> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    const { promise, resolve, reject } = Promise.withResolvers<RespValue>();
    this.#pending.push({
      resolve,
      reject,
      deadlineMs: Date.now() + this.#commandTimeoutMs,
    });
    this.#armTimer();
    this.#writes.push(bytes);
    if (!this.#isWriting) this.#writeLoop();
    return promise;
  }

  /** Fails every pending command with `error` and closes the socket. */
  fail(error: Error): void {
    if (this.#failure !== null) return;
    this.#failure = error;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const pending = this.#pending.slice(this.#head);
    this.#pending = [];
    this.#head = 0;
    this.#writes = [];
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer.
    }
    for (const entry of pending) entry.reject(error);
  }

  #armTimer(): void {
    if (this.#timer !== undefined) return;
    const head = this.#pending[this.#head];
    if (head === undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const oldest = this.#pending[this.#head];
      if (oldest === undefined) return;
      if (oldest.deadlineMs <= Date.now()) {
        this.fail(
          new StoreUnavailableError(
            `Cannot get store reply as the store did not answer within ${this.#commandTimeoutMs} ms`,
          ),
        );
      } else {
        this.#armTimer();
      }
    }, Math.max(0, head.deadlineMs - Date.now()));
  }

  async #writeLoop(): Promise<void> {
    this.#isWriting = true;
    try {
      while (this.#writes.length > 0 && this.#failure === null) {
        const batch = this.#writes;
        this.#writes = [];
        let bytes: Uint8Array;
        if (batch.length === 1) {
          bytes = batch[0]!;
        } else {
          let total = 0;
          for (const part of batch) total += part.length;
          bytes = new Uint8Array(total);
          let offset = 0;
          for (const part of batch) {
            bytes.set(part, offset);
            offset += part.length;
          }
        }
        // write() may write fewer bytes than given: finish the rest.
        let written = 0;
        while (written < bytes.length) {
          written += await this.#conn.write(bytes.subarray(written));
        }
      }
    } catch (error) {
      this.fail(
        new StoreUnavailableError("Cannot write to store: connection lost", {
          cause: error,
        }),
      );
    } finally {
      this.#isWriting = false;
    }
  }

  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(65536);
    try {
      while (this.#failure === null) {
        const n = await this.#conn.read(buffer);
        if (n === null) {
          this.fail(
            new StoreUnavailableError(
              "Cannot read from store as it closed the connection",
            ),
          );
          return;
        }
        this.#decoder.push(buffer.subarray(0, n), (reply) => {
          const entry = this.#pending[this.#head];
          if (entry === undefined) {
            throw new SyntaxError(
              "Cannot match store reply as no command is waiting for one",
            );
          }
          this.#pending[this.#head++] = undefined as unknown as Pending;
          entry.resolve(reply);
        });
        if (this.#head === this.#pending.length) {
          this.#pending = [];
          this.#head = 0;
          if (this.#timer !== undefined) clearTimeout(this.#timer);
          this.#timer = undefined;
        } else if (this.#head > 1024) {
          this.#pending = this.#pending.slice(this.#head);
          this.#head = 0;
        }
      }
    } catch (error) {
      this.fail(
        this.#failure ??
          new StoreUnavailableError("Cannot read from store: connection lost", {
            cause: error,
          }),
      );
    }
  }
}
