import { assert, assertEquals } from "../_util/assert.ts";
import {
  isPlaintextOnTls,
  PlaintextNotices,
} from "../../src/server/plaintext_on_tls.ts";

Deno.test("isPlaintextOnTls is true only for rustls' InvalidContentType", () => {
  assert(
    isPlaintextOnTls(
      new Deno.errors.InvalidData(
        "received corrupt message of type InvalidContentType",
      ),
    ),
  );
  assert(
    !isPlaintextOnTls(new Deno.errors.InvalidData("peer is incompatible")),
  );
  assert(!isPlaintextOnTls(new Deno.errors.ConnectionReset("reset")));
  assert(!isPlaintextOnTls("InvalidContentType"));
});

Deno.test("PlaintextNotices reports once per interval and names the ones left out", async (t) => {
  const notices = new PlaintextNotices({ intervalMs: 10_000 });
  await t.step("the first client is reported with the hint", () => {
    assertEquals(
      notices.take("10.0.0.1:1000", 0),
      "10.0.0.1:1000 sent plain text, not a TLS handshake: this port serves " +
        "TLS, use https:// or wss:// (the client got a TLS alert)",
    );
  });
  await t.step("clients within the interval are counted only", () => {
    assertEquals(notices.take("10.0.0.1:1001", 1), undefined);
    assertEquals(notices.take("10.0.0.1:1002", 9_999), undefined);
  });
  await t.step("the next report names the count and starts it over", () => {
    const line = notices.take("10.0.0.2:2000", 10_000);
    assert(line?.startsWith("10.0.0.2:2000 sent plain text"), line);
    assert(line?.endsWith(" (2 more since the last notice)"), line);
    assertEquals(
      notices.take("10.0.0.2:2001", 20_000)?.includes("more"),
      false,
    );
  });
});
