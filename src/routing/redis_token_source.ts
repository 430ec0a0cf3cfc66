/**
 * websockify's `TokenRedis` settings, pure: the `--token-source` syntax
 * `host[:port[:db[:password[:namespace]]]]` (a field may be quoted to hold
 * colons: `host::::"a:b"`). Stored values are read by `parseTokenValue`
 * (`token_value.ts`); the Redis client itself lives in `src/store/`.
 *
 * @module
 */

/** A parsed `TokenRedis` source. */
export interface RedisTokenSource {
  /** The Redis host. */
  readonly hostname: string;
  /** The Redis port. @default {6379} */
  readonly port: number;
  /** The database number. @default {0} */
  readonly db: number;
  /** The password, if any. */
  readonly password: string | undefined;
  /** The key prefix: `namespace:`, or `""`. */
  readonly keyPrefix: string;
  /** The same as a `redis://` URL (password and db included). */
  readonly url: string;
}

/**
 * Parses websockify's `TokenRedis` source. Throws a `SyntaxError` naming
 * the expected form.
 *
 * @example
 * ```ts
 * import { parseRedisTokenSource } from "./redis_token_source.ts";
 * import assert from "node:assert/strict";
 * const source = parseRedisTokenSource('redis.internal::2:s3cret:"app:vnc"');
 * assert.equal(source.port, 6379);
 * assert.equal(source.db, 2);
 * assert.equal(source.keyPrefix, "app:vnc:");
 * assert.equal(source.url, "redis://:s3cret@redis.internal:6379/2");
 * ```
 *
 * @param text The `--token-source` value.
 * @returns The settings.
 */
export function parseRedisTokenSource(text: string): RedisTokenSource {
  const fields = splitSourceFields(text);
  const [
    hostname = "",
    portText = "",
    dbText = "",
    password = "",
    namespace = "",
  ] = fields;
  if (
    fields.length > 5 || hostname === "" || !/^\d*$/.test(portText) ||
    !/^\d*$/.test(dbText) || Number(portText) > 65535
  ) {
    throw new SyntaxError(
      `Cannot parse TokenRedis source as it must be host[:port[:db[:password[:namespace]]]]: current value is ${
        JSON.stringify(text)
      }`,
    );
  }
  const port = portText === "" ? 6379 : Number(portText);
  const db = dbText === "" ? 0 : Number(dbText);
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const auth = password === "" ? "" : `:${encodeURIComponent(password)}@`;
  return {
    hostname,
    port,
    db,
    password: password === "" ? undefined : password,
    keyPrefix: namespace === "" ? "" : `${namespace}:`,
    url: `redis://${auth}${host}:${port}/${db}`,
  };
}

/** Splits at colons; a field wrapped in double quotes may hold colons. */
function splitSourceFields(text: string): string[] {
  const fields: string[] = [];
  let i = 0;
  while (true) {
    let field: string;
    if (text[i] === '"') {
      const close = text.indexOf('"', i + 1);
      const after = close < 0 ? -1 : close + 1;
      if (close > i + 1 && (after === text.length || text[after] === ":")) {
        field = text.slice(i + 1, close);
        i = after;
      } else {
        const colon = text.indexOf(":", i);
        field = text.slice(i, colon < 0 ? text.length : colon);
        i = colon < 0 ? text.length : colon;
      }
    } else {
      const colon = text.indexOf(":", i);
      field = text.slice(i, colon < 0 ? text.length : colon);
      i = colon < 0 ? text.length : colon;
    }
    fields.push(field);
    if (i >= text.length) return fields;
    i++; // the colon
  }
}
