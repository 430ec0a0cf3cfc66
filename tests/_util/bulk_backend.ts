/**
 * A loopback TCP backend for flow-control tests. Each connection can flood
 * the gateway (write a number of bytes as fast as the socket takes them)
 * and sink what it receives, and its reading can start stalled until the
 * test resumes it. Both directions keep a running SHA-256 and a progress
 * counter that stall detection can watch.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { within } from "./assert.ts";
import { startBackend, type TestBackend } from "./backends.ts";
import type { PayloadPool, StreamDigest } from "./bulk_ws_client.ts";

/** What one connection does. */
export interface BulkConnectionPlan {
  /** Payload bytes to write to the gateway (0 = none). */
  sendBytes: number;
  /** Whether reading waits until {@linkcode BulkBackendConnection.resumeReading}. */
  isReadStalled: boolean;
}

/** One accepted connection. */
export class BulkBackendConnection {
  /** The accept index (0 for the first). */
  readonly index: number;
  /** What it does. */
  readonly plan: BulkConnectionPlan;
  #bytesSent = 0;
  #bytesReceived = 0;
  #hash: Hash = createHash("sha256");
  #resume = Promise.withResolvers<void>();
  #eof = Promise.withResolvers<void>();
  #sent = Promise.withResolvers<StreamDigest>();
  #waiters: (() => void)[] = [];

  /** Made by the backend for each accepted connection. */
  constructor(index: number, plan: BulkConnectionPlan) {
    this.index = index;
    this.plan = plan;
    this.#sent.promise.catch(() => {});
    if (!plan.isReadStalled) this.#resume.resolve();
  }

  /** Bytes written to the gateway so far. */
  get bytesSent(): number {
    return this.#bytesSent;
  }

  /** Bytes read from the gateway so far. */
  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  /** Resolves with the digest of what was sent, once all of it was written. */
  get sent(): Promise<StreamDigest> {
    return this.#sent.promise;
  }

  /** Resolves once the gateway closed the connection (or it failed). */
  get ended(): Promise<void> {
    return this.#eof.promise;
  }

  /** Lets a stalled reader start reading. */
  resumeReading(): void {
    this.#resume.resolve();
  }

  /**
   * Resolves with the digest of the first `bytes` received, once they have
   * arrived; rejects at EOF before that or after `timeoutMs`.
   */
  async received(bytes: number, timeoutMs: number): Promise<StreamDigest> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 1_000_000 && this.#bytesReceived < bytes; i++) {
      const remaining = deadline - Date.now();
      const isEnded = await within(
        Promise.race([
          new Promise<boolean>((resolve) =>
            this.#waiters.push(() => resolve(false))
          ),
          this.#eof.promise.then(() => true),
        ]),
        Math.max(1, remaining),
        `${bytes} bytes at the backend (got ${this.#bytesReceived})`,
      );
      if (isEnded && this.#bytesReceived < bytes) {
        throw new Error(
          `Backend connection ended after ${this.#bytesReceived} of ${bytes} bytes`,
        );
      }
    }
    if (this.#bytesReceived !== bytes) {
      throw new Error(
        `Backend received ${this.#bytesReceived} bytes, expected ${bytes}`,
      );
    }
    return { bytes, sha256: this.#hash.copy().digest("hex") };
  }

  /** Runs the connection until EOF or until `stop` fires. */
  async run(
    conn: Deno.TcpConn,
    pool: PayloadPool,
    stop: Promise<void>,
  ): Promise<void> {
    const writing = this.#write(conn, pool).then(
      (digest) => this.#sent.resolve(digest),
      (error: unknown) => this.#sent.reject(error),
    );
    try {
      await Promise.race([this.#resume.promise, stop]);
      const buffer = new Uint8Array(256 * 1024);
      for (let reads = 0; reads < Number.MAX_SAFE_INTEGER; reads++) {
        const count = await conn.read(buffer);
        if (count === null) break;
        this.#hash.update(buffer.subarray(0, count));
        this.#bytesReceived += count;
        this.#wake();
      }
    } finally {
      this.#eof.resolve();
      this.#wake();
      await Promise.race([writing, stop]);
    }
  }

  async #write(conn: Deno.TcpConn, pool: PayloadPool): Promise<StreamDigest> {
    const hash = createHash("sha256");
    const total = this.plan.sendBytes;
    for (let index = 0; this.#bytesSent < total; index++) {
      let chunk = pool.payload(index);
      if (total - this.#bytesSent < chunk.length) {
        chunk = chunk.subarray(0, total - this.#bytesSent);
      }
      hash.update(chunk);
      while (chunk.length > 0) {
        const written = await conn.write(chunk);
        this.#bytesSent += written;
        chunk = chunk.subarray(written);
      }
    }
    return { bytes: total, sha256: hash.digest("hex") };
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }
}

/** A running bulk backend. */
export interface BulkBackend extends TestBackend {
  /** Every accepted connection, in accept order. */
  readonly connections: BulkBackendConnection[];
  /** Resolves with connection `index` once it has been accepted. */
  connection(index: number, timeoutMs?: number): Promise<BulkBackendConnection>;
}

/**
 * Starts a bulk backend on 127.0.0.1 port 0; `planFor(index)` decides what
 * each accepted connection does, and `pool` holds what it sends. `close()`
 * also releases stalled readers, so it always finishes.
 */
export function startBulkBackend(
  pool: PayloadPool,
  planFor: (index: number) => BulkConnectionPlan,
): BulkBackend {
  const connections: BulkBackendConnection[] = [];
  const stop = Promise.withResolvers<void>();
  let waiters: (() => void)[] = [];
  const backend = startBackend(async (conn) => {
    const index = connections.length;
    const connection = new BulkBackendConnection(index, planFor(index));
    connections.push(connection);
    const woken = waiters;
    waiters = [];
    for (const waiter of woken) waiter();
    await connection.run(conn, pool, stop.promise);
  });
  const closeBackend = backend.close;
  const close = async () => {
    stop.resolve();
    await closeBackend();
  };
  const connection = async (index: number, timeoutMs = 10000) => {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 1_000_000 && connections[index] === undefined; i++) {
      await within(
        new Promise<void>((resolve) => waiters.push(resolve)),
        Math.max(1, deadline - Date.now()),
        `backend connection ${index}`,
      );
    }
    return connections[index]!;
  };
  return Object.assign(backend, {
    connections,
    connection,
    close,
    [Symbol.asyncDispose]: close,
  });
}
