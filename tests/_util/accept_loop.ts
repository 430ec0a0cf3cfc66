/**
 * The accept loop shared by the loopback test backends (plain TCP and TLS):
 * it runs a handler per connection, closes each connection when its handler
 * ends, and on `close()` stops the listener, closes every open connection
 * and awaits every handler, so no test leaks a socket or a promise.
 *
 * @module
 */

/** A running accept loop. */
export interface AcceptLoop {
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Resolves with the next accepted connection's index. */
  nextConnection(): Promise<number>;
  /** Stops accepting, closes every connection and awaits the handlers. */
  close(): Promise<void>;
}

/**
 * Accepts connections on `listener` and runs `handler` for each; a
 * handler's rejection is ignored (the connection is closed either way).
 *
 * @param listener A listener that the loop owns from now on.
 * @param handler Handles one connection; the loop closes `conn` after it.
 * @returns The running loop.
 */
export function startAcceptLoop<C extends Deno.Conn>(
  listener: Deno.Listener<C>,
  handler: (conn: C) => Promise<void>,
): AcceptLoop {
  const conns = new Set<C>();
  const handlers = new Set<Promise<void>>();
  let accepted = 0;
  let waiters: ((index: number) => void)[] = [];
  const acceptLoop = (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        const index = accepted++;
        for (const waiter of waiters) waiter(index);
        waiters = [];
        const running = handler(conn)
          .catch(() => {})
          .finally(() => {
            closeQuietly(conn);
            conns.delete(conn);
            handlers.delete(running);
          });
        handlers.add(running);
      }
    } catch {
      // The listener was closed.
    }
  })();
  return {
    get accepted() {
      return accepted;
    },
    nextConnection() {
      return new Promise((resolve) => waiters.push(resolve));
    },
    async close() {
      closeQuietly(listener);
      for (const conn of conns) closeQuietly(conn);
      await acceptLoop;
      await Promise.all([...handlers]);
    },
  };
}

function closeQuietly(closer: { close(): void }): void {
  try {
    closer.close();
  } catch {
    // Already closed.
  }
}
