import {
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
  within,
} from "../_util/assert.ts";
import { startEchoBackend, unusedPort, writeAll } from "../_util/backends.ts";
import {
  connectBackend,
  formatTarget,
} from "../../src/server/backend_connect.ts";
import { BackendConnectError } from "../../src/errors.ts";

/** Rejects unless `promise` rejects with a BackendConnectError; returns it. */
async function connectError(
  promise: Promise<Deno.Conn>,
): Promise<BackendConnectError> {
  let caught: unknown;
  await assertRejects(within(promise, 5000, "connect failure"), (error) => {
    caught = error;
    return error instanceof BackendConnectError;
  });
  return caught as BackendConnectError;
}

/**
 * A loopback listener nobody accepts from, with its accept queue filled, so
 * the kernel drops further SYNs and a connect hangs.
 */
async function startFullListener(): Promise<{ port: number } & Disposable> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const conns: Deno.Conn[] = [];
  const release = () => {
    for (const conn of conns) conn.close();
    listener.close();
  };
  for (let attempt = 0;; attempt++) {
    if (attempt > 70_000) {
      release();
      throw new Error("Cannot fill the accept queue of a loopback listener");
    }
    const signal = AbortSignal.timeout(100);
    try {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port, signal }));
    } catch {
      break;
    }
  }
  return { port, [Symbol.dispose]: release };
}

Deno.test("connectBackend returns a connection that reaches the backend", async () => {
  await using backend = startEchoBackend();
  const conn = await connectBackend(
    { transport: "tcp", hostname: "127.0.0.1", port: backend.port },
    1000,
  );
  try {
    await writeAll(conn, Uint8Array.of(1, 2, 3));
    const buffer = new Uint8Array(3);
    let filled = 0;
    for (let reads = 0; filled < 3 && reads < 10; reads++) {
      const count = await within(
        conn.read(buffer.subarray(filled)),
        5000,
        "echo",
      );
      if (count === null) break;
      filled += count;
    }
    assertEquals(buffer, Uint8Array.of(1, 2, 3));
  } finally {
    conn.close();
  }
});

Deno.test("connectBackend turns a refused connection into BackendConnectError naming the target", async () => {
  const port = unusedPort();
  const error = await connectError(
    connectBackend({ transport: "tcp", hostname: "127.0.0.1", port }, 1000),
  );
  assertStrictEquals(error.target, `127.0.0.1:${port}`);
  assert(
    error.cause instanceof Deno.errors.ConnectionRefused,
    String(error.cause),
  );
  assert(
    error.message.startsWith(`Cannot connect to backend "127.0.0.1:${port}": `),
    error.message,
  );
});

Deno.test("connectBackend names an IPv6 target in brackets", async () => {
  const error = await connectError(
    connectBackend(
      { transport: "tcp", hostname: "::1", port: unusedPort() },
      1000,
    ),
  );
  assert(/^\[::1\]:\d+$/.test(error.target), error.target);
});

Deno.test("connectBackend gives up after timeoutMs with a TimedOut cause", async () => {
  using full = await startFullListener();
  const started = performance.now();
  const error = await connectError(
    connectBackend(
      { transport: "tcp", hostname: "127.0.0.1", port: full.port },
      100,
    ),
  );
  const elapsed = performance.now() - started;
  assert(elapsed >= 95 && elapsed < 3000, `gave up after ${elapsed} ms`);
  assert(error.cause instanceof Deno.errors.TimedOut, String(error.cause));
  assertStrictEquals(
    error.message,
    `Cannot connect to backend "127.0.0.1:${full.port}": connect timed out after 100 ms`,
  );
});

Deno.test("connectBackend counts the TLS handshake against the timeout", async () => {
  // A plain TCP server that accepts and never answers the ClientHello.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  try {
    const error = await connectError(
      connectBackend(
        { transport: "tcp", hostname: "127.0.0.1", port: listener.addr.port },
        150,
        {},
      ),
    );
    assert(error.cause instanceof Deno.errors.TimedOut, String(error.cause));
  } finally {
    (await accepted).close();
    listener.close();
  }
});

Deno.test("connectBackend fails a TLS handshake with a server that does not speak TLS", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await listener.accept();
    try {
      await writeAll(
        conn,
        new TextEncoder().encode("HTTP/1.0 400 Nope\r\n\r\n"),
      );
    } finally {
      conn.close();
    }
  })();
  try {
    const error = await connectError(
      connectBackend(
        { transport: "tcp", hostname: "127.0.0.1", port: listener.addr.port },
        2000,
        { serverName: "backend.test" },
      ),
    );
    assertStrictEquals(error.target, `127.0.0.1:${listener.addr.port}`);
    assert(!(error.cause instanceof Deno.errors.TimedOut), String(error.cause));
  } finally {
    await serving;
    listener.close();
  }
});

Deno.test("connectBackend connects to a Unix socket path", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/backend.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  try {
    const [conn, server] = await Promise.all([
      connectBackend({ transport: "unix", path }, 1000),
      listener.accept(),
    ]);
    try {
      await writeAll(conn, Uint8Array.of(42));
      const buffer = new Uint8Array(1);
      assertStrictEquals(await within(server.read(buffer), 5000, "byte"), 1);
      assertStrictEquals(buffer[0], 42);
    } finally {
      conn.close();
      server.close();
    }
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("connectBackend turns a missing Unix socket into BackendConnectError naming unix:/path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/missing.sock`;
    const error = await connectError(
      connectBackend({ transport: "unix", path }, 1000),
    );
    assertStrictEquals(error.target, `unix:${path}`);
    assert(error.cause instanceof Deno.errors.NotFound, String(error.cause));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("formatTarget writes host:port, [v6]:port and unix:/path", () => {
  assertStrictEquals(
    formatTarget({ transport: "tcp", hostname: "db.internal", port: 5432 }),
    "db.internal:5432",
  );
  assertStrictEquals(
    formatTarget({ transport: "tcp", hostname: "10.0.0.1", port: 1 }),
    "10.0.0.1:1",
  );
  assertStrictEquals(
    formatTarget({ transport: "tcp", hostname: "2001:db8::1", port: 80 }),
    "[2001:db8::1]:80",
  );
  assertStrictEquals(
    formatTarget({ transport: "unix", path: "/run/a.sock" }),
    "unix:/run/a.sock",
  );
});
