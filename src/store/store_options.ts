/**
 * The store settings as the CLI and the config file give them
 * ({@linkcode StoreSettings}: `--store`, `--store-password-env`,
 * `--store-password-file`, `--store-timeout`, `--store-prefix`), resolved
 * once into {@linkcode ResolvedStoreOptions}. {@linkcode readStorePassword}
 * reads the password from an env var or a file, so it never has to appear
 * on a command line.
 *
 * @module
 */

import { ConfigError } from "../errors.ts";
import { parseStoreUrl, type StoreAddress } from "./store_url.ts";

/** The store settings before resolution. */
export interface StoreSettings {
  /** The store URL: `redis://...`, `rediss://...`, `unix:///...`. */
  url: string;
  /**
   * The name of an env var holding the password.
   * @default {undefined}
   */
  passwordEnv?: string;
  /**
   * A file holding the password (one line; trailing newline dropped).
   * @default {undefined}
   */
  passwordFile?: string;
  /**
   * The connect and command deadline, in ms.
   * @default {1000}
   */
  timeoutMs?: number;
  /**
   * The prefix of every key.
   * @default {"wsgate:"}
   */
  prefix?: string;
  /**
   * How long an instance's session slots count without a refresh, in ms.
   * @default {30000}
   */
  leaseMs?: number;
}

/** The store settings resolved and checked. */
export interface ResolvedStoreOptions {
  /** Where the store is. */
  readonly address: StoreAddress;
  /** The password (from the env var, the file, or the URL), if any. */
  readonly password?: string;
  /** The connect and command deadline, in ms. */
  readonly timeoutMs: number;
  /** The prefix of every key. */
  readonly prefix: string;
  /** The slot lease, in ms. */
  readonly leaseMs: number;
}

/** The store's connect and command deadline when none is set, in ms. */
export const DEFAULT_STORE_TIMEOUT_MS = 1000;

/**
 * Resolves the settings: parses the URL, applies defaults, checks every
 * field, and throws one {@linkcode ConfigError} listing all problems.
 * @param settings The settings.
 * @param options The password already read by {@linkcode readStorePassword}.
 * @returns The resolved options, frozen.
 * @throws {ConfigError} When any setting is invalid.
 *
 * @example Usage
 * ```ts
 * import { resolveStoreOptions } from "./store_options.ts";
 * import assert from "node:assert/strict";
 * const resolved = resolveStoreOptions({ url: "redis://127.0.0.1/1" }, { password: "pw" });
 * assert.equal(resolved.address.db, 1);
 * assert.equal(resolved.password, "pw");
 * assert.equal(resolved.timeoutMs, 1000);
 * assert.equal(resolved.prefix, "wsgate:");
 * ```
 */
export function resolveStoreOptions(
  settings: StoreSettings,
  options: { password?: string } = {},
): ResolvedStoreOptions {
  const {
    url,
    timeoutMs = DEFAULT_STORE_TIMEOUT_MS,
    prefix = "wsgate:",
    leaseMs = 30000,
  } = settings;
  const problems: string[] = [];
  let address: StoreAddress | undefined;
  try {
    address = parseStoreUrl(url);
  } catch (error) {
    problems.push(`store: ${error instanceof Error ? error.message : error}`);
  }
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60000) {
    problems.push(
      `storeTimeout: must be an integer 1-60000 ms: current value is ${timeoutMs}`,
    );
  }
  if (prefix.length > 64 || /[\s]/.test(prefix)) {
    problems.push(
      `storePrefix: must be at most 64 characters without spaces: current value is ${
        JSON.stringify(prefix.slice(0, 80))
      }`,
    );
  }
  if (!Number.isInteger(leaseMs) || leaseMs < 1000 || leaseMs > 3600000) {
    problems.push(
      `storeLease: must be an integer 1000-3600000 ms: current value is ${leaseMs}`,
    );
  }
  if (problems.length > 0 || address === undefined) {
    throw new ConfigError(problems);
  }
  const password = options.password ?? address.password;
  return Object.freeze({
    address,
    ...(password === undefined ? {} : { password }),
    timeoutMs,
    prefix,
    leaseMs,
  });
}

/**
 * Reads the store password from the env var named by `passwordEnv`, else
 * from `passwordFile` (its first line).
 * @param settings The settings naming the source.
 * @returns The password, or `undefined` when neither source is set.
 * @throws {ConfigError} When the env var is unset or empty, or the file
 * cannot be read.
 *
 * @example Usage
 * ```ts
 * import { readStorePassword } from "./store_options.ts";
 * import assert from "node:assert/strict";
 * Deno.env.set("WSGATE_DOC_STORE_PASSWORD", "s3cret");
 * const password = await readStorePassword({
 *   url: "redis://127.0.0.1",
 *   passwordEnv: "WSGATE_DOC_STORE_PASSWORD",
 * });
 * assert.equal(password, "s3cret");
 * Deno.env.delete("WSGATE_DOC_STORE_PASSWORD");
 * ```
 */
export async function readStorePassword(
  settings: StoreSettings,
): Promise<string | undefined> {
  if (settings.passwordEnv !== undefined) {
    const value = Deno.env.get(settings.passwordEnv);
    if (value === undefined || value === "") {
      throw new ConfigError([
        `storePasswordEnv: the env var "${settings.passwordEnv}" must be set and not empty`,
      ]);
    }
    return value;
  }
  if (settings.passwordFile !== undefined) {
    let text: string;
    try {
      text = await Deno.readTextFile(settings.passwordFile);
    } catch (error) {
      throw new ConfigError([
        `storePasswordFile: cannot read "${settings.passwordFile}": ${
          error instanceof Error ? error.message : error
        }`,
      ]);
    }
    const line = text.split(/\r?\n/, 1)[0] ?? "";
    if (line === "") {
      throw new ConfigError([
        `storePasswordFile: "${settings.passwordFile}" must hold the password on its first line`,
      ]);
    }
    return line;
  }
  return undefined;
}
