import { assert, assertStrictEquals, within } from "../_util/assert.ts";
import {
  sendHttpResponse,
  sendRefusal,
  sendRefusalWithoutLinger,
  switchingProtocols,
  switchingProtocolsThenClose,
} from "../../src/http/http_replies.ts";
import { encodeHttpResponse } from "../../src/http/http_response.ts";

/** A loopback pair: the gateway's side and the client's. */
async function pair(): Promise<{ server: Deno.Conn; client: Deno.Conn }> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  return { server: await listener.accept(), client };
}

/** Reads the client side to EOF as text. */
async function readText(conn: Deno.Conn): Promise<string> {
  const chunks: number[] = [];
  const buffer = new Uint8Array(4096);
  for (let reads = 0; reads < 1000; reads++) {
    const count = await conn.read(buffer);
    if (count === null) break;
    chunks.push(...buffer.subarray(0, count));
  }
  return new TextDecoder().decode(new Uint8Array(chunks));
}

Deno.test("sendRefusal writes the status, the extra headers and the body, then closes", async () => {
  const { server, client } = await pair();
  try {
    const sending = sendRefusal(server, {
      status: 429,
      body: "Too many sessions from your address",
      headers: { "retry-after": "5" },
    });
    const text = await within(readText(client), 5000, "the refusal");
    await sending;
    assert(text.startsWith("HTTP/1.1 429 Too Many Requests\r\n"), text);
    assert(text.includes("retry-after: 5\r\n"), text);
    assert(
      text.endsWith("\r\n\r\nToo many sessions from your address\n"),
      text,
    );
  } finally {
    client.close();
  }
});

Deno.test("sendRefusalWithoutLinger writes the refusal and closes at once", async () => {
  const { server, client } = await pair();
  try {
    await sendRefusalWithoutLinger(server, { status: 408, body: "timeout" });
    const text = await within(readText(client), 5000, "the refusal");
    assert(text.startsWith("HTTP/1.1 408 Request Timeout\r\n"), text);
  } finally {
    client.close();
  }
});

Deno.test("sendHttpResponse streams the file after the head and closes both", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(path, "file body");
    const file = await Deno.open(path);
    const { server, client } = await pair();
    try {
      const bytes = encodeHttpResponse(200, {});
      await sendHttpResponse(server, { bytes, file }, 5000);
      const text = await within(readText(client), 5000, "the response");
      assert(text.startsWith("HTTP/1.1 200 OK\r\n"), text);
      assert(text.endsWith("\r\n\r\nfile body"), text);
    } finally {
      client.close();
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("switchingProtocolsThenClose is the 101 head followed by one close frame", () => {
  const head = switchingProtocols("abc=", "chat");
  const bytes = switchingProtocolsThenClose("abc=", "chat", 1011, "down");
  assertStrictEquals(
    new TextDecoder().decode(bytes.subarray(0, head.length)),
    new TextDecoder().decode(head),
  );
  const frame = bytes.subarray(head.length);
  assertStrictEquals(frame[0], 0x88);
  assertStrictEquals(frame[1], 6);
  assertStrictEquals((frame[2]! << 8) | frame[3]!, 1011);
  assertStrictEquals(new TextDecoder().decode(frame.subarray(4)), "down");
});
