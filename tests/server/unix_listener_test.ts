import {
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
} from "../_util/assert.ts";
import {
  listenUnix,
  UnixSocketInUseError,
} from "../../src/server/unix_listener.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "wsgate_unix_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Leaves a socket file nothing listens on, as a crashed gateway does: a
 * child process binds `path` and is killed with SIGKILL.
 */
async function leaveStaleSocket(path: string): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `const listener = Deno.listen({ transport: "unix", path: ${
        JSON.stringify(path)
      } }); console.log("up"); await listener.accept();`,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  try {
    await reader.read();
  } finally {
    child.kill("SIGKILL");
    reader.releaseLock();
    await child.stdout.cancel();
    await child.status;
  }
}

async function isPresent(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("listenUnix creates the socket with mode 0660 by default and removes it on close", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/gw.sock`;
    const listener = await listenUnix(path);
    assertEquals((await Deno.lstat(path)).mode! & 0o777, 0o660);
    const accepted = listener.accept();
    const client = await Deno.connect({ transport: "unix", path });
    const server = await accepted;
    await client.write(new Uint8Array([7]));
    const buffer = new Uint8Array(1);
    assertEquals(await server.read(buffer), 1);
    assertEquals(buffer[0], 7);
    client.close();
    server.close();
    listener.close();
    assertEquals(await isPresent(path), false);
  });
});

Deno.test("listenUnix applies the given mode", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/gw.sock`;
    using _listener = await listenUnix(path, { mode: 0o600 });
    assertEquals((await Deno.lstat(path)).mode! & 0o777, 0o600);
  });
});

Deno.test("listenUnix replaces a stale socket file that nothing listens on", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/gw.sock`;
    await leaveStaleSocket(path);
    assert((await Deno.lstat(path)).isSocket);
    using listener = await listenUnix(path);
    const accepted = listener.accept();
    const client = await Deno.connect({ transport: "unix", path });
    (await accepted).close();
    client.close();
  });
});

Deno.test("listenUnix refuses a socket a live process listens on and leaves it alone", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/gw.sock`;
    using live = Deno.listen({ transport: "unix", path });
    const probed = live.accept();
    let error: unknown;
    try {
      using _never = await listenUnix(path);
    } catch (thrown) {
      error = thrown;
    }
    assert(error instanceof UnixSocketInUseError, String(error));
    assert(error.message.includes("another process is listening on it"));
    assertStrictEquals(error.path, path);
    (await probed).close();
    // The live listener still owns the file and still accepts.
    const accepted = live.accept();
    const client = await Deno.connect({ transport: "unix", path });
    (await accepted).close();
    client.close();
  });
});

Deno.test("listenUnix refuses a path that is not a socket and does not delete it", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/notes.txt`;
    await Deno.writeTextFile(path, "keep me");
    await assertRejects(
      () => listenUnix(path),
      UnixSocketInUseError,
      "is not a socket",
    );
    assertEquals(await Deno.readTextFile(path), "keep me");
  });
});
