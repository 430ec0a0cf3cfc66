/**
 * One configuration generation: the resolved configuration compiled once
 * into the upgrade policy, trusted-proxy matcher, static file root and
 * backend TLS settings. A reload builds and loads a new generation
 * and swaps it in whole; sessions keep the generation they started with.
 *
 * @module
 */

import type { ResolvedGatewayConfig } from "../config/config.ts";
import { ConfigError } from "../errors.ts";
import { StaticFiles } from "../http/static_files.ts";
import { compileBackendPolicy } from "../security/backend_policy.ts";
import { ReplayCache } from "../security/replay_cache.ts";
import type { StoreClientPool } from "../store/store_client_pool.ts";
import type { BackendTlsSettings } from "./backend_connect.ts";
import { UpgradePolicy } from "./upgrade_policy.ts";

/** One configuration generation: everything a reload swaps at once. */
export interface Generation {
  /** The resolved configuration this generation was built from. */
  config: ResolvedGatewayConfig;
  /** The compiled upgrade checks. */
  policy: UpgradePolicy;
  /** Whether an address is a trusted front proxy; undefined when none are. */
  trustedProxies: ((ip: string) => boolean) | undefined;
  /** The static file root, once {@linkcode initGeneration} opened it. */
  staticFiles: StaticFiles | undefined;
  /** Backend TLS settings by route path, filled by {@linkcode initGeneration}. */
  backendTls: Map<string, BackendTlsSettings>;
}

/** Options of {@linkcode buildGeneration}. */
export interface BuildGenerationOptions {
  /**
   * The process's used single-use ticket ids, kept across reloads.
   * @default {a new ReplayCache}
   */
  replayCache?: ReplayCache;
  /**
   * The process's Redis clients for token lookups, kept across reloads.
   * @default {a new StoreClientPool, never closed}
   */
  storeClients?: StoreClientPool;
}

/**
 * Compiles a resolved configuration into a generation without touching the
 * disk; {@linkcode initGeneration} loads the rest.
 *
 * @example Trusted proxies become a matcher
 * ```ts
 * import { buildGeneration } from "./generation.ts";
 * import { resolveOptions } from "../config/config.ts";
 * import assert from "node:assert/strict";
 * const generation = buildGeneration(resolveOptions({
 *   routes: [{ path: "/", target: "127.0.0.1:9" }],
 *   trustedProxies: ["10.0.0.0/8"],
 * }));
 * assert.equal(generation.trustedProxies?.("10.1.2.3"), true);
 * assert.equal(generation.trustedProxies?.("192.0.2.1"), false);
 * ```
 *
 * @param config The resolved configuration.
 * @param options The process state a reload carries over.
 * @returns The generation, not yet initialised.
 */
export function buildGeneration(
  config: ResolvedGatewayConfig,
  options: BuildGenerationOptions = {},
): Generation {
  const policy = new UpgradePolicy(config, {
    replayCache: options.replayCache ?? new ReplayCache(),
    ...(options.storeClients === undefined
      ? {}
      : { storeClients: options.storeClients }),
  });
  const trusted = config.trustedProxies.length === 0
    ? undefined
    : compileBackendPolicy({ cidrs: [...config.trustedProxies] });
  return {
    config,
    policy,
    trustedProxies: trusted === undefined
      ? undefined
      : (ip: string) => trusted.isAllowedAddress(ip, 1),
    staticFiles: undefined,
    backendTls: new Map(),
  };
}

/**
 * Loads what a generation reads from disk (token files, ticket secret,
 * static root, backend CA files) and checks that the TLS files exist.
 * Collects every problem, then throws one `ConfigError`.
 *
 * @example A missing static directory is a ConfigError
 * ```ts
 * import { buildGeneration, initGeneration } from "./generation.ts";
 * import { resolveOptions } from "../config/config.ts";
 * import { ConfigError } from "../errors.ts";
 * import assert from "node:assert/strict";
 * const generation = buildGeneration(resolveOptions({
 *   routes: [{ path: "/", target: "127.0.0.1:9" }],
 *   staticDir: "/nonexistent/wsgate-static",
 * }));
 * await assert.rejects(initGeneration(generation), ConfigError);
 * ```
 *
 * @param generation The generation from {@linkcode buildGeneration}; filled in place.
 * @returns Resolves once everything is loaded.
 */
export async function initGeneration(generation: Generation): Promise<void> {
  const config = generation.config;
  const problems: string[] = [];
  try {
    await generation.policy.init();
  } catch (error) {
    if (error instanceof ConfigError) problems.push(...error.problems);
    else problems.push(String(error));
  }
  if (config.staticDir !== undefined) {
    try {
      generation.staticFiles = await StaticFiles.open(config.staticDir, {
        listDirectories: config.listDirectories,
      });
    } catch (error) {
      // The message names the CLI flag; the path here is the option's.
      const message = (error as Error).message.replace(/^--static: /, "");
      problems.push(`staticDir: ${message}`);
    }
  }
  for (const route of config.routes.values()) {
    if (route.backendTls === undefined) continue;
    const settings: BackendTlsSettings = {};
    if (route.backendTls.serverName !== undefined) {
      settings.serverName = route.backendTls.serverName;
    }
    if (route.backendTls.caFile !== undefined) {
      try {
        settings.caCerts = [await Deno.readTextFile(route.backendTls.caFile)];
      } catch (error) {
        problems.push(
          `route ${route.path}: backendTls.caFile: ${(error as Error).message}`,
        );
      }
    }
    generation.backendTls.set(route.path, settings);
  }
  if (config.tls !== undefined) {
    for (const file of [config.tls.certFile, config.tls.keyFile]) {
      try {
        await Deno.stat(file);
      } catch (error) {
        problems.push(`tls: ${(error as Error).message}`);
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
