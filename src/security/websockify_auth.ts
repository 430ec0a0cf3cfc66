/**
 * websockify's two auth plugins as checks over a request's headers, pure:
 * `BasicHTTPAuth` (401 with `WWW-Authenticate` when credentials are
 * missing or wrong, 403 when the header is malformed) and `ExpectOrigin`
 * (403 unless `Origin` is listed; a missing `Origin` is refused too). What
 * the client sees and what the log sees are separate fields.
 *
 * @module
 */

/** A refusal: the HTTP answer and the log detail. */
export interface AuthRefusal {
  /** The HTTP status. */
  readonly status: 401 | 403;
  /** The short body sent to the client. */
  readonly body: string;
  /** Extra response headers. */
  readonly headers: Readonly<Record<string, string>>;
  /** The detail for the log (never sent). */
  readonly detail: string;
}

/** A check run before the upgrade; `undefined` lets the request through. */
export type AuthCheck = (
  headers: ReadonlyMap<string, string>,
) => AuthRefusal | undefined;

/**
 * `BasicHTTPAuth`: the `Authorization: Basic` credentials must equal
 * `user:password` (decoded as ISO-8859-1, as websockify does).
 *
 * @example
 * ```ts
 * import { basicHttpAuth } from "./websockify_auth.ts";
 * import assert from "node:assert/strict";
 * const check = basicHttpAuth("alice:s3cret");
 * assert.equal(check(new Map([["authorization", `Basic ${btoa("alice:s3cret")}`]])), undefined);
 * assert.equal(check(new Map())?.status, 401);
 * ```
 *
 * @param source `user:password`, the `--auth-source`.
 * @returns The check; headers are keyed in lower case.
 */
export function basicHttpAuth(source: string): AuthCheck {
  if (!source.includes(":")) {
    throw new SyntaxError(
      `Cannot use BasicHTTPAuth as its source must be user:password: current value has no colon`,
    );
  }
  const demand: AuthRefusal = {
    status: 401,
    body: "Unauthorized",
    headers: { "www-authenticate": 'Basic realm="Websockify"' },
    detail: "",
  };
  return (headers) => {
    const header = headers.get("authorization");
    if (header === undefined) {
      return { ...demand, detail: "no Authorization header" };
    }
    if (!header.startsWith("Basic ")) {
      return malformed("Authorization is not Basic");
    }
    let text: string;
    try {
      // atob yields one char per byte: ISO-8859-1, as websockify decodes.
      text = atob(header.slice(6).trim());
    } catch {
      return malformed("Authorization is not base64");
    }
    if (!text.includes(":")) return malformed("credentials have no colon");
    if (!isSameText(text, source)) {
      return {
        ...demand,
        detail: `wrong credentials for user ${
          JSON.stringify(text.slice(0, text.indexOf(":")))
        }`,
      };
    }
    return undefined;
  };
}

/**
 * `ExpectOrigin`: the `Origin` header must be one of the listed origins,
 * compared as text.
 *
 * @example
 * ```ts
 * import { expectOrigin } from "./websockify_auth.ts";
 * import assert from "node:assert/strict";
 * const check = expectOrigin("https://a.example https://b.example");
 * assert.equal(check(new Map([["origin", "https://b.example"]])), undefined);
 * assert.equal(check(new Map([["origin", "https://evil.example"]]))?.status, 403);
 * assert.equal(check(new Map())?.status, 403);
 * ```
 *
 * @param source The origins separated by whitespace, the `--auth-source`.
 * @returns The check; headers are keyed in lower case.
 */
export function expectOrigin(source: string): AuthCheck {
  const expected = source.split(/\s+/).filter((origin) => origin !== "");
  return (headers) => {
    const origin = headers.get("origin");
    if (origin !== undefined && expected.includes(origin)) return undefined;
    return {
      status: 403,
      body: "Invalid Origin",
      headers: {},
      detail: `invalid Origin: expected one of ${
        JSON.stringify(expected)
      }, got ${JSON.stringify(origin ?? null)}`,
    };
  };
}

function malformed(detail: string): AuthRefusal {
  return { status: 403, body: "Forbidden", headers: {}, detail };
}

/** Compares without stopping at the first difference. */
function isSameText(a: string, b: string): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    difference |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  }
  return difference === 0;
}
