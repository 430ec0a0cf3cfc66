/**
 * One setting of the command line and the config file: where it lands
 * ({@linkcode SettingTargets}), how its value is written (the kinds, with
 * the same syntax in both; the file may also use JSON numbers and lists) and
 * how a raw value is converted. The table of every setting is the CLI's
 * (`cli/cli_settings.ts`); the config file applies the rows it is given.
 * Pure.
 *
 * @module
 */

import type { GatewayOptions, RouteOptions } from "./config.ts";
import { parseHostPort, parseTarget } from "./config.ts";
import { parseFramingSpec } from "../framing/spec.ts";

/** Where a setting lands. */
export interface SettingTargets {
  /** Gateway options being built. */
  options: GatewayOptions;
  /** The single route built from --target/--framing (CLI or file top level). */
  route: Partial<RouteOptions>;
  /** The directory relative paths are resolved against. */
  baseDir: string;
}

/** How a setting parses its value. */
export type SettingKind =
  | "address"
  | "listen"
  | "target"
  | "framing"
  | "duration"
  | "bytes"
  | "count"
  | "choice"
  | "list"
  | "path"
  | "name"
  | "flag"
  | "workers";

/**
 * One setting: its flag, its config twin, and how to apply a value to
 * targets of type `T` (the CLI's add its own settings).
 */
export interface SettingDefinition<
  T extends SettingTargets = SettingTargets,
> {
  /** The CLI flag. */
  flag: string;
  /** The config file key. */
  key: string;
  /** The value syntax. */
  kind: SettingKind;
  /** Help text, with the default. */
  help: string;
  /** Allowed values for `choice`. */
  choices?: readonly string[];
  /** Whether the flag may repeat (lists). */
  isRepeatable?: boolean;
  /** The smallest number accepted (bytes and count kinds). @default {0} */
  min?: number;
  /** Stores a parsed value. */
  apply(value: unknown, targets: T): void;
}

/** Expected-value wording per kind, for error lines. */
export const EXPECTED: Record<SettingKind, string> = {
  address: "HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080",
  listen:
    "HOST:PORT or unix:/path, e.g. 127.0.0.1:8080 or unix:/run/wsgate.sock",
  target: "HOST:PORT or unix:/path of the backend, e.g. 127.0.0.1:9000",
  framing: "a framing SPEC such as u32be, raw, lines or varint",
  duration: "a duration such as 20, 20s, 500ms or 5m",
  bytes: "a size such as 65536, 64k or 1m",
  count: "a whole number",
  choice: "one of the listed values",
  list: "a value, or a list in the config file",
  path: "a file path",
  name: "a name",
  flag: "true or false",
  workers: "a number of workers, or auto",
};

/** Parses one raw value for `kind`; throws with the expected form. */
export function convertValue(
  definition: SettingDefinition,
  raw: unknown,
): unknown {
  const { kind } = definition;
  const text = typeof raw === "string"
    ? raw
    : typeof raw === "number"
    ? String(raw)
    : undefined;
  switch (kind) {
    case "address":
      if (text === undefined) break;
      return parseHostPort(text, "address");
    case "listen":
      if (text === undefined) break;
      if (text.startsWith("unix:")) {
        if (text.length === "unix:".length) break;
        return { unixSocket: text.slice("unix:".length) };
      }
      return parseHostPort(text, "address");
    case "target":
      if (text === undefined) break;
      parseTarget(text);
      return text;
    case "path":
    case "name":
      if (typeof raw !== "string" || raw === "") break;
      return raw;
    case "framing":
      if (text === undefined) break;
      parseFramingSpec(text);
      return text;
    case "duration": {
      const ms = text === undefined ? undefined : parseDurationMs(text);
      if (ms === undefined) break;
      return ms;
    }
    case "bytes": {
      const bytes = text === undefined ? undefined : parseByteSize(text);
      if (bytes === undefined) break;
      checkMinimum(definition, bytes);
      return bytes;
    }
    case "count":
      if (text === undefined || !/^\d+$/.test(text)) break;
      checkMinimum(definition, Number(text));
      return Number(text);
    case "workers":
      if (text === "auto") return 0;
      if (text === undefined || !/^[1-9]\d*$/.test(text)) break;
      return Number(text);
    case "choice":
      if (text === undefined || !definition.choices!.includes(text)) {
        throw new TypeError(
          `expected one of ${definition.choices!.join(", ")}`,
        );
      }
      return text;
    case "list": {
      const items = Array.isArray(raw) ? raw : [raw];
      if (items.every((item) => typeof item === "string" && item !== "")) {
        return items;
      }
      break;
    }
    case "flag":
      if (raw === true || raw === "true") return true;
      if (raw === false || raw === "false") return false;
      break;
  }
  throw new TypeError(`expected ${EXPECTED[kind]}`);
}

function checkMinimum(
  definition: SettingDefinition,
  value: number,
): void {
  const min = definition.min ?? 0;
  if (value < min) {
    throw new RangeError(
      `expected ${EXPECTED[definition.kind]}, at least ${min}`,
    );
  }
}

/**
 * Parses a duration: plain seconds, or a number with `ms`, `s`, `m` or `h`.
 *
 * @example
 * ```ts
 * import { parseDurationMs } from "./settings.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([parseDurationMs("20"), parseDurationMs("500ms"), parseDurationMs("x")], [20000, 500, undefined]);
 * ```
 *
 * @param text The duration text.
 * @returns Milliseconds, or undefined when invalid.
 */
export function parseDurationMs(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) return undefined;
  const value = Number(match[1]);
  const unit = match[2] ?? "s";
  const factor = unit === "ms"
    ? 1
    : unit === "s"
    ? 1000
    : unit === "m"
    ? 60000
    : 3600000;
  return Math.round(value * factor);
}

/**
 * Parses a byte size: a whole number with an optional `k` or `m` suffix.
 *
 * @example
 * ```ts
 * import { parseByteSize } from "./settings.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([parseByteSize("64k"), parseByteSize("1m"), parseByteSize("x")], [65536, 1048576, undefined]);
 * ```
 *
 * @param text The size text.
 * @returns Bytes, or undefined when invalid.
 */
export function parseByteSize(text: string): number | undefined {
  const match = /^(\d+)([kKmM])?$/.exec(text.trim());
  if (match === null) return undefined;
  const unit = (match[2] ?? "").toLowerCase();
  return Number(match[1]) *
    (unit === "k" ? 1024 : unit === "m" ? 1024 * 1024 : 1);
}
