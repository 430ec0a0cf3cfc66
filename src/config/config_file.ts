/**
 * The config file schema: a JSON (JSONC) object whose top-level keys are the
 * twins of the CLI flags (the rows of `cli/cli_settings.ts`, passed in) plus
 * `routes`. Converts a
 * parsed file into gateway options, reporting every problem with its path,
 * e.g. `routes[2].framing: ...`. Pure.
 *
 * @module
 */

import type { RouteOptions } from "./config.ts";
import {
  convertValue,
  type SettingDefinition,
  type SettingTargets,
} from "./settings.ts";
import { parseFramingSpec } from "../framing/spec.ts";
import { parseTarget } from "./config.ts";
import { ROUTE_TIMERS } from "./route_options.ts";
import { compileBackendPolicy } from "../security/backend_policy.ts";

/** The route keys of the config file and what they hold. */
const ROUTE_KEYS: Record<string, string> = {
  path: "the exact URL path, e.g. /vnc",
  target: "HOST:PORT or unix:/path",
  framing: "framing SPEC for both directions",
  framingToBackend: "framing SPEC browser -> backend",
  framingToBrowser: "framing SPEC backend -> browser",
  subprotocols: "list of accepted Sec-WebSocket-Protocol values",
  buffer: "high-water mark per direction, e.g. 256k",
  maxMessage: "largest browser message, e.g. 1m",
  heartbeat: '{ "interval": "30s", "hex": "00000000" }',
  ...Object.fromEntries(
    ROUTE_TIMERS.flatMap(({ fileKey, fileHelp }) =>
      fileKey === undefined ? [] : [[fileKey, fileHelp]]
    ),
  ),
  tokens: 'websockify token file or directory, or "redis"',
  tokenPrefix: 'key prefix of the tokens with "tokens": "redis"',
  tokenCacheTtl: 'how long a Redis token lookup is reused, e.g. "5s"',
  tokenStore: "redis:// URL of the tokens when not the gateway's store",
  tokenApi: '{ "jwtKeyFile": FILE } or { "jsonUrl": URL with %s }',
  hostToken: "true to take the token from the Host header",
  dynamic: '{ "hosts": [...], "cidrs": [...], "ports": [...] }',
  ticket: "true to require a signed ticket",
  singleUseTickets: "true to refuse a reused ticket jti",
  proxyProtocol: '"v1" or "v2"',
  tls: 'true, or { "ca": FILE, "serverName": NAME }, for TLS to the backend',
  record: "directory for session recordings",
  compression:
    '"off", "on", or { "contextTakeover", "level", "minSize", "maxWindowBits" }',
};

/** What {@linkcode applyConfigFile} applies a file with, and to. */
export interface ConfigFileContext<T extends SettingTargets> {
  /** The settings the file's top-level keys name (the CLI's table). */
  settings: readonly SettingDefinition<T>[];
  /** Where settings land. */
  targets: T;
  /** Collects one line per problem. */
  problems: string[];
}

/**
 * Applies a parsed config file onto `targets`, pushing one line per problem.
 *
 * @example
 * ```ts
 * import { applyConfigFile } from "./config_file.ts";
 * import assert from "node:assert/strict";
 * const targets = { options: {}, route: {}, baseDir: "/etc/wsgate" };
 * const problems: string[] = [];
 * applyConfigFile({ routes: [{ path: "/a", target: "127.0.0.1:1", framing: "u7" }], colour: "red" }, {
 *   settings: [],
 *   targets,
 *   problems,
 * });
 * assert.match(problems[0]!, /^colour: unknown setting/);
 * assert.match(problems[1]!, /^routes\[0\]\.framing: /);
 * ```
 *
 * @param file The parsed file.
 * @param context The settings table, the targets and the problem list.
 */
export function applyConfigFile<T extends SettingTargets>(
  file: unknown,
  context: ConfigFileContext<T>,
): void {
  const { settings, targets, problems } = context;
  if (!isObject(file)) {
    problems.push("config: must be a JSON object");
    return;
  }
  const byKey = new Map(settings.map((setting) => [setting.key, setting]));
  for (const [key, value] of Object.entries(file)) {
    if (key === "routes") continue;
    const setting = byKey.get(key);
    if (setting === undefined) {
      problems.push(
        `${key}: unknown setting (expected one of ${
          [...byKey.keys(), "routes"].join(", ")
        })`,
      );
      continue;
    }
    applySetting(setting, value, key, targets, problems);
  }
  if (file.routes === undefined) return;
  if (!Array.isArray(file.routes)) {
    problems.push("routes: must be a list of route objects");
    return;
  }
  const routes = targets.options.routes ?? [];
  file.routes.forEach((raw: unknown, index: number) => {
    const route = convertRoute(
      raw,
      `routes[${index}]`,
      targets.baseDir,
      problems,
    );
    if (route !== undefined) routes.push(route);
  });
  targets.options.routes = routes;
}

/** Parses one setting value and applies it, or records the problem. */
export function applySetting<T extends SettingTargets>(
  setting: SettingDefinition<T>,
  raw: unknown,
  at: string,
  targets: T,
  problems: string[],
): void {
  try {
    setting.apply(convertValue(setting, raw), targets);
  } catch (error) {
    problems.push(
      `${at}: invalid value ${JSON.stringify(raw)} (${
        (error as Error).message
      })`,
    );
  }
}

function convertRoute(
  raw: unknown,
  at: string,
  baseDir: string,
  problems: string[],
): RouteOptions | undefined {
  if (!isObject(raw)) {
    problems.push(`${at}: must be an object`);
    return undefined;
  }
  const before = problems.length;
  const route: RouteOptions = { path: "" };
  const text = (key: string): string | undefined => {
    const value = raw[key];
    if (value === undefined) return undefined;
    if (typeof value !== "string" || value === "") {
      problems.push(`${at}.${key}: must be ${ROUTE_KEYS[key]}`);
      return undefined;
    }
    return value;
  };
  const duration = (key: string, value: unknown): number | undefined =>
    convertAt(at, key, "duration", value, problems) as number | undefined;
  for (const key of Object.keys(raw)) {
    if (!(key in ROUTE_KEYS)) {
      problems.push(
        `${at}.${key}: unknown route setting (expected one of ${
          Object.keys(ROUTE_KEYS).join(", ")
        })`,
      );
    }
  }
  const path = text("path");
  if (path === undefined) {
    if (raw.path === undefined) {
      problems.push(`${at}.path: missing (expected ${ROUTE_KEYS.path})`);
    }
  } else if (!path.startsWith("/")) {
    problems.push(
      `${at}.path: must start with "/": current value is ${
        JSON.stringify(path)
      }`,
    );
  } else route.path = path;
  const target = text("target");
  if (target !== undefined) {
    try {
      parseTarget(target);
      route.target = target;
    } catch (error) {
      problems.push(`${at}.target: ${(error as Error).message}`);
    }
  }
  for (
    const key of ["framing", "framingToBackend", "framingToBrowser"] as const
  ) {
    const spec = text(key);
    if (spec === undefined) continue;
    try {
      parseFramingSpec(spec);
      route[key] = spec;
    } catch (error) {
      problems.push(`${at}.${key}: ${(error as Error).message}`);
    }
  }
  if (raw.subprotocols !== undefined) {
    if (
      Array.isArray(raw.subprotocols) &&
      raw.subprotocols.every((item: unknown) => typeof item === "string")
    ) {
      route.subprotocols = raw.subprotocols as string[];
    } else {problems.push(
        `${at}.subprotocols: must be ${ROUTE_KEYS.subprotocols}`,
      );}
  }
  if (raw.buffer !== undefined) {
    const value = convertAt(at, "buffer", "bytes", raw.buffer, problems);
    if (value !== undefined) route.bufferBytes = value as number;
  }
  if (raw.maxMessage !== undefined) {
    const value = convertAt(
      at,
      "maxMessage",
      "bytes",
      raw.maxMessage,
      problems,
    );
    if (value !== undefined) route.maxMessageBytes = value as number;
  }
  if (raw.heartbeat !== undefined) {
    const heartbeat = raw.heartbeat;
    if (!isObject(heartbeat)) {
      problems.push(`${at}.heartbeat: must be ${ROUTE_KEYS.heartbeat}`);
    } else {
      checkKeys(heartbeat, ["interval", "hex"], `${at}.heartbeat`, problems);
      if (
        typeof heartbeat.hex === "string" &&
        !/^([0-9a-fA-F]{2}|\s)*$/.test(heartbeat.hex)
      ) {
        problems.push(
          `${at}.heartbeat.hex: must be pairs of hex digits: current value is ${
            JSON.stringify(heartbeat.hex)
          }`,
        );
      }
      const interval = duration("heartbeat.interval", heartbeat.interval);
      if (interval !== undefined) route.backendHeartbeatMs = interval;
      if (heartbeat.hex !== undefined) {
        if (typeof heartbeat.hex === "string") {
          route.backendHeartbeatHex = heartbeat.hex;
        } else problems.push(`${at}.heartbeat.hex: must be a hex string`);
      }
    }
  }
  for (const { option, fileKey } of ROUTE_TIMERS) {
    if (fileKey === undefined || raw[fileKey] === undefined) continue;
    const value = duration(fileKey, raw[fileKey]);
    if (value !== undefined) route[option] = value;
  }
  const tokens = text("tokens");
  if (tokens !== undefined) {
    route.tokens = tokens === "redis" ? tokens : resolvePath(baseDir, tokens);
  }
  const tokenPrefix = text("tokenPrefix");
  if (tokenPrefix !== undefined) route.tokenPrefix = tokenPrefix;
  const tokenStore = text("tokenStore");
  if (tokenStore !== undefined) route.tokenStore = tokenStore;
  if (raw.tokenCacheTtl !== undefined) {
    const value = duration("tokenCacheTtl", raw.tokenCacheTtl);
    if (value !== undefined) route.tokenCacheTtlMs = value;
  }
  if (raw.tokenApi !== undefined) {
    const api = raw.tokenApi;
    if (
      isObject(api) &&
      checkKeys(api, ["jwtKeyFile", "jsonUrl"], `${at}.tokenApi`, problems) &&
      Object.keys(api).length === 1
    ) {
      if (typeof api.jwtKeyFile === "string" && api.jwtKeyFile !== "") {
        route.tokenApi = { jwtKeyFile: resolvePath(baseDir, api.jwtKeyFile) };
      } else if (typeof api.jsonUrl === "string" && api.jsonUrl !== "") {
        route.tokenApi = { jsonUrl: api.jsonUrl };
      } else problems.push(`${at}.tokenApi: must be ${ROUTE_KEYS.tokenApi}`);
    } else if (!isObject(api) || Object.keys(api).length !== 1) {
      problems.push(`${at}.tokenApi: must be ${ROUTE_KEYS.tokenApi}`);
    }
  }
  if (raw.hostToken !== undefined) {
    if (typeof raw.hostToken === "boolean") route.hostToken = raw.hostToken;
    else problems.push(`${at}.hostToken: must be true or false`);
  }
  if (raw.dynamic !== undefined) {
    const dynamic = raw.dynamic;
    if (!isObject(dynamic)) {
      problems.push(`${at}.dynamic: must be ${ROUTE_KEYS.dynamic}`);
    } else if (
      checkKeys(
        dynamic,
        ["hosts", "cidrs", "ports"],
        `${at}.dynamic`,
        problems,
      ) &&
      checkLists(dynamic, `${at}.dynamic`, problems)
    ) {
      try {
        compileBackendPolicy(dynamic);
      } catch (error) {
        problems.push(`${at}.dynamic: ${(error as Error).message}`);
      }
      route.dynamic = {
        ...(dynamic.hosts === undefined
          ? {}
          : { hosts: dynamic.hosts as string[] }),
        ...(dynamic.cidrs === undefined
          ? {}
          : { cidrs: dynamic.cidrs as string[] }),
        ...(dynamic.ports === undefined
          ? {}
          : { ports: dynamic.ports as string[] }),
      };
    }
  }
  for (const key of ["ticket", "singleUseTickets"] as const) {
    if (raw[key] === undefined) continue;
    if (typeof raw[key] !== "boolean") {
      problems.push(`${at}.${key}: must be true or false`);
    } else if (key === "ticket") route.requireTicket = raw[key];
    else route.singleUseTickets = raw[key];
  }
  if (raw.proxyProtocol !== undefined) {
    if (raw.proxyProtocol === "v1" || raw.proxyProtocol === "v2") {
      route.proxyProtocol = raw.proxyProtocol;
    } else {problems.push(
        `${at}.proxyProtocol: must be ${ROUTE_KEYS.proxyProtocol}`,
      );}
  }
  if (raw.compression !== undefined) {
    const value = raw.compression;
    if (value === "off" || value === "on" || isObject(value)) {
      route.compression = value as NonNullable<RouteOptions["compression"]>;
    } else {
      problems.push(`${at}.compression: must be ${ROUTE_KEYS.compression}`);
    }
  }
  if (raw.tls !== undefined) {
    const tls = raw.tls;
    if (typeof tls === "boolean") route.backendTls = tls;
    else if (!isObject(tls)) {
      problems.push(`${at}.tls: must be ${ROUTE_KEYS.tls}`);
    } else if (checkKeys(tls, ["ca", "serverName"], `${at}.tls`, problems)) {
      if (tls.ca !== undefined && typeof tls.ca !== "string") {
        problems.push(`${at}.tls.ca: must be a file path`);
      } else if (
        tls.serverName !== undefined && typeof tls.serverName !== "string"
      ) {
        problems.push(`${at}.tls.serverName: must be a host name`);
      } else {
        route.backendTls = {
          ...(typeof tls.ca === "string"
            ? { caFile: resolvePath(baseDir, tls.ca) }
            : {}),
          ...(typeof tls.serverName === "string"
            ? { serverName: tls.serverName }
            : {}),
        };
      }
    }
  }
  const record = text("record");
  if (record !== undefined) route.recordDir = resolvePath(baseDir, record);
  return problems.length > before ? undefined : route;
}

function checkKeys(
  object: Record<string, unknown>,
  allowed: readonly string[],
  at: string,
  problems: string[],
): boolean {
  let isClean = true;
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) {
      problems.push(
        `${at}.${key}: unknown setting (expected one of ${allowed.join(", ")})`,
      );
      isClean = false;
    }
  }
  return isClean;
}

function checkLists(
  object: Record<string, unknown>,
  at: string,
  problems: string[],
): boolean {
  let isClean = true;
  for (const [key, value] of Object.entries(object)) {
    const isList = Array.isArray(value) &&
      value.every((item) =>
        typeof item === "string" ||
        (key === "ports" && typeof item === "number")
      );
    if (!isList) {
      problems.push(
        `${at}.${key}: must be a list${
          key === "ports" ? " of ports or ranges" : " of strings"
        }`,
      );
      isClean = false;
    }
  }
  return isClean;
}

function convertAt(
  at: string,
  key: string,
  kind: "duration" | "bytes",
  value: unknown,
  problems: string[],
): unknown {
  try {
    return convertValue(
      {
        flag: "",
        key,
        kind,
        help: "",
        min: kind === "bytes" ? 1 : 0,
        apply: () => {},
      },
      value,
    );
  } catch (error) {
    problems.push(
      `${at}.${key}: invalid value ${JSON.stringify(value)} (${
        (error as Error).message
      })`,
    );
    return undefined;
  }
}

function resolvePath(baseDir: string, path: string): string {
  return path.startsWith("/") ? path : `${baseDir}/${path}`;
}

// deno-lint-ignore no-explicit-any
function isObject(value: unknown): value is Record<string, any> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
