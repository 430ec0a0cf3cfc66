/**
 * The `Origin` check of the WebSocket upgrade, compiled once from the
 * configured list into an {@linkcode OriginPolicy}.
 *
 * Decisions:
 * - No list (or an empty one) means same-origin only: the Origin's host and
 *   port must equal the `Host` header's (case-insensitive, default ports
 *   80/443 normalised). The scheme is not compared, because behind a TLS
 *   terminator the gateway cannot know the scheme the browser used.
 * - `"*"` (or a list containing `"*"`) allows every origin.
 * - Exact entries are `scheme://host[:port]`; `scheme://*.suffix[:port]`
 *   matches one or more labels in front of `suffix`, never `suffix` itself.
 *   Scheme and port must match exactly.
 * - A request without `Origin` cannot come from a browser (browsers always
 *   send it on WebSocket upgrades), so it cannot be cross-site request
 *   forgery: it is allowed by default, with the reason `"no-origin"` so the
 *   caller can log it or refuse it (`allowMissingOrigin: false`).
 * - `Origin: null` (sandboxed frames, `file:` pages) is only allowed by
 *   `"*"`.
 * - Same-origin only on a loopback listener (`listenHostname` is
 *   `localhost`, `127.x.x.x` or `::1`): a browser request must also name a
 *   loopback host (`localhost`, `127.x.x.x`, `[::1]`) on the listen port in
 *   its `Host` header. A page on a name the attacker re-points at 127.0.0.1
 *   (DNS rebinding) sends a matching `Origin` and `Host`, which would
 *   otherwise pass.
 *
 * Pure: no `Deno.*`.
 *
 * @module
 */

import { boundedMemo, memoized } from "./_bounded_memo.ts";
import { isLoopbackHostname } from "./ip_address.ts";

/** Why an {@linkcode OriginPolicy} allowed or refused a request. */
export type OriginReason =
  /** Allowed: the policy is `"*"`. */
  | "any"
  /** Allowed: the origin matches a listed entry. */
  | "listed"
  /** Allowed: no list, and the origin matches the `Host` header. */
  | "same-origin"
  /** No `Origin` header: allowed unless `allowMissingOrigin` is false. */
  | "no-origin"
  /** Refused: a list is configured and the origin matches no entry. */
  | "not-listed"
  /** Refused: no list, and the origin differs from the `Host` header. */
  | "cross-origin"
  /**
   * Refused: no list, a loopback listener, and the `Host` header is not a
   * loopback name or address on the listen port (DNS rebinding).
   */
  | "non-loopback-host"
  /** Refused: `Origin: null`. */
  | "opaque"
  /** Refused: the `Origin` header is not a valid origin. */
  | "malformed";

/** The verdict of an {@linkcode OriginPolicy}. */
export interface OriginCheck {
  /** Whether the upgrade may proceed; refuse with 403 otherwise. */
  readonly allowed: boolean;
  /** Why, for the log. */
  readonly reason: OriginReason;
  /** The normalised origin, or `null` when absent, opaque or malformed. */
  readonly origin: string | null;
}

/**
 * A compiled origin check.
 * @param origin The `Origin` header value, or `null` when absent.
 * @param host The `Host` header value, or `null` when absent.
 * @param listenPort The port the request came in on, which a loopback
 * listener's `Host` must name; `undefined` skips the port comparison.
 * @returns The verdict.
 */
export type OriginPolicy = (
  origin: string | null,
  host: string | null,
  listenPort?: number,
) => OriginCheck;

/** Options of {@linkcode compileOriginPolicy}. */
export interface OriginPolicyOptions {
  /**
   * Whether a request without an `Origin` header (a non-browser client) is
   * allowed.
   * @default {true}
   */
  allowMissingOrigin?: boolean;
  /**
   * The address the gateway listens on. When it is a loopback address and
   * no origins are listed, browser requests must name a loopback host in
   * `Host` (DNS rebinding defence).
   * @default {undefined} (no `Host` check beyond same-origin)
   */
  listenHostname?: string;
}

/** A parsed, normalised origin. */
interface ParsedOrigin {
  /** Lower-case scheme without `:`. */
  readonly scheme: string;
  /** Lower-case host name (IPv6 in brackets, IDN as punycode). */
  readonly hostname: string;
  /** The port as text; `""` for the scheme's default port. */
  readonly port: string;
  /** The serialised origin, e.g. `https://app.example.com:8443`. */
  readonly text: string;
}

/** Default ports of the schemes whose host part the URL parser understands. */
const DEFAULT_PORTS: ReadonlyMap<string, string> = new Map([
  ["http", "80"],
  ["https", "443"],
  ["ws", "80"],
  ["wss", "443"],
]);

/**
 * Compiles the allowed origins into a matcher. Entries are validated here:
 * a bad entry (a path, a misplaced `*`, no scheme...) throws a `TypeError`.
 *
 * @example Usage
 * ```ts
 * import { compileOriginPolicy } from "./origin_policy.ts";
 * import assert from "node:assert/strict";
 * const check = compileOriginPolicy(["https://app.example.com", "https://*.example.org"]);
 * assert.equal(check("https://APP.example.com:443", "gw.example.com").allowed, true);
 * assert.equal(check("https://a.b.example.org", null).allowed, true);
 * assert.equal(check("https://example.org", null).reason, "not-listed");
 * assert.equal(check(null, "gw.example.com").reason, "no-origin");
 * const sameOrigin = compileOriginPolicy(undefined);
 * assert.equal(sameOrigin("http://gw.example.com", "GW.example.com:80").allowed, true);
 * assert.equal(sameOrigin("https://evil.example", "gw.example.com").allowed, false);
 * // On a loopback listener, Host must be a loopback name on the listen port.
 * const loopback = compileOriginPolicy(undefined, { listenHostname: "127.0.0.1" });
 * assert.equal(loopback("http://localhost:8080", "localhost:8080", 8080).allowed, true);
 * const rebound = loopback("http://rebind.example:8080", "rebind.example:8080", 8080);
 * assert.equal(rebound.reason, "non-loopback-host");
 * ```
 *
 * @param allowed The allowed origins, `"*"` for any, or `undefined` (or an
 * empty list) for same-origin only.
 * @param options Whether requests without `Origin` are allowed, and the
 * listen address.
 * @returns The compiled policy.
 */
export function compileOriginPolicy(
  allowed: readonly string[] | "*" | undefined,
  options: OriginPolicyOptions = {},
): OriginPolicy {
  const { allowMissingOrigin = true, listenHostname } = options;
  if (allowed !== undefined && allowed !== "*" && !Array.isArray(allowed)) {
    throw new TypeError(
      `Cannot compile origin policy as the allowed origins must be a list or "*": current value is ${
        String(allowed)
      }`,
    );
  }
  const allowAll = allowed === "*" || (allowed?.includes("*") ?? false);
  const exact = new Set<string>();
  const wildcards: { scheme: string; suffix: string; port: string }[] = [];
  if (!allowAll && allowed !== undefined) {
    for (const entry of allowed) {
      if (typeof entry !== "string") {
        throw new TypeError(
          `Cannot compile origin policy as an allowed origin must be a string: current value is ${
            String(entry)
          }`,
        );
      }
      const star = entry.indexOf("*");
      if (star < 0) {
        exact.add((parseOrigin(entry) ?? failPattern(entry)).text);
        continue;
      }
      // Only `scheme://*.rest`: one `*`, alone as the leftmost label.
      const schemeEnd = entry.indexOf("://");
      if (
        schemeEnd < 0 || star !== schemeEnd + 3 || entry[star + 1] !== "." ||
        entry.indexOf("*", star + 1) >= 0
      ) {
        failPattern(entry);
      }
      const probe = parseOrigin(
        entry.slice(0, star) + "x" + entry.slice(star + 1),
      );
      if (
        probe === undefined || !DEFAULT_PORTS.has(probe.scheme) ||
        probe.hostname.startsWith("[") || !probe.hostname.startsWith("x.")
      ) {
        failPattern(entry);
      }
      wildcards.push({
        scheme: probe.scheme,
        suffix: probe.hostname.slice(1),
        port: probe.port,
      });
    }
  }
  const sameOriginOnly = !allowAll && exact.size === 0 &&
    wildcards.length === 0;
  const isHostChecked = sameOriginOnly && listenHostname !== undefined &&
    isLoopbackHostname(listenHostname);

  function isListed(origin: ParsedOrigin): boolean {
    if (exact.has(origin.text)) return true;
    return wildcards.some((pattern) =>
      pattern.scheme === origin.scheme && pattern.port === origin.port &&
      origin.hostname.length > pattern.suffix.length &&
      origin.hostname.endsWith(pattern.suffix)
    );
  }

  return function checkOrigin(origin, host, listenPort) {
    if (origin === null) {
      return {
        allowed: allowAll || allowMissingOrigin,
        reason: "no-origin",
        origin: null,
      };
    }
    if (allowAll) {
      return {
        allowed: true,
        reason: "any",
        origin: parseOrigin(origin)?.text ?? null,
      };
    }
    if (origin === "null") {
      return { allowed: false, reason: "opaque", origin: null };
    }
    const parsed = parseOrigin(origin);
    if (parsed === undefined) {
      return { allowed: false, reason: "malformed", origin: null };
    }
    if (isHostChecked && !isLoopbackHost(parsed, host, listenPort)) {
      return {
        allowed: false,
        reason: "non-loopback-host",
        origin: parsed.text,
      };
    }
    if (sameOriginOnly) {
      return isSameOrigin(parsed, host)
        ? { allowed: true, reason: "same-origin", origin: parsed.text }
        : { allowed: false, reason: "cross-origin", origin: parsed.text };
    }
    return isListed(parsed)
      ? { allowed: true, reason: "listed", origin: parsed.text }
      : { allowed: false, reason: "not-listed", origin: parsed.text };
  };
}

/** Throws the `TypeError` for a bad allowed-origin entry. */
function failPattern(entry: string): never {
  throw new TypeError(
    `Cannot compile origin policy as allowed origin "${entry}" is invalid: expected "scheme://host[:port]" or "scheme://*.suffix[:port]" without a path`,
  );
}

/**
 * Parses and normalises `scheme://host[:port]`: lower case, default port
 * removed, IDN as punycode, IPv6 compressed. Anything more (path, query,
 * fragment, user info, spaces) is refused: `undefined`.
 */
function parseOrigin(text: string): ParsedOrigin | undefined {
  return memoized(PARSED_ORIGINS, text, parseOriginUncached);
}

// The same few origins and hosts come with every session: parse each once.
const PARSED_ORIGINS = boundedMemo<ParsedOrigin>(256);
const PARSED_HOSTS = boundedMemo<ParsedHost>(256);

function parseOriginUncached(text: string): ParsedOrigin | undefined {
  const schemeEnd = text.indexOf("://");
  if (schemeEnd < 1) return undefined;
  const scheme = text.slice(0, schemeEnd).toLowerCase();
  if (!isScheme(scheme)) return undefined;
  const authority = text.slice(schemeEnd + 3);
  if (authority.length === 0) return undefined;
  for (const char of authority) {
    if ("/?#@\\ \t\r\n".includes(char)) return undefined;
  }
  let url: URL;
  try {
    url = new URL(`${scheme}://${authority}`);
  } catch {
    return undefined;
  }
  if (!DEFAULT_PORTS.has(scheme)) {
    // Browser extension and app origins: the host is opaque; compare it as
    // lower-case text.
    const lower = `${scheme}://${authority.toLowerCase()}`;
    return { scheme, hostname: authority.toLowerCase(), port: "", text: lower };
  }
  const hostname = url.hostname;
  if (hostname.length === 0 || hostname.split(".").includes("")) {
    return undefined;
  }
  const port = url.port;
  const hostPart = port === "" ? hostname : `${hostname}:${port}`;
  return { scheme, hostname, port, text: `${scheme}://${hostPart}` };
}

/** Tells whether `text` is a lower-case URL scheme (`[a-z][a-z0-9+.-]*`). */
function isScheme(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    const isLetter = char >= "a" && char <= "z";
    if (
      i === 0
        ? !isLetter
        : !(isLetter || (char >= "0" && char <= "9") || "+.-".includes(char))
    ) {
      return false;
    }
  }
  return text.length > 0;
}

/**
 * Compares an origin with the `Host` header. A `Host` without a port
 * matches an origin on its scheme's default port; with a port, the origin's
 * effective port must equal it.
 */
function isSameOrigin(origin: ParsedOrigin, host: string | null): boolean {
  const defaultPort = DEFAULT_PORTS.get(origin.scheme);
  if (host === null || defaultPort === undefined) return false;
  const parsed = parseHostHeader(host);
  if (parsed === undefined || parsed.hostname !== origin.hostname) return false;
  if (parsed.port === undefined) return origin.port === "";
  return parsed.port === (origin.port === "" ? defaultPort : origin.port);
}

/**
 * Tells whether the `Host` header names a loopback host on `listenPort`
 * (a `Host` without a port means the origin scheme's default port).
 */
function isLoopbackHost(
  origin: ParsedOrigin,
  host: string | null,
  listenPort: number | undefined,
): boolean {
  const parsed = host === null ? undefined : parseHostHeader(host);
  if (parsed === undefined || !isLoopbackHostname(parsed.hostname)) {
    return false;
  }
  if (listenPort === undefined) return true;
  const port = parsed.port ?? DEFAULT_PORTS.get(origin.scheme);
  return port === String(listenPort);
}

interface ParsedHost {
  hostname: string;
  port: string | undefined;
}

/** Parses `host`, `host:port`, `[v6]` or `[v6]:port`, normalising the host. */
function parseHostHeader(text: string): ParsedHost | undefined {
  return memoized(PARSED_HOSTS, text, parseHostHeaderUncached);
}

function parseHostHeaderUncached(text: string): ParsedHost | undefined {
  let hostText: string;
  let portText: string | undefined;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) return undefined;
    hostText = text.slice(0, close + 1);
    const rest = text.slice(close + 1);
    if (rest !== "" && !rest.startsWith(":")) return undefined;
    portText = rest === "" ? undefined : rest.slice(1);
  } else {
    const colon = text.indexOf(":");
    if (colon >= 0 && text.indexOf(":", colon + 1) >= 0) return undefined;
    hostText = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
  }
  let port: string | undefined;
  if (portText !== undefined) {
    if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) {
      return undefined;
    }
    port = String(Number(portText));
  }
  for (const char of hostText) {
    if ("/?#@\\ \t\r\n".includes(char)) return undefined;
  }
  try {
    const hostname = new URL(`http://${hostText}`).hostname;
    return hostname === "" ? undefined : { hostname, port };
  } catch {
    return undefined;
  }
}

/**
 * The startup warning for a gateway that others can reach while it checks
 * origins only against its own Host header (the default): a page on a
 * domain the attacker points at the gateway (DNS rebinding) sends a matching
 * Host and passes.
 *
 * @example
 * ```ts
 * import { sameOriginExposureWarning } from "./origin_policy.ts";
 * import assert from "node:assert/strict";
 * assert.equal(sameOriginExposureWarning(undefined, "127.0.0.1"), undefined);
 * assert.match(sameOriginExposureWarning(undefined, "0.0.0.0") ?? "", /allowOrigins/);
 * assert.equal(sameOriginExposureWarning(["https://app.example"], "0.0.0.0"), undefined);
 * ```
 *
 * @param allowed The configured allowed origins (`undefined` or an empty
 * list mean same-origin).
 * @param listenHostname The address the gateway listens on.
 * @returns The warning, or `undefined` when there is nothing to warn about.
 */
export function sameOriginExposureWarning(
  allowed: readonly string[] | "*" | undefined,
  listenHostname: string,
): string | undefined {
  const isSameOrigin = allowed === undefined ||
    (Array.isArray(allowed) && allowed.length === 0);
  if (!isSameOrigin || isLoopbackHostname(listenHostname)) return undefined;
  return `origins are checked against the Host header only (same-origin), ` +
    `which a DNS-rebinding page can match: list the pages allowed to connect ` +
    `with allowOrigins (--allow-origin) when listening on ${listenHostname}`;
}
