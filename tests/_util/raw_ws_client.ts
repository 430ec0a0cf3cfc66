/**
 * A raw WebSocket client over a plain TCP socket for conformance tests: it
 * sends hand-crafted bytes and reads back parsed frames (including control
 * frames) and the close code, with deadlines.
 *
 * @module
 */

import {
  type HandshakeResponse,
  WsClientConnection,
} from "./ws_client_connection.ts";

export type {
  HandshakeResponse,
  ReceivedClose,
  ReceivedFrame,
} from "./ws_client_connection.ts";
export { messagesOf } from "./ws_client_connection.ts";

/** A raw client connected to the gateway over plain TCP. */
export class RawWsClient extends WsClientConnection<Deno.TcpConn> {
  /**
   * Connects to 127.0.0.1:`port` and performs the opening handshake.
   *
   * @param port The gateway's port.
   * @param path The request path.
   * @param extraHeaders Request headers added to (or replacing) the standard
   * ones.
   * @returns The client (reading frames when the status is 101) and the
   * response.
   */
  static async connect(
    port: number,
    path = "/",
    extraHeaders: Record<string, string> = {},
  ): Promise<{ client: RawWsClient; response: HandshakeResponse }> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const client = new RawWsClient(conn);
    const response = await client.upgrade({
      host: `127.0.0.1:${port}`,
      path,
      headers: extraHeaders,
    });
    return { client, response };
  }
}
