/**
 * Runs Debian's `redis-server` for the store tests: its own process on a free
 * loopback port (no persistence), optionally with `--requirepass` and a unix
 * socket. Ready when it logs "Ready to accept connections" (an event, not a
 * sleep); stopped, and its temp dir removed, on close.
 *
 * @module
 */

import { within } from "./assert.ts";

/** Where Debian's `redis-server` package installs the binary. */
export const REDIS_SERVER_PATH = "/usr/bin/redis-server";

/** Options of {@linkcode startRedisServer}. */
export interface RedisServerOptions {
  /** A password for `--requirepass`. @default {undefined} none */
  password?: string;
  /** Also listen on a unix socket in a temp dir. @default {false} */
  isUnixSocket?: boolean;
  /** The port to use, e.g. the one of a stopped server. @default {0} a free one */
  port?: number;
  /**
   * Serve TLS instead of plain TCP on `port` with this certificate and key
   * (PEM files); clients are not asked for certificates.
   * @default {undefined}
   */
  tls?: { certFile: string; keyFile: string; caFile: string };
}

/** A running redis-server. */
export interface RedisServer extends AsyncDisposable {
  /** The TCP port on 127.0.0.1. */
  port: number;
  /** The unix socket path, or "" without `isUnixSocket`. */
  socketPath: string;
  /** `redis://[:password@]127.0.0.1:port`. */
  url: string;
  /** Stops the server (SIGTERM, then waits for exit). Idempotent. */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL and waits for exit. */
  kill(): Promise<void>;
}

/** Picks a free loopback port by binding port 0 and releasing it. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * Starts a redis-server and waits until it accepts connections.
 * @param options Password, unix socket, port.
 * @returns The running server.
 */
export async function startRedisServer(
  options: RedisServerOptions = {},
): Promise<RedisServer> {
  const port = options.port ?? freePort();
  const dir = await Deno.makeTempDir({ prefix: "wsgate_redis_" });
  const socketPath = options.isUnixSocket ? `${dir}/redis.sock` : "";
  const args = [
    ...(options.tls === undefined ? ["--port", String(port)] : [
      "--port",
      "0",
      "--tls-port",
      String(port),
      "--tls-cert-file",
      options.tls.certFile,
      "--tls-key-file",
      options.tls.keyFile,
      "--tls-ca-cert-file",
      options.tls.caFile,
      "--tls-auth-clients",
      "no",
    ]),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
    "--logfile",
    "",
  ];
  if (options.password !== undefined) {
    args.push("--requirepass", options.password);
  }
  if (socketPath !== "") args.push("--unixsocket", socketPath);
  const child = new Deno.Command(REDIS_SERVER_PATH, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const ready = Promise.withResolvers<void>();
  const drained = (async () => {
    let log = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      if (log.length < 65536) {
        log += decoder.decode(chunk);
        if (log.includes("Ready to accept connections")) ready.resolve();
      }
    }
    ready.reject(new Error(`redis-server exited before ready:\n${log}`));
  })();
  let isStopped = false;
  async function end(signal: Deno.Signal): Promise<void> {
    if (!isStopped) {
      isStopped = true;
      try {
        child.kill(signal);
      } catch {
        // Already exited.
      }
    }
    await child.status;
    await drained;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  try {
    await within(ready.promise, 10_000, "redis-server to be ready");
  } catch (error) {
    await end("SIGKILL");
    throw error;
  }
  const auth = options.password === undefined ? "" : `:${options.password}@`;
  return {
    port,
    socketPath,
    url: `${
      options.tls === undefined ? "redis" : "rediss"
    }://${auth}127.0.0.1:${port}`,
    stop: () => end("SIGTERM"),
    kill: () => end("SIGKILL"),
    [Symbol.asyncDispose]: () => end("SIGTERM"),
  };
}
