/**
 * {@linkcode RouteTokens}: where each token route of a configuration finds
 * its targets, behind the one `TokenResolver` interface: a token file
 * (`tokens: FILE`), Redis (`tokens: "redis"`, websockify's TokenRedis
 * layout), or a token API (`tokenApi`: JWTTokenApi, JSONTokenApi). The
 * token is `?token=`, or the Host header without its port (`hostToken`),
 * read as websockify reads it. Built per configuration generation; the
 * Redis clients come from the process's {@linkcode StoreClientPool}.
 *
 * @module
 */

import type { ResolvedGatewayConfig, ResolvedRoute } from "../config/config.ts";
import { JsonTokenApiResolver } from "../routing/json_token_api.ts";
import { importJwtKey, JwtTokenResolver } from "../routing/jwt_token_api.ts";
import { TokenTable } from "../routing/token_file.ts";
import {
  tokenOfRequest,
  type TokenRequest,
  type TokenResolution,
  type TokenResolver,
  unknownToken,
} from "../routing/token_resolver.ts";
import { RedisTokenResolver } from "../store/redis_token_resolver.ts";
import { RedisTokens } from "../store/redis_tokens.ts";
import type { StoreClientPool } from "../store/store_client_pool.ts";
import {
  DEFAULT_STORE_TIMEOUT_MS,
  readStorePassword,
  resolveStoreOptions,
} from "../store/store_options.ts";
import { parseStoreUrl } from "../store/store_url.ts";

/** A token file as a resolver (404 for a token it does not list). */
class TokenFileResolver implements TokenResolver {
  readonly table: TokenTable;
  constructor(path: string) {
    this.table = new TokenTable(path);
  }
  async resolve(token: string): Promise<TokenResolution> {
    const target = await this.table.lookup(token);
    return target === undefined
      ? unknownToken(token)
      : { kind: "target", target };
  }
}

/**
 * The token routes of one configuration.
 *
 * @example A token file route
 * ```ts
 * import { RouteTokens } from "./route_tokens.ts";
 * import { StoreClientPool } from "../store/store_client_pool.ts";
 * import { resolveOptions } from "../config/config.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/tokens`, "vm1: 10.0.0.5:5901\n");
 * const config = resolveOptions({ routes: [{ path: "/", tokens: `${dir}/tokens` }] });
 * await using pool = new StoreClientPool();
 * const tokens = new RouteTokens(config, pool);
 * assert.deepEqual(await tokens.init(), []);
 * const head = { query: new URLSearchParams("token=vm1"), headers: new Map() };
 * const found = await tokens.resolve(config.routes.get("/")!, head);
 * assert.equal(found.kind === "target" && found.target.transport === "tcp" && found.target.port, 5901);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class RouteTokens {
  #config: ResolvedGatewayConfig;
  #pool: StoreClientPool;
  #resolvers = new Map<string, TokenResolver>();

  /**
   * Collects the token routes; {@linkcode RouteTokens.init} loads them.
   * @param config The resolved configuration.
   * @param pool The process's Redis clients for `tokens: "redis"`.
   */
  constructor(config: ResolvedGatewayConfig, pool: StoreClientPool) {
    this.#config = config;
    this.#pool = pool;
  }

  /** Whether a route takes its target from a token. */
  static isTokenRoute(route: ResolvedRoute): boolean {
    return route.tokens !== undefined || route.tokenApi !== undefined;
  }

  /**
   * Loads token files and JWT keys, reads the store password and sets up
   * each route's resolver.
   * @returns One line per problem (`route /vnc: tokens: ...`); empty when
   * every route is ready.
   */
  async init(): Promise<string[]> {
    const problems: string[] = [];
    for (const route of this.#config.routes.values()) {
      if (!RouteTokens.isTokenRoute(route)) continue;
      try {
        this.#resolvers.set(route.path, await this.#open(route, problems));
      } catch (error) {
        problems.push(`route ${route.path}: ${(error as Error).message}`);
      }
    }
    return problems;
  }

  /**
   * Finds the target of a request's token on a token route; never throws.
   * @param route The route (a token route).
   * @param request The request's query and headers.
   * @returns The target, or the refusal with its log detail.
   */
  async resolve(
    route: ResolvedRoute,
    request: TokenRequest,
  ): Promise<TokenResolution> {
    const token = tokenOfRequest(request, { isHostToken: route.hostToken });
    if (token === undefined) {
      return unknownToken("", route.hostToken ? "no Host" : "no ?token=");
    }
    const resolver = this.#resolvers.get(route.path);
    if (resolver === undefined) {
      return unknownToken(token, "the route's tokens are not loaded");
    }
    return await resolver.resolve(token);
  }

  async #open(
    route: ResolvedRoute,
    problems: string[],
  ): Promise<TokenResolver> {
    const api = route.tokenApi;
    if (api !== undefined) {
      if ("jsonUrl" in api) return new JsonTokenApiResolver(api.jsonUrl);
      const text = await Deno.readTextFile(api.jwtKeyFile).catch((error) => {
        throw new Error(
          `tokenApi.jwtKeyFile: cannot read "${api.jwtKeyFile}": ${error.message}`,
        );
      });
      if (text.includes("-----BEGIN")) {
        throw new Error(
          `tokenApi.jwtKeyFile: "${api.jwtKeyFile}" is a PEM key: only HS256 secrets (base64url) are supported`,
        );
      }
      const key = await importJwtKey(text).catch((error) => {
        throw new Error(`tokenApi.jwtKeyFile: ${error.message}`);
      });
      return new JwtTokenResolver(key);
    }
    if (route.tokens === "redis") return await this.#openRedis(route);
    const file = new TokenFileResolver(route.tokens!);
    try {
      await Deno.stat(route.tokens!);
      await file.table.reload();
      problems.push(
        ...file.table.problems.map((line) => `route ${route.path}: ${line}`),
      );
    } catch (error) {
      problems.push(`route ${route.path}: tokens: ${(error as Error).message}`);
    }
    return file;
  }

  async #openRedis(route: ResolvedRoute): Promise<TokenResolver> {
    const store = this.#config.store;
    let timeoutMs = DEFAULT_STORE_TIMEOUT_MS;
    let client;
    if (route.tokenStore !== undefined) {
      if (store !== undefined) timeoutMs = resolveStoreOptions(store).timeoutMs;
      client = this.#pool.client({
        address: parseStoreUrl(route.tokenStore),
        timeoutMs,
      });
    } else {
      const password = await readStorePassword(store!);
      const options = resolveStoreOptions(
        store!,
        password === undefined ? {} : { password },
      );
      timeoutMs = options.timeoutMs;
      client = this.#pool.client({
        address: options.address,
        ...(options.password === undefined
          ? {}
          : { password: options.password }),
        timeoutMs,
      });
    }
    const tokens = new RedisTokens(client, {
      tokenPrefix: route.tokenPrefix,
      cacheTtlMs: route.tokenCacheTtlMs,
    });
    return new RedisTokenResolver(tokens, { timeoutMs });
  }
}
