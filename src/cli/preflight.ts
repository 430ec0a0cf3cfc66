/**
 * Checks at start of the files the flags name, so a first run fails at once
 * with a line naming the flag instead of later, or under another flag's
 * name: `--static` must be a directory, `--cert` must hold a PEM certificate
 * and `--key` a PEM private key (swapped files are named as such).
 *
 * @module
 */

import type { GatewayOptions } from "../config/config.ts";

/** What a PEM file holds, judged by its `-----BEGIN ...-----` lines. */
export type PemKind = "certificate" | "private key" | "neither";

const CERTIFICATE = /-----BEGIN CERTIFICATE-----/;
const PRIVATE_KEY = /-----BEGIN (?:[A-Z0-9]+ )?PRIVATE KEY-----/;

/**
 * Says what a PEM text holds. A file with both (a combined PEM) counts as a
 * certificate when it has one, since that is what `--cert` needs.
 *
 * @example
 * ```ts
 * import { pemKind } from "./preflight.ts";
 * import assert from "node:assert/strict";
 * assert.equal(pemKind("-----BEGIN EC PRIVATE KEY-----\n..."), "private key");
 * assert.equal(pemKind("-----BEGIN CERTIFICATE-----\n..."), "certificate");
 * assert.equal(pemKind("hello"), "neither");
 * ```
 *
 * @param text The file's text.
 * @returns Its kind.
 */
export function pemKind(text: string): PemKind {
  if (CERTIFICATE.test(text)) return "certificate";
  if (PRIVATE_KEY.test(text)) return "private key";
  return "neither";
}

/**
 * The problems with a `--cert` / `--key` pair, given what each file holds:
 * none when the certificate file holds a certificate and the key file a
 * private key; one line saying they are swapped when that is the case.
 *
 * @example Swapped files
 * ```ts
 * import { tlsFileProblems } from "./preflight.ts";
 * import assert from "node:assert/strict";
 * const problems = tlsFileProblems(
 *   { file: "key.pem", kind: "private key" },
 *   { file: "cert.pem", kind: "certificate" },
 * );
 * assert.equal(problems.length, 1);
 * assert.match(problems[0]!, /^--cert\/--key: swapped/);
 * ```
 *
 * @param cert The `--cert` file and what it holds.
 * @param key The `--key` file and what it holds.
 * @returns One line per problem.
 */
export function tlsFileProblems(
  cert: { file: string; kind: PemKind },
  key: { file: string; kind: PemKind },
): string[] {
  if (cert.kind === "private key" && key.kind === "certificate") {
    return [
      `--cert/--key: swapped: ${
        JSON.stringify(cert.file)
      } holds a private key ` +
      `and ${JSON.stringify(key.file)} a certificate (expected --cert ${
        JSON.stringify(key.file)
      } --key ${JSON.stringify(cert.file)})`,
    ];
  }
  const problems: string[] = [];
  if (cert.kind !== "certificate") {
    problems.push(
      `--cert: ${JSON.stringify(cert.file)} holds ${
        cert.kind === "private key" ? "a private key" : "no PEM certificate"
      } (expected a PEM file with -----BEGIN CERTIFICATE-----)`,
    );
  }
  if (key.kind !== "private key") {
    problems.push(
      `--key: ${JSON.stringify(key.file)} holds ${
        key.kind === "certificate" ? "a certificate" : "no PEM private key"
      } (expected a PEM file with -----BEGIN PRIVATE KEY-----)`,
    );
  }
  return problems;
}

/** How {@linkcode checkStartupFiles} names the settings it checks. */
export interface StartupFileNames {
  /**
   * The name of the static directory setting: the config file's key
   * (`static`) when the value came from there.
   * @default {"--static"}
   */
  staticDir?: string;
}

/**
 * Reads the files `options` names (`staticDir`, `tls`) and returns one line
 * per problem, each naming the flag (`--static`, `--cert`, `--key`).
 *
 * @example A missing static directory
 * ```ts
 * import { checkStartupFiles } from "./preflight.ts";
 * import assert from "node:assert/strict";
 * const problems = await checkStartupFiles({ staticDir: "/nonexistent/www" });
 * assert.match(problems[0]!, /^--static: cannot open "\/nonexistent\/www"/);
 * ```
 *
 * @param options The gateway options built from flags and config file.
 * @param names How to name the settings in the lines.
 * @returns The problems; empty when all is well.
 */
export async function checkStartupFiles(
  options: GatewayOptions,
  names: StartupFileNames = {},
): Promise<string[]> {
  const { staticDir: staticName = "--static" } = names;
  const problems: string[] = [];
  if (options.staticDir !== undefined) {
    const dir = options.staticDir;
    try {
      const info = await Deno.stat(dir);
      if (!info.isDirectory) {
        problems.push(
          `${staticName}: ${
            JSON.stringify(dir)
          } is not a directory (expected a directory of files to serve)`,
        );
      }
    } catch (error) {
      problems.push(
        `${staticName}: cannot open ${JSON.stringify(dir)}: ${
          reasonOf(error)
        } (expected a directory of files to serve)`,
      );
    }
  }
  const tls = options.tls;
  if (tls !== undefined && tls.certFile !== "" && tls.keyFile !== "") {
    const [cert, key] = await Promise.all([
      readPem("--cert", tls.certFile),
      readPem("--key", tls.keyFile),
    ]);
    if (typeof cert === "string") problems.push(cert);
    if (typeof key === "string") problems.push(key);
    if (typeof cert !== "string" && typeof key !== "string") {
      problems.push(...tlsFileProblems(cert, key));
    }
  }
  return problems;
}

/** The file's kind, or the problem reading it. */
async function readPem(
  flag: string,
  file: string,
): Promise<{ file: string; kind: PemKind } | string> {
  try {
    return { file, kind: pemKind(await Deno.readTextFile(file)) };
  } catch (error) {
    return `${flag}: cannot read ${JSON.stringify(file)}: ${reasonOf(error)}`;
  }
}

function reasonOf(error: unknown): string {
  if (error instanceof Deno.errors.NotCapable) {
    return "no read permission (run deno with --allow-read)";
  }
  return error instanceof Error ? error.message : String(error);
}
