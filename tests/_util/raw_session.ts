/**
 * A {@linkcode RawWsClient} session on a test gateway, opened with the
 * upgrade asserted and ended the way a browser answers the gateway's close.
 *
 * @module
 */

import { assert, assertEquals } from "./assert.ts";
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
