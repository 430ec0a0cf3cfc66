/**
 * websockify's token file format (`token: host:port` per line) and a
 * {@linkcode TokenTable} that follows changes to the file, or to a directory
 * of such files, without watchers or timers.
 *
 * Format, as websockify's `ReadOnlyTokenFile` reads it: one `token: target`
 * per line, split at the first colon followed by whitespace; blank lines
 * and lines starting with `#` are ignored; leading and trailing whitespace
 * is dropped. A target is `host:port` (IPv6 as `[::1]:5900` or `::1:5900`),
 * or `unix:/path` (also `unix_socket:/path`, as websockify-based tools
 * write it) for a Unix socket.
 *
 * Change detection: on a lookup, at most once per `checkIntervalMs`, the
 * table stats the file(s) (name, size, mtime, ctime, inode) and reloads when
 * anything differs. A rewrite that keeps size and timestamps (within the
 * file system's timestamp granularity) is caught by re-reading the contents
 * while the newest file is younger than 2 seconds. Nothing stays open
 * between lookups, so there is nothing to close.
 *
 * @module
 */

import { ConfigError } from "../errors.ts";
import { parseIpAddress } from "../security/ip_address.ts";

/** Where a token leads, shaped like `Deno.connect` options. */
export type TokenTarget =
  | {
    /** A TCP backend. */
    readonly transport: "tcp";
    /** The host name or IP address (IPv6 without brackets). */
    readonly hostname: string;
    /** The port, 1-65535. */
    readonly port: number;
  }
  | {
    /** A Unix socket backend. */
    readonly transport: "unix";
    /** The absolute socket path. */
    readonly path: string;
  };

/** The result of {@linkcode parseTokenFile}. */
export interface ParsedTokenFile {
  /** The targets by token. */
  readonly targets: ReadonlyMap<string, TokenTarget>;
  /** One line per bad line, as `source:line: problem`. */
  readonly problems: readonly string[];
}

/** Options of {@linkcode TokenTable} and {@linkcode loadTokenTable}. */
export interface TokenTableOptions {
  /**
   * The least time between two checks of the file(s) for changes, in ms;
   * 0 checks on every lookup.
   * @default {1000}
   */
  checkIntervalMs?: number;
  /**
   * The clock for `checkIntervalMs`, in ms.
   * @default {Date.now}
   */
  now?: () => number;
}

/** Files younger than this may change without changing size or mtime. */
const RACY_WINDOW_MS = 2000;

/**
 * Parses the text of one token file. Bad lines are skipped and reported in
 * `problems`, as websockify does; a repeated token keeps its last target
 * and is reported too.
 *
 * @example Usage
 * ```ts
 * import { parseTokenFile } from "./token_file.ts";
 * import assert from "node:assert/strict";
 * const parsed = parseTokenFile("# VNC\nvm1: 10.0.0.5:5901\nsock: unix:/run/vnc.sock\n");
 * assert.deepEqual(parsed.targets.get("vm1"), { transport: "tcp", hostname: "10.0.0.5", port: 5901 });
 * assert.deepEqual(parsed.targets.get("sock"), { transport: "unix", path: "/run/vnc.sock" });
 * assert.deepEqual(parseTokenFile("vm2 10.0.0.6:5901", "t.cfg").problems, [
 *   't.cfg:1: expected "token: host:port" or "token: unix:/path"',
 * ]);
 * ```
 *
 * @param text The file contents.
 * @param source The file name used in problems.
 * @returns The targets and the problems found.
 */
export function parseTokenFile(
  text: string,
  source = "token file",
): ParsedTokenFile {
  const targets = new Map<string, TokenTarget>();
  const problems: string[] = [];
  const firstLines = new Map<string, number>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const where = `${source}:${i + 1}`;
    const split = findSeparator(line);
    const target = split < 0
      ? undefined
      : parseTokenTarget(line.slice(split + 1).trim());
    const token = line.slice(0, Math.max(split, 0)).trim();
    if (split < 0 || typeof target === "string" || token === "") {
      const detail = typeof target === "string"
        ? target
        : 'expected "token: host:port" or "token: unix:/path"';
      problems.push(`${where}: ${detail}`);
      continue;
    }
    const first = firstLines.get(token);
    if (first !== undefined) {
      problems.push(
        `${where}: repeats token ${
          JSON.stringify(token)
        } of line ${first}; the last one wins`,
      );
    }
    firstLines.set(token, i + 1);
    targets.set(token, target!);
  }
  return { targets, problems };
}

/**
 * Reads a token file, or every file of a directory, into a
 * {@linkcode TokenTable}. Throws a `ConfigError` listing every bad line, so
 * a typo stops the gateway at start; `Deno.errors.NotFound` when the path
 * does not exist. Needs `--allow-read` for the path.
 *
 * @example Usage
 * ```ts
 * import { loadTokenTable } from "./token_file.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * try {
 *   await Deno.writeTextFile(`${dir}/tokens`, "vm1: 10.0.0.5:5901\n");
 *   const table = await loadTokenTable(`${dir}/tokens`);
 *   assert.deepEqual(await table.lookup("vm1"), { transport: "tcp", hostname: "10.0.0.5", port: 5901 });
 *   assert.equal(await table.lookup("nope"), undefined);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 *
 * @param path A token file, or a directory of token files.
 * @param options How often to check for changes.
 * @returns The loaded table.
 */
export async function loadTokenTable(
  path: string,
  options: TokenTableOptions = {},
): Promise<TokenTable> {
  const table = new TokenTable(path, options);
  await Deno.stat(path);
  await table.reload();
  if (table.problems.length > 0) throw new ConfigError(table.problems);
  return table;
}

/** A stat result reduced to what detects a change. */
interface Snapshot {
  /** One line per file: name, size, mtime, ctime, inode. */
  readonly signature: string;
  /** The files in read order. */
  readonly files: readonly string[];
  /** The newest mtime, in ms since the epoch. */
  readonly newestMtimeMs: number;
}

/**
 * Tokens from a file or a directory of files, reloaded when they change.
 * A file that disappears, or cannot be read, empties the table (fail
 * closed) and is reported in `problems`; lookups never throw. In a
 * directory, files are read in name order (a later file's token wins) and
 * names starting with `.` or ending with `~` are skipped.
 *
 * @example Usage
 * ```ts
 * import { TokenTable } from "./token_file.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * try {
 *   const table = new TokenTable(dir, { checkIntervalMs: 0 });
 *   assert.equal(await table.lookup("vm1"), undefined);
 *   await Deno.writeTextFile(`${dir}/a.cfg`, "vm1: [::1]:5901\n");
 *   assert.deepEqual(await table.lookup("vm1"), { transport: "tcp", hostname: "::1", port: 5901 });
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export class TokenTable {
  #path: string;
  #checkIntervalMs: number;
  #now: () => number;
  #targets: ReadonlyMap<string, TokenTarget> = new Map();
  #problems: readonly string[] = [];
  #snapshot: Snapshot | undefined;
  #contents: readonly string[] = [];
  #isRacy = false;
  #lastCheckMs = -Infinity;
  #refreshing: Promise<void> | undefined;

  /**
   * Constructs a table; nothing is read until the first lookup. Prefer
   * {@linkcode loadTokenTable}, which reads at once and reports problems.
   * @param path A token file, or a directory of token files.
   * @param options How often to check for changes.
   */
  constructor(path: string, options: TokenTableOptions = {}) {
    const { checkIntervalMs = 1000, now = Date.now } = options;
    if (!(checkIntervalMs >= 0)) {
      throw new RangeError(
        `Cannot create token table as checkIntervalMs must be >= 0: current value is ${checkIntervalMs}`,
      );
    }
    this.#path = path;
    this.#checkIntervalMs = checkIntervalMs;
    this.#now = now;
  }

  /** The problems found by the last load, one line each. */
  get problems(): readonly string[] {
    return this.#problems;
  }

  /** The number of tokens loaded. */
  get size(): number {
    return this.#targets.size;
  }

  /**
   * Finds the target of a token, first reloading the file(s) if they
   * changed and the last check is at least `checkIntervalMs` old.
   * @param token The token from the request.
   * @returns The target, or `undefined` for an unknown token.
   */
  async lookup(token: string): Promise<TokenTarget | undefined> {
    const nowMs = this.#now();
    if (this.#refreshing !== undefined) {
      await this.#refreshing;
    } else if (nowMs - this.#lastCheckMs >= this.#checkIntervalMs) {
      this.#lastCheckMs = nowMs;
      await this.#refresh();
    }
    return this.#targets.get(token);
  }

  /**
   * Checks the file(s) now, whatever the interval, and reloads on change.
   * @returns A promise that settles when the check is done.
   */
  async reload(): Promise<void> {
    this.#lastCheckMs = this.#now();
    await this.#refresh();
  }

  /** Runs one check at a time; concurrent callers share it. */
  #refresh(): Promise<void> {
    this.#refreshing ??= this.#check().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #check(): Promise<void> {
    let snapshot: Snapshot;
    let contents: string[];
    try {
      snapshot = await takeSnapshot(this.#path);
      if (this.#snapshot?.signature === snapshot.signature && !this.#isRacy) {
        return;
      }
      contents = await Promise.all(
        snapshot.files.map((file) => Deno.readTextFile(file)),
      );
    } catch (error) {
      // Fail closed: tokens that cannot be read are revoked.
      this.#snapshot = undefined;
      this.#contents = [];
      this.#targets = new Map();
      const detail = error instanceof Error ? error.message : String(error);
      this.#problems = [`${this.#path}: cannot read: ${detail}`];
      return;
    }
    const isSame = this.#snapshot?.signature === snapshot.signature;
    this.#isRacy = snapshot.newestMtimeMs > Date.now() - RACY_WINDOW_MS;
    const isUnchanged = isSame &&
      contents.length === this.#contents.length &&
      contents.every((text, i) => text === this.#contents[i]);
    this.#snapshot = snapshot;
    this.#contents = contents;
    if (isUnchanged) return;
    const targets = new Map<string, TokenTarget>();
    const problems: string[] = [];
    for (let i = 0; i < contents.length; i++) {
      const parsed = parseTokenFile(contents[i]!, snapshot.files[i]!);
      problems.push(...parsed.problems);
      for (const [token, target] of parsed.targets) {
        if (targets.has(token)) {
          problems.push(
            `${snapshot.files[i]}: repeats token ${
              JSON.stringify(token)
            } of an earlier file; the last one wins`,
          );
        }
        targets.set(token, target);
      }
    }
    this.#targets = targets;
    this.#problems = problems;
  }
}

/** Stats the path (and the files of a directory). */
async function takeSnapshot(path: string): Promise<Snapshot> {
  const info = await Deno.stat(path);
  let files: string[];
  if (info.isDirectory) {
    const names: string[] = [];
    for await (const entry of Deno.readDir(path)) {
      if (entry.name.startsWith(".") || entry.name.endsWith("~")) continue;
      if (entry.isFile || entry.isSymlink) names.push(entry.name);
    }
    names.sort();
    files = names.map((name) => `${path}/${name}`);
  } else {
    files = [path];
  }
  const lines: string[] = [];
  const kept: string[] = [];
  let newestMtimeMs = -Infinity;
  for (const file of files) {
    const stat = await Deno.stat(file);
    // A symlink to a directory is not a token file.
    if (!stat.isFile) continue;
    const mtimeMs = stat.mtime?.getTime() ?? 0;
    if (mtimeMs > newestMtimeMs) newestMtimeMs = mtimeMs;
    kept.push(file);
    lines.push(
      `${file}\0${stat.size}\0${mtimeMs}\0${stat.ctime?.getTime()}\0${stat.ino}`,
    );
  }
  return { signature: lines.join("\n"), files: kept, newestMtimeMs };
}

/** Finds the first `:` followed by a space or tab; -1 when there is none. */
function findSeparator(line: string): number {
  for (let i = line.indexOf(":"); i >= 0; i = line.indexOf(":", i + 1)) {
    const next = line[i + 1];
    if (next === " " || next === "\t") return i;
  }
  return -1;
}

/** Parses a target, or returns the problem as text. */
/**
 * Parses one target as a token file writes it: `host:port`, `[v6]:port`,
 * `v6:port`, `unix:/path` (or `unix_socket:/path`).
 * @param text The target text, trimmed.
 * @returns The target, or a problem sentence.
 *
 * @example Usage
 * ```ts
 * import { parseTokenTarget } from "./token_file.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseTokenTarget("[::1]:5900"), { transport: "tcp", hostname: "::1", port: 5900 });
 * assert.equal(typeof parseTokenTarget("host-without-port"), "string");
 * ```
 */
export function parseTokenTarget(text: string): TokenTarget | string {
  for (const prefix of ["unix:", "unix_socket:"]) {
    if (text.startsWith(prefix)) {
      const path = text.slice(prefix.length);
      return path.startsWith("/") && !/\s/.test(path)
        ? { transport: "unix", path }
        : `Unix socket path must be absolute: found ${JSON.stringify(path)}`;
    }
  }
  const colon = text.lastIndexOf(":");
  const portText = text.slice(colon + 1);
  let hostname = colon < 0 ? "" : text.slice(0, colon);
  if (
    colon < 0 || !/^[1-9][0-9]{0,4}$/.test(portText) || Number(portText) > 65535
  ) {
    return `target must end with a port 1-65535: found ${JSON.stringify(text)}`;
  }
  if (hostname.startsWith("[") && hostname.endsWith("]")) {
    hostname = hostname.slice(1, -1);
    if (!hostname.includes(":") || parseIpAddress(hostname) === undefined) {
      return `target has an invalid IPv6 address: found ${
        JSON.stringify(text)
      }`;
    }
  } else if (hostname.includes(":") && parseIpAddress(hostname) === undefined) {
    return `target has an invalid host: found ${JSON.stringify(text)}`;
  }
  if (hostname === "" || /[\s/\[\]@]/.test(hostname)) {
    return `target has an invalid host: found ${JSON.stringify(text)}`;
  }
  return { transport: "tcp", hostname, port: Number(portText) };
}
