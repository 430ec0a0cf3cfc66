/**
 * The process-wide memory budget (issue #17 item 14): many sessions each
 * reassembling a large message under a small budget. The largest holders
 * are closed with 1013 until the rest fits; the others go on and complete
 * their messages.
 */

import { assertEquals, within } from "../_util/assert.ts";
import { nextClose, startGateway } from "../_util/gateway_fixture.ts";
import { openRaw } from "../_util/raw_session.ts";
import { startU32beBackend } from "../_util/u32be_backend.ts";
import {
  encodeClientFrame,
  Opcode,
} from "../../src/websocket/ws_frame_codec.ts";

Deno.test("gateway closes the largest sessions with 1013 while all of them hold more than memoryBudgetBytes, and the rest go on", async () => {
  await using backend = startU32beBackend();
  await using gateway = await startGateway({
    routes: [{ path: "/", target: backend.target }],
    memoryBudgetBytes: 1024 * 1024,
    closeTimeoutMs: 300,
    // A fast sweep (a quarter of the shortest timer).
    handshakeTimeoutMs: 400,
  });
  const fragmentBytes = 400 * 1024;
  const sessions = 6;
  const clients = [];
  for (let i = 0; i < sessions; i++) clients.push(await openRaw(gateway));
  try {
    // Each sends the first 400 KiB fragment of a message: 2.4 MB being
    // reassembled in all, where 1 MiB is allowed.
    await Promise.all(clients.map((client, i) =>
      client.sendRaw(
        encodeClientFrame(
          Opcode.BINARY,
          new Uint8Array(fragmentBytes).fill(i),
          {
            fin: false,
          },
        ),
      )
    ));
    // Two such sessions fit (800 KiB): the other four are shed.
    const closes = [];
    for (let i = 0; i < sessions - 2; i++) {
      closes.push(await nextClose(gateway, 10_000));
    }
    assertEquals(
      closes.map((event) => [event.code, event.reason]),
      Array(sessions - 2).fill([1013, "gateway over memory budget"]),
    );
    // The survivors go on (a ping between fragments is answered); the
    // others find the close frame the gateway sent them.
    const outcomes = await Promise.all(clients.map(async (client) => {
      await client.sendRaw(encodeClientFrame(Opcode.PING, Uint8Array.of(1)))
        .catch(() => {});
      const frame = await client.next(10_000);
      return frame?.kind === "close" ? `close ${frame.code}` : frame?.kind;
    }));
    assertEquals(outcomes.filter((kind) => kind === "close 1013").length, 4);
    assertEquals(outcomes.filter((kind) => kind === "pong").length, 2);
  } finally {
    for (const client of clients) await within(client.close(), 5000, "close");
  }
});
