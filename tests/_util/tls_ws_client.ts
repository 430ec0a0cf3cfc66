/**
 * A raw WebSocket client over TLS (`wss://`) for tests: Deno's built-in
 * `WebSocket` cannot be told which CA to trust, so this one opens
 * `Deno.connectTls({ caCerts })`, completes the TLS handshake (so a
 * certificate problem rejects `connect`), sends the same opening handshake
 * bytes as {@linkcode RawWsClient}, and reads back parsed frames with
 * deadlines.
 *
 * @module
 */

import { within } from "./assert.ts";
import {
  type HandshakeResponse,
  WsClientConnection,
} from "./ws_client_connection.ts";

/** Options of {@linkcode TlsWsClient.connect}. */
export interface TlsWsConnectOptions {
  /** PEM CA certificates to trust (instead of nothing custom). */
  caCerts: string[];
  /** The name to verify the certificate against. @default {"localhost"} */
  serverName?: string;
  /** The request path. @default {"/"} */
  path?: string;
  /** Extra request headers. @default {{}} */
  headers?: Record<string, string>;
}

/** A raw WebSocket client connected to the gateway over TLS. */
export class TlsWsClient extends WsClientConnection<Deno.TlsConn> {
  /**
   * Connects to 127.0.0.1:`port`, completes the TLS handshake (rejecting on
   * a certificate the CAs do not vouch for) and the opening handshake.
   *
   * @param port The gateway's port.
   * @param options The CAs to trust, the name to verify, path and headers.
   * @returns The client (reading frames when the status is 101) and the
   * response.
   */
  static async connect(
    port: number,
    options: TlsWsConnectOptions,
  ): Promise<{ client: TlsWsClient; response: HandshakeResponse }> {
    const { caCerts, serverName = "localhost", path = "/", headers = {} } =
      options;
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
    let conn: Deno.TlsConn;
    try {
      conn = await Deno.startTls(tcp, { hostname: serverName, caCerts });
    } catch (error) {
      tcp.close();
      throw error;
    }
    try {
      await within(conn.handshake(), 5000, "TLS handshake");
    } catch (error) {
      conn.close();
      throw error;
    }
    const client = new TlsWsClient(conn);
    const response = await client.upgrade({
      host: `${serverName}:${port}`,
      path,
      headers,
    });
    return { client, response };
  }

  /**
   * Ends the session politely when it is open (close frame 1000, then up to
   * 2 s for the server to close the connection), then closes the socket and
   * waits for the reader.
   *
   * @returns Resolves once the reader has stopped.
   */
  override async close(): Promise<void> {
    if (this.isOpen) {
      try {
        await this.sendClose(1000);
        const deadline = Date.now() + 2000;
        for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
          if (await this.next(deadline - Date.now()) === undefined) break;
        }
      } catch {
        // Already gone, or slow: close below anyway.
      }
    }
    await super.close();
  }
}
