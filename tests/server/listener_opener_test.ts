import {
  assert,
  assertRejects,
  assertStrictEquals,
  within,
} from "../_util/assert.ts";
import { TestPki } from "../_util/certificates.ts";
import { resolveOptions } from "../../src/config/config.ts";
import { ListenerOpener } from "../../src/server/listener_opener.ts";

Deno.test("ListenerOpener.open listens on the configured hostname and the given port", async () => {
  const config = resolveOptions({ hostname: "127.0.0.1", port: 8080 });
  const opener = new ListenerOpener();
  // The port argument wins over config.port (a reload keeps the bound port).
  using listener = await opener.open(config, 0);
  const addr = listener.addr as Deno.NetAddr;
  assertStrictEquals(addr.hostname, "127.0.0.1");
  assert(addr.port > 0 && addr.port !== 8080);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: addr.port });
  const accepted = await listener.accept();
  conn.close();
  accepted.close();
});

Deno.test("ListenerOpener.open sets SO_REUSEPORT only with reusePort", async (t) => {
  await t.step(
    "config.reusePort true: a second listener binds the same port",
    async () => {
      const config = resolveOptions({ reusePort: true });
      const opener = new ListenerOpener();
      using first = await opener.open(config, 0);
      const port = (first.addr as Deno.NetAddr).port;
      using second = await opener.open(config, port);
      assertStrictEquals((second.addr as Deno.NetAddr).port, port);
    },
  );
  await t.step(
    "the reusePort argument overrides the configuration",
    async () => {
      const opener = new ListenerOpener();
      using first = await opener.open(resolveOptions({}), 0, true);
      const port = (first.addr as Deno.NetAddr).port;
      using second = await opener.open(resolveOptions({}), port, true);
      assertStrictEquals((second.addr as Deno.NetAddr).port, port);
    },
  );
  await t.step("without it the port is in use", async () => {
    const config = resolveOptions({});
    const opener = new ListenerOpener();
    using first = await opener.open(config, 0);
    const port = (first.addr as Deno.NetAddr).port;
    await assertRejects(() => opener.open(config, port), Deno.errors.AddrInUse);
  });
});

Deno.test("ListenerOpener.isCertificateChanged is false without TLS", async () => {
  assertStrictEquals(
    await new ListenerOpener().isCertificateChanged(resolveOptions({})),
    false,
  );
});

Deno.test("ListenerOpener opens a TLS listener and notices when its certificate files change", async () => {
  await using pki = await TestPki.create();
  const ca = await pki.createCa("wsgate test CA");
  const leaf = await pki.issue(ca);
  const config = resolveOptions({
    tls: { certFile: leaf.certFile, keyFile: leaf.keyFile },
  });
  const opener = new ListenerOpener();
  using listener = await opener.open(config, 0);
  const port = (listener.addr as Deno.NetAddr).port;
  assertStrictEquals(await opener.isCertificateChanged(config), false);

  // The listener speaks TLS with the configured certificate.
  const client = await Deno.connectTls({
    hostname: "127.0.0.1",
    port,
    caCerts: [ca.certPem],
  });
  const server = await listener.accept() as Deno.TlsConn;
  try {
    await within(
      Promise.all([client.handshake(), server.handshake()]),
      5000,
      "TLS handshake",
    );
  } finally {
    client.close();
    server.close();
  }

  // A TLS listener always sets SO_REUSEPORT, so its successor (opened with
  // reusePort, as a certificate reload does) can bind.
  using successor = await opener.open(config, port, true);
  assertStrictEquals((successor.addr as Deno.NetAddr).port, port);

  const other = await pki.issue(ca, { commonName: "replacement" });
  await Deno.writeTextFile(leaf.certFile, other.certPem);
  await Deno.writeTextFile(leaf.keyFile, other.keyPem);
  assertStrictEquals(await opener.isCertificateChanged(config), true);
  // Opening again takes the new files as the reference.
  using reopened = await opener.open(config, port, true);
  assert((reopened.addr as Deno.NetAddr).port === port);
  assertStrictEquals(await opener.isCertificateChanged(config), false);
});

// Regression: a TLS listener always set SO_REUSEPORT, so a second TLS
// gateway on a busy port started silently and the kernel split connections
// between the two.
Deno.test("ListenerOpener.open refuses a busy port for TLS as for plain TCP unless reusePort", async () => {
  await using pki = await TestPki.create();
  const ca = await pki.createCa("wsgate test CA");
  const leaf = await pki.issue(ca);
  const config = resolveOptions({
    tls: { certFile: leaf.certFile, keyFile: leaf.keyFile },
  });
  using first = await new ListenerOpener().open(config, 0);
  const port = (first.addr as Deno.NetAddr).port;
  await assertRejects(
    () => new ListenerOpener().open(config, port),
    Deno.errors.AddrInUse,
  );
  using plain = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await assertRejects(
    () => new ListenerOpener().open(config, (plain.addr as Deno.NetAddr).port),
    Deno.errors.AddrInUse,
  );
  // Sharing on purpose (workers, a reload's successor) still binds.
  using shared = await new ListenerOpener().open(config, port, true);
  assertStrictEquals((shared.addr as Deno.NetAddr).port, port);
});

Deno.test("ListenerOpener rejects when the certificate files cannot be read", async () => {
  // Regression: with both files missing, the first failed stat rejected
  // while the second was still running, and the op sanitizer failed the
  // test about one run in eight under load.
  const config = resolveOptions({
    tls: { certFile: "/nonexistent/cert.pem", keyFile: "/nonexistent/key.pem" },
  });
  const opener = new ListenerOpener();
  await assertRejects(() => opener.open(config, 0), Deno.errors.NotFound);
  await assertRejects(
    () => opener.isCertificateChanged(config),
    Deno.errors.NotFound,
  );
});

Deno.test("ListenerOpener rejects a TLS configuration whose files are not a certificate and key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/cert.pem`, "not a certificate");
    await Deno.writeTextFile(`${dir}/key.pem`, "not a key");
    const config = resolveOptions({
      tls: { certFile: `${dir}/cert.pem`, keyFile: `${dir}/key.pem` },
    });
    await assertRejects(() => new ListenerOpener().open(config, 0));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
