/**
 * Writing a whole buffer to a connection: a raw `write` may write fewer
 * bytes than asked (RT `lib.deno_net.d.ts` `Conn`).
 *
 * @module
 */

/**
 * Writes all of `bytes`, calling `write` until none are left.
 *
 * @example Over a loopback pair
 * ```ts
 * import { writeAll } from "./write_all.ts";
 * import assert from "node:assert/strict";
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * using server = await listener.accept();
 * await writeAll(client, new Uint8Array([1, 2, 3]));
 * const buffer = new Uint8Array(3);
 * let filled = 0;
 * while (filled < 3) filled += (await server.read(buffer.subarray(filled))) ?? 3;
 * assert.deepEqual([...buffer], [1, 2, 3]);
 * ```
 *
 * @param conn The connection (only `write` is used).
 * @param bytes The bytes to write.
 * @returns Resolves once everything is written; rejects on a write error.
 */
export async function writeAll(
  conn: Pick<Deno.Conn, "write">,
  bytes: Uint8Array,
): Promise<void> {
  let rest = bytes;
  while (rest.length > 0) {
    const written = await conn.write(rest);
    rest = rest.subarray(written);
  }
}
