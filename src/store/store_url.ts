/**
 * {@linkcode parseStoreUrl}: the `--store` URL (`redis://`, `rediss://`,
 * `unix://`) into the {@linkcode StoreAddress} the client connects to. Pure.
 *
 * @module
 */

/** Where and how to reach the store, parsed from its URL. */
export interface StoreAddress {
  /** `tcp` for `redis://`, `tls` for `rediss://`, `unix` for `unix://`. */
  transport: "tcp" | "tls" | "unix";
  /** The host name or address (tcp, tls); empty for unix. */
  hostname: string;
  /** The TCP port (tcp, tls); 0 for unix. */
  port: number;
  /** The socket path (unix); empty otherwise. */
  path: string;
  /** The ACL user for `AUTH user password`, if the URL names one. */
  username?: string;
  /** The password from the URL, if any (prefer an env var or a file). */
  password?: string;
  /** The database number for `SELECT`; 0 means no `SELECT`. */
  db: number;
}

/**
 * Parses a store URL: `redis://[[user]:password@]host[:port][/db]`,
 * `rediss://...` (TLS), or `unix:///path/redis.sock` (a `?db=N` query
 * selects the database). The default port is 6379.
 * @param url The URL text.
 * @returns The address.
 * @throws {SyntaxError} When the URL is malformed or its scheme unknown.
 * @throws {RangeError} When the port or database is out of range.
 *
 * @example Usage
 * ```ts
 * import { parseStoreUrl } from "./store_url.ts";
 * import assert from "node:assert/strict";
 * const address = parseStoreUrl("redis://app:s3cret@10.0.0.5:6380/2");
 * assert.equal(address.hostname, "10.0.0.5");
 * assert.equal(address.port, 6380);
 * assert.equal(address.username, "app");
 * assert.equal(address.password, "s3cret");
 * assert.equal(address.db, 2);
 * assert.equal(parseStoreUrl("unix:///run/redis.sock").path, "/run/redis.sock");
 * ```
 */
export function parseStoreUrl(url: string): StoreAddress {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new SyntaxError(
      `Cannot parse store URL as it is malformed: current value is "${
        redact(url)
      }"`,
      { cause: error },
    );
  }
  const credentials: Pick<StoreAddress, "username" | "password"> = {};
  if (parsed.username !== "") {
    credentials.username = decodeURIComponent(parsed.username);
  }
  if (parsed.password !== "") {
    credentials.password = decodeURIComponent(parsed.password);
  }
  if (parsed.protocol === "unix:") {
    if (parsed.pathname === "" || parsed.pathname === "/") {
      throw new SyntaxError(
        `Cannot parse store URL as a unix URL must name a socket path: current value is "${
          redact(url)
        }"`,
      );
    }
    const dbText = parsed.searchParams.get("db") ?? "0";
    return {
      transport: "unix",
      hostname: "",
      port: 0,
      path: decodeURIComponent(parsed.pathname),
      ...credentials,
      db: parseDb(dbText),
    };
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new SyntaxError(
      `Cannot parse store URL as its scheme must be "redis:", "rediss:" or "unix:": current value is "${parsed.protocol}"`,
    );
  }
  if (parsed.hostname === "") {
    throw new SyntaxError(
      `Cannot parse store URL as it must name a host: current value is "${
        redact(url)
      }"`,
    );
  }
  const port = parsed.port === "" ? 6379 : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(
      `Cannot parse store URL as its port must be 1-65535: current value is ${parsed.port}`,
    );
  }
  const dbText = parsed.pathname.replace(/^\//, "");
  // A bracketed IPv6 host connects without its brackets.
  const hostname = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  return {
    transport: parsed.protocol === "rediss:" ? "tls" : "tcp",
    hostname,
    port,
    path: "",
    ...credentials,
    db: parseDb(dbText === "" ? "0" : dbText),
  };
}

function parseDb(text: string): number {
  if (!/^\d{1,5}$/.test(text)) {
    throw new RangeError(
      `Cannot parse store URL as its database must be an integer 0-65535: current value is "${
        text.slice(0, 32)
      }"`,
    );
  }
  return Number(text);
}

/** Hides a password in a URL echoed in an error message. */
function redact(url: string): string {
  return url.replace(/\/\/([^@/]*):([^@/]*)@/, "//$1:***@").slice(0, 200);
}
