/**
 * Listening on a Unix socket: binding the path (replacing a stale socket
 * file left by a crash, refusing one a live process listens on), setting
 * its file mode; Deno's listener removes the file again when it closes.
 *
 * @module
 */

/** What {@linkcode listenUnix} needs. */
export interface UnixListenOptions {
  /** The file mode of the socket (who may connect). @default {0o660} */
  mode?: number;
}

/**
 * Refused to bind: the path is in use by a live listener, or is not a
 * socket file that may be replaced.
 */
export class UnixSocketInUseError extends Error {
  /** The socket path. */
  readonly path: string;

  /**
   * @param path The socket path.
   * @param message What is in the way.
   */
  constructor(path: string, message: string) {
    super(message);
    this.name = "UnixSocketInUseError";
    this.path = path;
  }
}

/**
 * Listens on the Unix socket `path`. A file already there is replaced only
 * when it is a socket nobody accepts on (connecting is refused); a live
 * socket or any other kind of file is a {@linkcode UnixSocketInUseError}.
 * The returned listener removes the socket file when closed.
 *
 * @example
 * ```ts
 * import { listenUnix } from "./unix_listener.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/gw.sock`;
 * const listener = await listenUnix(path, { mode: 0o660 });
 * assert.equal((await Deno.stat(path)).mode! & 0o777, 0o660);
 * await assert.rejects(() => listenUnix(path), /listening/);
 * listener.close();
 * await assert.rejects(() => Deno.stat(path), Deno.errors.NotFound);
 * await Deno.remove(dir);
 * ```
 *
 * @param path The socket path.
 * @param options The file mode.
 * @returns The listener.
 */
export async function listenUnix(
  path: string,
  options: UnixListenOptions = {},
): Promise<Deno.Listener> {
  const { mode = 0o660 } = options;
  await removeStaleSocket(path);
  // Deno's Unix listener unlinks its socket file when closed.
  const listener = Deno.listen({ transport: "unix", path });
  try {
    await Deno.chmod(path, mode);
  } catch (error) {
    listener.close();
    throw error;
  }
  return listener;
}

/** Removes `path` when it is a socket file that nothing listens on. */
async function removeStaleSocket(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (info.isSocket !== true) {
    throw new UnixSocketInUseError(
      path,
      `Cannot listen on "${path}" as it exists and is not a socket: remove it or choose another path`,
    );
  }
  let probe: Deno.Conn | undefined;
  try {
    probe = await Deno.connect({ transport: "unix", path });
  } catch (error) {
    // Refused: the file outlived its listener (a crash); replace it.
    if (error instanceof Deno.errors.ConnectionRefused) {
      await Deno.remove(path);
      return;
    }
    throw error;
  }
  probe.close();
  throw new UnixSocketInUseError(
    path,
    `Cannot listen on "${path}" as another process is listening on it: stop it or choose another path`,
  );
}
