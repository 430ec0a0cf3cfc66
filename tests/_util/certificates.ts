/**
 * Throw-away certificate authorities and server certificates for TLS tests,
 * made with the `openssl` command (Debian package `openssl`) in a temporary
 * directory that `close()` / `await using` removes. Keys are EC P-256,
 * certificates are X.509 v3 with the extensions rustls insists on
 * (basicConstraints, keyUsage, subjectAltName) and are valid for two days.
 *
 * @module
 */

/** A certificate and its key, as PEM files and text. */
export interface TestCertificate {
  /** The PEM certificate file. */
  readonly certFile: string;
  /** The PEM private key file (PKCS #8). */
  readonly keyFile: string;
  /** The PEM certificate text. */
  readonly certPem: string;
  /** The PEM private key text. */
  readonly keyPem: string;
  /** The subject common name. */
  readonly commonName: string;
}

/** Options of {@linkcode TestPki.issue}. */
export interface IssueOptions {
  /** The subject common name. @default {"wsgate test server"} */
  commonName?: string;
  /** DNS names for subjectAltName. @default {["localhost"]} */
  dnsNames?: readonly string[];
  /** IP addresses for subjectAltName. @default {["127.0.0.1"]} */
  ipAddresses?: readonly string[];
}

/** A temporary directory of test CAs and certificates. */
export class TestPki implements AsyncDisposable {
  /** The temporary directory holding every file. */
  readonly dir: string;
  #count = 0;

  /** Use {@linkcode TestPki.create}. */
  constructor(dir: string) {
    this.dir = dir;
  }

  /** Creates the temporary directory. */
  static async create(): Promise<TestPki> {
    return new TestPki(await Deno.makeTempDir({ prefix: "wsgate_pki_" }));
  }

  /** Creates a self-signed CA named `commonName`. */
  async createCa(commonName: string): Promise<TestCertificate> {
    const base = `${this.dir}/ca${++this.#count}`;
    await runOpenssl([
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      `${base}.key`,
      "-out",
      `${base}.pem`,
      "-days",
      "2",
      "-subj",
      `/CN=${commonName}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    return await readCertificate(base, commonName);
  }

  /** Issues a server certificate signed by `ca`. */
  async issue(
    ca: TestCertificate,
    options: IssueOptions = {},
  ): Promise<TestCertificate> {
    const {
      commonName = "wsgate test server",
      dnsNames = ["localhost"],
      ipAddresses = ["127.0.0.1"],
    } = options;
    const number = ++this.#count;
    const base = `${this.dir}/leaf${number}`;
    const names = [
      ...dnsNames.map((name) => `DNS:${name}`),
      ...ipAddresses.map((ip) => `IP:${ip}`),
    ];
    await Deno.writeTextFile(
      `${base}.ext`,
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth",
        `subjectAltName=${names.join(",")}`,
        "",
      ].join("\n"),
    );
    await runOpenssl([
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      `${base}.key`,
      "-out",
      `${base}.csr`,
      "-subj",
      `/CN=${commonName}`,
    ]);
    await runOpenssl([
      "x509",
      "-req",
      "-in",
      `${base}.csr`,
      "-CA",
      ca.certFile,
      "-CAkey",
      ca.keyFile,
      "-set_serial",
      String(1000 + number),
      "-days",
      "2",
      "-extfile",
      `${base}.ext`,
      "-out",
      `${base}.pem`,
    ]);
    return await readCertificate(base, commonName);
  }

  /** Removes the directory and everything in it. */
  async close(): Promise<void> {
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

async function readCertificate(
  base: string,
  commonName: string,
): Promise<TestCertificate> {
  const [certPem, keyPem] = await Promise.all([
    Deno.readTextFile(`${base}.pem`),
    Deno.readTextFile(`${base}.key`),
  ]);
  return {
    certFile: `${base}.pem`,
    keyFile: `${base}.key`,
    certPem,
    keyPem,
    commonName,
  };
}

async function runOpenssl(args: string[]): Promise<void> {
  const output = await new Deno.Command("openssl", {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `Cannot run openssl ${args[0]}: exit code ${output.code}: ${
        new TextDecoder().decode(output.stderr).trim()
      }`,
    );
  }
}
