/**
 * End-to-end TLS tests over real sockets: the gateway serving `wss://` from
 * certificate files (made with `openssl` into a temporary directory),
 * plain-TCP clients on the TLS port, certificate reload without a restart,
 * and routes that reach their backend over TLS (`backendTls`).
 */

import {
  assert,
  assertEquals,
  assertRejects,
  within,
} from "../_util/assert.ts";
import { startEchoBackend, type TestBackend } from "../_util/backends.ts";
import { type TestCertificate, TestPki } from "../_util/certificates.ts";
import { type GatewayFixture, startGateway } from "../_util/gateway_fixture.ts";
import { politely } from "../_util/polite_close.ts";
import { RawWsClient } from "../_util/raw_ws_client.ts";
import {
  startTlsEchoBackend,
  type TlsTestBackend,
} from "../_util/tls_backend.ts";
import { TlsWsClient } from "../_util/tls_ws_client.ts";
import type { GatewayOptions } from "../../src/config/config.ts";
import type { GatewayEvent } from "../../src/observability/events.ts";
import { createGateway } from "../../src/server/gateway.ts";

const utf8 = new TextEncoder();

/** The gateway checks its certificate files about every 5 s. */
const CERT_RELOAD_BOUND_MS = 8000;
const POLL_INTERVAL_MS = 100;

function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** Sends one message over `client` and expects the echo back. */
async function assertEchoes(
  client: TlsWsClient | RawWsClient,
  message: string,
): Promise<void> {
  await client.send(utf8.encode(message));
  const frame = await client.next(5000);
  assert(frame?.kind === "message", `expected a message, got ${frame?.kind}`);
  assertEquals(text(frame.payload), message);
}

/** Whether a wss:// upgrade trusting only `ca` succeeds. */
async function upgradesTrusting(
  port: number,
  ca: TestCertificate,
): Promise<boolean> {
  try {
    const { client, response } = await TlsWsClient.connect(port, {
      caCerts: [ca.certPem],
      path: "/echo",
    });
    await client.close();
    return response.status === 101;
  } catch {
    return false;
  }
}

/** Writes `contents` to `path` atomically (write a sibling, then rename). */
async function replaceFile(path: string, contents: string): Promise<void> {
  await Deno.writeTextFile(`${path}.new`, contents);
  await Deno.rename(`${path}.new`, path);
}

/** Copies a certificate and key to files the test may later overwrite. */
async function installCertificate(
  pki: TestPki,
  certificate: TestCertificate,
): Promise<{ certFile: string; keyFile: string }> {
  const certFile = `${pki.dir}/gateway_cert.pem`;
  const keyFile = `${pki.dir}/gateway_key.pem`;
  await replaceFile(certFile, certificate.certPem);
  await replaceFile(keyFile, certificate.keyPem);
  return { certFile, keyFile };
}

/** A gateway serving wss:// and relaying `/echo` to an echo backend. */
interface TlsGatewayRig extends AsyncDisposable {
  /** The PKI holding the CA and the gateway's certificate files. */
  pki: TestPki;
  /** The CA that issued the gateway's certificate. */
  ca: TestCertificate;
  backend: TestBackend;
  gateway: GatewayFixture;
}

/**
 * Issues a certificate from a fresh CA and starts a gateway serving it with
 * `tls`, relaying `/echo` to an echo backend. Disposing stops all of it.
 */
async function startTlsGateway(): Promise<TlsGatewayRig> {
  await using stack = new AsyncDisposableStack();
  const pki = stack.use(await TestPki.create());
  const ca = await pki.createCa("wsgate test CA");
  const leaf = await pki.issue(ca);
  const backend = stack.use(startEchoBackend());
  const gateway = stack.use(
    await startGateway({
      tls: { certFile: leaf.certFile, keyFile: leaf.keyFile },
      routes: [{ path: "/echo", target: backend.target }],
    }),
  );
  const owned = stack.move();
  return {
    pki,
    ca,
    backend,
    gateway,
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}

Deno.test("gateway with tls round-trips a message over wss:// for a client trusting its CA", async () => {
  await using rig = await startTlsGateway();
  const { ca, backend, gateway } = rig;
  const listening = gateway.events.find((event) => event.type === "listening");
  assert(listening?.type === "listening" && listening.tls === true);
  const { client, response } = await TlsWsClient.connect(gateway.port, {
    caCerts: [ca.certPem],
    path: "/echo",
  });
  await using _client = client;
  assertEquals(response.status, 101);
  await assertEchoes(client, "hello over wss");
  assertEquals(backend.accepted, 1);
});

Deno.test("gateway with tls refuses the handshake of a client that trusts another CA", async () => {
  await using rig = await startTlsGateway();
  const { pki, ca, backend, gateway } = rig;
  const otherCa = await pki.createCa("wsgate other CA");
  assertEquals(await upgradesTrusting(gateway.port, otherCa), false);
  assertEquals(await upgradesTrusting(gateway.port, ca), true);
  assertEquals(backend.accepted, 1);
});

/** The warnings about plain-text clients on the TLS port so far. */
function plaintextWarnings(gateway: GatewayFixture): GatewayEvent[] {
  return gateway.events.filter((event) =>
    event.type === "warning" && event.message === "plain HTTP on the TLS port"
  );
}

/** Sends a plain HTTP upgrade to the TLS port and reads until it closes. */
async function sendPlainUpgrade(port: number): Promise<string> {
  const plain = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await plain.write(utf8.encode(
      `GET /echo HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
        "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        "Sec-WebSocket-Version: 13\r\n\r\n",
    ));
    const received: number[] = [];
    const buffer = new Uint8Array(1024);
    await within(
      (async () => {
        for (let reads = 0; reads < 100; reads++) {
          const count = await plain.read(buffer).catch(() => null);
          if (count === null) return;
          received.push(...buffer.subarray(0, count));
        }
      })(),
      5000,
      "the gateway to close the plain-TCP connection",
    );
    return text(Uint8Array.from(received));
  } finally {
    plain.close();
  }
}

// Regression (issue 18): a plain http:// or ws:// client on the TLS port was
// closed with nothing logged, so the operator had no hint of the mistake.
Deno.test("gateway with tls logs a plain-HTTP client on its port once per interval, naming https:// and wss://", async () => {
  await using rig = await startTlsGateway();
  const { gateway } = rig;
  await sendPlainUpgrade(gateway.port);
  const [warning, ...others] = plaintextWarnings(gateway);
  assertEquals(others, []);
  assert(warning?.type === "warning");
  assert(
    warning.detail?.startsWith("127.0.0.1:") &&
      warning.detail.includes("use https:// or wss://"),
    warning.detail,
  );
  // A second one within the interval is counted, not logged.
  await sendPlainUpgrade(gateway.port);
  assertEquals(plaintextWarnings(gateway).length, 1);
  assertEquals(gateway.events.filter((event) => event.type === "error"), []);
});

Deno.test("gateway with tls closes a plain-TCP client cleanly and keeps serving", async () => {
  await using rig = await startTlsGateway();
  const { ca, backend, gateway } = rig;
  // Whatever comes back (a TLS alert at most) is not an HTTP response, and
  // the gateway ends the connection.
  const head = await sendPlainUpgrade(gateway.port);
  assert(!head.startsWith("HTTP/"), `unexpected HTTP answer: ${head}`);
  assertEquals(backend.accepted, 0);
  assertEquals(gateway.events.filter((event) => event.type === "error"), []);
  const { client, response } = await TlsWsClient.connect(gateway.port, {
    caCerts: [ca.certPem],
    path: "/echo",
  });
  await using _client = client;
  assertEquals(response.status, 101);
  await assertEchoes(client, "still serving");
});

/**
 * Replaces the certificate files with one from a second CA and polls, within
 * a bound, until a client trusting only that CA gets through.
 */
async function checkCertificateReload(
  extraOptions: Partial<GatewayOptions>,
): Promise<void> {
  await using pki = await TestPki.create();
  const firstCa = await pki.createCa("wsgate test CA one");
  const secondCa = await pki.createCa("wsgate test CA two");
  const first = await pki.issue(firstCa, { commonName: "wsgate first" });
  const second = await pki.issue(secondCa, { commonName: "wsgate second" });
  const files = await installCertificate(pki, first);
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    ...extraOptions,
    tls: files,
    routes: [{ path: "/echo", target: backend.target }],
  });
  assertEquals(await upgradesTrusting(gateway.port, firstCa), true);
  assertEquals(await upgradesTrusting(gateway.port, secondCa), false);
  // An open session must survive the swap.
  const { client: open } = await TlsWsClient.connect(gateway.port, {
    caCerts: [firstCa.certPem],
    path: "/echo",
  });
  await using _open = open;
  await replaceFile(files.keyFile, second.keyPem);
  await replaceFile(files.certFile, second.certPem);
  const deadline = Date.now() + CERT_RELOAD_BOUND_MS;
  let isReloaded = false;
  const maxPolls = CERT_RELOAD_BOUND_MS / POLL_INTERVAL_MS;
  for (let poll = 0; poll < maxPolls && Date.now() < deadline; poll++) {
    if (await upgradesTrusting(gateway.port, secondCa)) {
      isReloaded = true;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  const failures = gateway.events.filter((event) => event.type === "error");
  assert(
    isReloaded,
    `new handshakes did not present the new certificate within ${CERT_RELOAD_BOUND_MS} ms; errors: ${
      JSON.stringify(failures)
    }`,
  );
  assertEquals(await upgradesTrusting(gateway.port, firstCa), false);
  await assertEchoes(open, "opened before the reload");
}

Deno.test("gateway with tls and reusePort presents a replaced certificate to new handshakes without a restart", async () => {
  await checkCertificateReload({ reusePort: true });
});

Deno.test({
  name:
    "gateway with tls presents a replaced certificate to new handshakes without a restart",
  fn: async () => {
    await checkCertificateReload({});
  },
});

// Regression: a TLS listener always set SO_REUSEPORT, so a second TLS
// gateway on the same port started silently and took half the connections.
Deno.test("gateway with tls fails to listen on a port another tls gateway holds", async () => {
  await using rig = await startTlsGateway();
  const leaf = await rig.pki.issue(rig.ca);
  await using second = createGateway({
    port: rig.gateway.port,
    tls: { certFile: leaf.certFile, keyFile: leaf.keyFile },
    routes: [{ path: "/echo", target: rig.backend.target }],
  });
  await assertRejects(() => second.listen(), Deno.errors.AddrInUse);
});

/** A gateway whose `/tls` route reaches a TLS echo backend, with a client. */
interface BackendTlsSession extends AsyncDisposable {
  gateway: GatewayFixture;
  backend: TlsTestBackend;
  /** An upgraded client on `/tls`; disposing the session ends it politely. */
  client: RawWsClient;
}

/**
 * Starts a TLS echo backend presenting a certificate for `backend.test`
 * issued by a fresh CA, a gateway whose `/tls` route reaches it with
 * `backendTls` verifying `serverName` against that CA (or, with
 * `trustsOtherCa`, against an unrelated one), and asserts that a raw client
 * upgrades on `/tls`. Disposing the session stops all of it.
 */
async function openBackendTlsSession(
  options: { serverName: string; trustsOtherCa?: boolean },
): Promise<BackendTlsSession> {
  await using stack = new AsyncDisposableStack();
  const pki = stack.use(await TestPki.create());
  const ca = await pki.createCa("wsgate backend CA");
  const trusted = options.trustsOtherCa
    ? await pki.createCa("wsgate other CA")
    : ca;
  const leaf = await pki.issue(ca, { dnsNames: ["backend.test"] });
  const backend = stack.use(startTlsEchoBackend(leaf));
  const gateway = stack.use(
    await startGateway({
      routes: [{
        path: "/tls",
        target: backend.target,
        backendTls: {
          caFile: trusted.certFile,
          serverName: options.serverName,
        },
      }],
    }),
  );
  const { client, response } = await RawWsClient.connect(gateway.port, "/tls");
  stack.use(politely(client));
  assertEquals(response.status, 101);
  const owned = stack.move();
  return {
    gateway,
    backend,
    client,
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}

Deno.test("route with backendTls relays to a TLS backend whose certificate the caFile vouches for", async () => {
  await using session = await openBackendTlsSession({
    serverName: "backend.test",
  });
  await assertEchoes(session.client, "over backend TLS");
  await assertEchoes(session.client, "twice");
  assertEquals(session.backend.echoed, 1);
});

Deno.test("route with backendTls closes with 1011 when the backend certificate does not match serverName", async () => {
  await using session = await openBackendTlsSession({
    serverName: "wrong.test",
  });
  const { client, gateway, backend } = session;
  await client.send(utf8.encode("must not arrive"));
  const close = await client.nextClose(5000);
  assertEquals(close?.code, 1011);
  await client.sendClose(1011);
  const summary = await within(gateway.nextClose(), 5000, "session_close");
  assertEquals(summary.code, 1011);
  assertEquals(backend.echoed, 0);
});

Deno.test({
  name:
    "route with backendTls refuses the session as backend unreachable when the backend TLS handshake fails",
  fn: async () => {
    await using session = await openBackendTlsSession({
      serverName: "wrong.test",
    });
    const { client, gateway } = session;
    const close = await client.nextClose(5000);
    assertEquals(close?.code, 1011);
    assertEquals(close?.reason, "backend unreachable");
    assert(gateway.events.some((event) => event.type === "backend_error"));
    assert(!gateway.events.some((event) => event.type === "session_open"));
  },
});

Deno.test("route with backendTls closes with 1011 when no configured CA vouches for the backend", async () => {
  await using session = await openBackendTlsSession({
    serverName: "backend.test",
    trustsOtherCa: true,
  });
  const { client, backend } = session;
  await client.send(utf8.encode("must not arrive"));
  const close = await client.nextClose(5000);
  assertEquals(close?.code, 1011);
  await client.sendClose(1011);
  assertEquals(backend.echoed, 0);
});

Deno.test("dynamic route with backendTls verifies the certificate against the name the client asked for, not the resolved address", async () => {
  // Regression: the resolved IP was used as SNI and for verification, so a
  // certificate for "localhost" failed with 'not valid for name "127.0.0.1"'.
  await using stack = new AsyncDisposableStack();
  const pki = stack.use(await TestPki.create());
  const ca = await pki.createCa("wsgate dynamic backend CA");
  const leaf = await pki.issue(ca, {
    dnsNames: ["localhost"],
    ipAddresses: [],
  });
  const backend = stack.use(startTlsEchoBackend(leaf));
  const backendPort = Number(backend.target.split(":").pop());
  const gateway = stack.use(
    await startGateway({
      routes: [{
        path: "/dyn",
        dynamic: { hosts: ["localhost"], cidrs: ["127.0.0.0/8"] },
        backendTls: { caFile: ca.certFile },
      }],
    }),
  );
  const { client, response } = await RawWsClient.connect(
    gateway.port,
    `/dyn?host=localhost&port=${backendPort}`,
  );
  stack.use(politely(client));
  assertEquals(response.status, 101);
  await assertEchoes(client, "verified as localhost");
  assertEquals(backend.echoed, 1);
});
