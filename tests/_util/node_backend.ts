/**
 * A loopback backend on `node:net`, for faults Deno's own sockets cannot
 * make: `socket.resetAndDestroy()` sets SO_LINGER 0 and sends a real RST,
 * where `Deno.Conn.close()` sends a FIN. Stopped, with every socket, by
 * `await using`.
 *
 * It shares the test's event loop: while that loop is busy (a soak under
 * CPU pressure) Deno 2.9.6 accepted its connections seconds late, in
 * bursts. A test under load runs its node:net backend in a child process
 * instead (see `soak_reset_backend.ts`).
 *
 * @module
 */

import net from "node:net";

/** A running node:net backend. */
export interface NodeBackend extends AsyncDisposable {
  /** `127.0.0.1:PORT`, ready for a route's `target`. */
  readonly target: string;
}

/**
 * Starts a node:net server on 127.0.0.1 port 0 that hands each connection to
 * `onConnection`. Socket errors are ignored (a reset is the point).
 *
 * @param onConnection Called once per accepted socket.
 * @returns The backend; disposing it closes the server and every socket.
 */
export async function startNodeBackend(
  onConnection: (socket: net.Socket) => void,
): Promise<NodeBackend> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    onConnection(socket);
  });
  const listening = Promise.withResolvers<void>();
  server.listen(0, "127.0.0.1", () => listening.resolve());
  await listening.promise;
  const { port } = server.address() as net.AddressInfo;
  return {
    target: `127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      const closed = Promise.withResolvers<void>();
      server.close(() => closed.resolve());
      for (const socket of sockets) socket.destroy();
      await closed.promise;
    },
  };
}
