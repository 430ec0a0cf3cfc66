/**
 * A {@linkcode RawWsClient} session on a test gateway, opened with the
 * upgrade asserted and ended the way a browser answers the gateway's close,
 * and the status of an upgrade attempt.
 *
 * @module
 */

import { assert, assertEquals, assertStrictEquals } from "./assert.ts";
import type { GatewayFixture } from "./gateway_fixture.ts";
import { RawWsClient, type ReceivedClose } from "./raw_ws_client.ts";

/**
 * Opens a raw client on `path` and asserts the upgrade.
 *
 * @param gateway The gateway to connect to.
 * @param path The request path.
 * @returns The upgraded client.
 */
export async function openRaw(
  gateway: GatewayFixture,
  path = "/",
): Promise<RawWsClient> {
  const { client, response } = await RawWsClient.connect(gateway.port, path);
  assertEquals(response.status, 101, response.head);
  return client;
}

/**
 * Reads up to the server's close frame, answers it like a browser, and waits
 * for the server to end the TCP connection; then, like a browser, closes it.
 *
 * @param client An upgraded client.
 * @returns The close code and reason, and the frames that came before.
 */
export async function closeOf(client: RawWsClient): Promise<ReceivedClose> {
  const close = await client.nextClose();
  assert(close !== undefined, "expected a close frame, got EOF");
  await client.sendClose(close.code).catch(() => {});
  await client.waitForEof();
  await client.close();
  return close;
}

/**
 * The status of an upgrade of `path` on `port` (the connection is closed).
 *
 * @param port The gateway's port.
 * @param path The request path.
 * @param headers Extra request headers.
 * @returns The response status.
 */
export async function upgradeStatus(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<number> {
  const { client, response } = await RawWsClient.connect(port, path, headers);
  await client.close();
  return response.status;
}

/**
 * The status of an upgrade of `path`; a 101 also carries one echo round
 * trip, asserted (raw framing: the bytes come back as they went).
 *
 * @param port The gateway's port.
 * @param path The request path.
 * @param headers Extra request headers.
 * @returns The response status.
 */
export async function echoedUpgradeStatus(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<number> {
  const { client, response } = await RawWsClient.connect(port, path, headers);
  try {
    if (response.status === 101) {
      await client.send(new TextEncoder().encode("ping"));
      const frame = await client.next();
      assert(frame?.kind === "message", JSON.stringify(frame));
      assertStrictEquals(new TextDecoder().decode(frame.payload), "ping");
    }
    return response.status;
  } finally {
    await client.close();
  }
}
