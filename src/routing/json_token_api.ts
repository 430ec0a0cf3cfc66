/**
 * websockify's `JSONTokenApi`: the token is put in place of `%s` in a URL,
 * fetched, and a 2xx JSON answer `{"host": ..., "port": ...}` names the
 * target; a 4xx or a bad answer refuses the token (404). An API that cannot
 * be reached, answers later than `timeoutMs` or fails with a 5xx refuses
 * with 503 (fail closed: retry later). Needs `--allow-net` for the URL's
 * host.
 *
 * @module
 */

import {
  hostPortTarget,
  type TokenResolution,
  type TokenResolver,
  unknownToken,
} from "./token_resolver.ts";

/** Options of {@linkcode JsonTokenApiResolver}. */
export interface JsonTokenApiResolverOptions {
  /**
   * The longest wait for the answer, in ms.
   * @default {5000}
   */
  timeoutMs?: number;
}

/**
 * Resolves tokens by asking an HTTP API.
 *
 * @example
 * ```ts
 * import { JsonTokenApiResolver } from "./json_token_api.ts";
 * import assert from "node:assert/strict";
 * await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) =>
 *   new URL(request.url).pathname === "/t/vm1"
 *     ? Response.json({ host: "10.0.0.5", port: 5901 })
 *     : new Response("no", { status: 404 }));
 * const resolver = new JsonTokenApiResolver(`http://127.0.0.1:${server.addr.port}/t/%s`);
 * assert.deepEqual(await resolver.resolve("vm1"), { kind: "target", target: { transport: "tcp", hostname: "10.0.0.5", port: 5901 } });
 * assert.equal((await resolver.resolve("vm2")).kind, "refuse");
 * ```
 */
export class JsonTokenApiResolver implements TokenResolver {
  #urlTemplate: string;
  #timeoutMs: number;

  /**
   * Constructs the resolver.
   * @param urlTemplate The URL with `%s` where the token goes.
   * @param options The timeout.
   */
  constructor(urlTemplate: string, options: JsonTokenApiResolverOptions = {}) {
    if (!urlTemplate.includes("%s")) {
      throw new SyntaxError(
        `Cannot use the JSONTokenApi URL as it must contain %s: current value is ${
          JSON.stringify(urlTemplate)
        }`,
      );
    }
    this.#urlTemplate = urlTemplate;
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  /**
   * Asks the API for the token's target.
   * @param token The token (URL-encoded into the URL).
   * @returns The target, 404 for a refused token, 503 when the API fails.
   */
  async resolve(token: string): Promise<TokenResolution> {
    const url = this.#urlTemplate.replace("%s", encodeURIComponent(token));
    let response: Response;
    try {
      response = await fetch(url, {
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      return apiUnavailable(`${url}: ${(error as Error).message}`);
    }
    if (response.status >= 500) {
      await response.body?.cancel();
      return apiUnavailable(`${url} answered ${response.status}`);
    }
    if (!response.ok) {
      await response.body?.cancel();
      return unknownToken(token, `JSONTokenApi answered ${response.status}`);
    }
    let json: unknown;
    try {
      json = await response.json();
    } catch {
      return unknownToken(token, "JSONTokenApi answer is not JSON");
    }
    const { host, port } = (json ?? {}) as Record<string, unknown>;
    const target = hostPortTarget(host, port);
    if (target === undefined) {
      return unknownToken(token, "JSONTokenApi answer lacks host and port");
    }
    return { kind: "target", target };
  }
}

/** A 503 for an API that cannot answer now: no target is guessed. */
function apiUnavailable(detail: string): TokenResolution {
  return {
    kind: "refuse",
    status: 503,
    body: "Token lookup failed",
    detail: `token_api_unavailable: JSONTokenApi ${detail}`,
    headers: { "retry-after": "1" },
  };
}
