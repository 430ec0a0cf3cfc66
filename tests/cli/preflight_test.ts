import { assert, assertEquals } from "../_util/assert.ts";
import {
  checkStartupFiles,
  pemKind,
  tlsFileProblems,
} from "../../src/cli/preflight.ts";

const CERT_PEM =
  "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const KEY_PEM =
  "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n";

Deno.test("pemKind tells certificates, private keys of any algorithm and other text apart", async (t) => {
  for (
    const [name, text, kind] of [
      ["certificate", CERT_PEM, "certificate"],
      ["PKCS #8 key", KEY_PEM, "private key"],
      ["EC key", "-----BEGIN EC PRIVATE KEY-----\n", "private key"],
      ["RSA key", "-----BEGIN RSA PRIVATE KEY-----\n", "private key"],
      ["key then certificate", KEY_PEM + CERT_PEM, "certificate"],
      ["empty", "", "neither"],
      ["public key", "-----BEGIN PUBLIC KEY-----\n", "neither"],
    ] as const
  ) {
    await t.step(name, () => assertEquals(pemKind(text), kind));
  }
});

Deno.test("tlsFileProblems names swapped files once and blames --cert or --key otherwise", async (t) => {
  await t.step("right way round", () => {
    assertEquals(
      tlsFileProblems(
        { file: "c.pem", kind: "certificate" },
        { file: "k.pem", kind: "private key" },
      ),
      [],
    );
  });
  await t.step("swapped", () => {
    assertEquals(
      tlsFileProblems(
        { file: "k.pem", kind: "private key" },
        { file: "c.pem", kind: "certificate" },
      ),
      [
        '--cert/--key: swapped: "k.pem" holds a private key and "c.pem" a certificate (expected --cert "c.pem" --key "k.pem")',
      ],
    );
  });
  await t.step("a key file without a key", () => {
    const problems = tlsFileProblems(
      { file: "c.pem", kind: "certificate" },
      { file: "notes.txt", kind: "neither" },
    );
    assertEquals(problems.length, 1);
    assert(
      problems[0]!.startsWith('--key: "notes.txt" holds no PEM private key'),
    );
  });
});

Deno.test("checkStartupFiles names --static, --cert and --key for the files they point at", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "wsgate_preflight_" });
  try {
    const cert = `${dir}/cert.pem`;
    const key = `${dir}/key.pem`;
    await Deno.writeTextFile(cert, CERT_PEM);
    await Deno.writeTextFile(key, KEY_PEM);
    await t.step("all well", async () => {
      assertEquals(
        await checkStartupFiles({
          staticDir: dir,
          tls: { certFile: cert, keyFile: key },
        }),
        [],
      );
    });
    await t.step("a missing static directory", async () => {
      const problems = await checkStartupFiles({ staticDir: `${dir}/www` });
      assertEquals(problems.length, 1);
      assert(
        problems[0]!.startsWith(`--static: cannot open "${dir}/www": `),
        problems[0],
      );
    });
    await t.step("a static file that is not a directory", async () => {
      assertEquals(await checkStartupFiles({ staticDir: cert }), [
        `--static: "${cert}" is not a directory (expected a directory of files to serve)`,
      ]);
    });
    await t.step("swapped --cert and --key", async () => {
      const problems = await checkStartupFiles({
        tls: { certFile: key, keyFile: cert },
      });
      assertEquals(problems.length, 1);
      assert(problems[0]!.startsWith("--cert/--key: swapped"), problems[0]);
    });
    await t.step("an unreadable --key", async () => {
      const problems = await checkStartupFiles({
        tls: { certFile: cert, keyFile: `${dir}/nope.pem` },
      });
      assertEquals(problems.length, 1);
      assert(
        problems[0]!.startsWith(`--key: cannot read "${dir}/nope.pem"`),
        problems[0],
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
