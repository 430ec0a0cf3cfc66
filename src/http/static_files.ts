/**
 * Serves files below a `--static DIR` root, safely: the request path is
 * decoded segment by segment, and anything that could leave the root is
 * refused before the file system is touched (`..`, `%2e%2e`, encoded `/`,
 * backslashes, NUL). Symlinks are resolved with `Deno.realPath` and the
 * result must still lie inside the root. Directories serve their
 * `index.html`; listings are off unless asked for.
 *
 * {@linkcode StaticFiles.resolve} returns a small {@linkcode StaticFileResult}
 * that the HTTP responder writes; it never writes to a socket itself.
 *
 * @module
 */

import { ConfigError } from "../errors.ts";

/** Options of {@linkcode StaticFiles.open}. */
export interface StaticFilesOptions {
  /**
   * Whether a directory without an index file gets an HTML listing
   * (otherwise 404).
   * @default {false}
   */
  listDirectories?: boolean;
  /**
   * Whether names starting with `.` (`.git`, `.env`) may be served or listed.
   * @default {false}
   */
  serveDotfiles?: boolean;
  /**
   * The file served for a directory.
   * @default {"index.html"}
   */
  indexFile?: string;
}

/** What to answer to a static file request. */
export interface StaticFileResult {
  /** The HTTP status: 200, 301, 400 or 404. */
  status: number;
  /** Response headers with lowercase names. */
  headers: Record<string, string>;
  /**
   * The body: bytes, or an open file the responder must stream and close
   * (also when it does not send it, as for `HEAD`).
   */
  body: Uint8Array | Deno.FsFile;
}

/** Content types by lowercase file extension (without the dot). */
export const CONTENT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json; charset=utf-8",
  map: "application/json; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  ico: "image/x-icon",
  wasm: "application/wasm",
  woff: "font/woff",
  woff2: "font/woff2",
});

const MAX_PATH_CHARS = 4096;
const MAX_LISTED_ENTRIES = 10_000;
const encoder = new TextEncoder();

/**
 * Returns the content type for a file name, `application/octet-stream` when
 * the extension is unknown.
 *
 * @param name The file name or path.
 * @returns The `Content-Type` value.
 *
 * @example Lookup
 * ```ts
 * import { contentTypeFor } from "./static_files.ts";
 * import assert from "node:assert/strict";
 * assert.equal(contentTypeFor("app.MJS"), "text/javascript; charset=utf-8");
 * assert.equal(contentTypeFor("blob"), "application/octet-stream");
 * ```
 */
export function contentTypeFor(name: string): string {
  const base = name.slice(name.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  if (dot <= 0) return "application/octet-stream";
  return CONTENT_TYPES[base.slice(dot + 1).toLowerCase()] ??
    "application/octet-stream";
}

/**
 * A static file root. Create it with {@linkcode StaticFiles.open}, which
 * checks the directory once at startup.
 *
 * @example Serving a file
 * ```ts
 * import { StaticFiles } from "./static_files.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * try {
 *   await Deno.writeTextFile(`${dir}/index.html`, "<h1>hi</h1>");
 *   const files = await StaticFiles.open(dir);
 *   const result = await files.resolve("/");
 *   assert.equal(result.status, 200);
 *   assert.equal(result.headers["content-type"], "text/html; charset=utf-8");
 *   const body = result.body instanceof Uint8Array
 *     ? result.body
 *     : await new Response(result.body.readable).bytes();
 *   assert.equal(new TextDecoder().decode(body), "<h1>hi</h1>");
 *   assert.equal((await files.resolve("/../etc/passwd")).status, 400);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export class StaticFiles {
  readonly #root: string;
  readonly #prefix: string;
  readonly #listDirectories: boolean;
  readonly #serveDotfiles: boolean;
  readonly #indexFile: string;

  /**
   * Resolves `root` to its real path, checks it is a directory, and returns
   * the instance. Throws `ConfigError` when it is missing or not a
   * directory.
   *
   * @param root The directory to serve.
   * @param options Listing, dotfiles and index file.
   * @returns The instance.
   */
  static async open(
    root: string,
    options: StaticFilesOptions = {},
  ): Promise<StaticFiles> {
    let realRoot: string;
    try {
      realRoot = await Deno.realPath(root);
      if (!(await Deno.stat(realRoot)).isDirectory) {
        throw new Error("not a directory");
      }
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new ConfigError([
        `--static: cannot serve "${root}" as it must be a readable directory: ${why}`,
      ]);
    }
    return new StaticFiles(realRoot, options);
  }

  /**
   * Constructs a new instance over an already resolved root; prefer
   * {@linkcode StaticFiles.open}. A root that is not a real path (with
   * symlinks resolved) makes every request a 404.
   *
   * @param realRoot The absolute real path of the root directory.
   * @param options Listing, dotfiles and index file.
   */
  constructor(realRoot: string, options: StaticFilesOptions = {}) {
    const {
      listDirectories = false,
      serveDotfiles = false,
      indexFile = "index.html",
    } = options;
    if (indexFile === "" || /[/\\\0]/.test(indexFile)) {
      throw new TypeError(
        `Cannot serve static files as indexFile must be a plain file name: current value is "${indexFile}"`,
      );
    }
    this.#root = realRoot;
    this.#prefix = realRoot.endsWith("/") ? realRoot : `${realRoot}/`;
    this.#listDirectories = listDirectories;
    this.#serveDotfiles = serveDotfiles;
    this.#indexFile = indexFile;
  }

  /** The real path of the root directory. */
  get root(): string {
    return this.#root;
  }

  /**
   * Decides the answer to a request path: 200 with the file, 200 with a
   * listing (when enabled), 301 to add a trailing `/` to a directory, 400 for
   * a malformed or escaping path, 404 for anything else (missing, hidden,
   * outside the root via a symlink, not a regular file).
   *
   * @param requestPath The request target's path, for example `/a/b.js`; a
   * query or fragment is ignored.
   * @returns The status, headers and body.
   */
  async resolve(requestPath: string): Promise<StaticFileResult> {
    const parsed = parsePath(requestPath);
    if (parsed === undefined) return plain(400, "Bad Request");
    const { segments, isDirectoryPath } = parsed;
    if (!this.#serveDotfiles && segments.some((s) => s.startsWith("."))) {
      return plain(404, "Not Found");
    }
    const real = await this.#realPathInside(
      segments.length === 0 ? this.#root : this.#prefix + segments.join("/"),
    );
    if (real === undefined) return plain(404, "Not Found");
    const info = await statOrUndefined(real);
    if (info?.isFile) return await openFile(real);
    if (!info?.isDirectory) return plain(404, "Not Found");
    const last = segments.at(-1);
    if (!isDirectoryPath && last !== undefined) {
      // Relative, so it stays right under any mount prefix of the responder.
      const location = `./${encodeURIComponent(last)}/`;
      const moved = plain(301, `Moved to ${location}`);
      moved.headers["location"] = location;
      return moved;
    }
    const index = await this.#realPathInside(`${real}/${this.#indexFile}`);
    if (index !== undefined && (await statOrUndefined(index))?.isFile) {
      return await openFile(index);
    }
    if (!this.#listDirectories) return plain(404, "Not Found");
    return await this.#listing(real, segments);
  }

  async #realPathInside(path: string): Promise<string | undefined> {
    let real: string;
    try {
      real = await Deno.realPath(path);
    } catch {
      return undefined;
    }
    return real === this.#root || real.startsWith(this.#prefix)
      ? real
      : undefined;
  }

  async #listing(
    real: string,
    segments: readonly string[],
  ): Promise<StaticFileResult> {
    const names: string[] = [];
    for await (const entry of Deno.readDir(real)) {
      if (names.length >= MAX_LISTED_ENTRIES) break;
      if (!this.#serveDotfiles && entry.name.startsWith(".")) continue;
      names.push(entry.isDirectory ? `${entry.name}/` : entry.name);
    }
    names.sort();
    if (segments.length > 0) names.unshift("../");
    const title = escapeHtml(
      `Index of /${segments.map((s) => `${s}/`).join("")}`,
    );
    const items = names.map((name) => {
      const href = name === "../"
        ? "../"
        : `./${encodeURIComponent(name.replace(/\/$/, ""))}${
          name.endsWith("/") ? "/" : ""
        }`;
      return `<li><a href="${escapeHtml(href)}">${escapeHtml(name)}</a></li>`;
    });
    const html = `<!doctype html>\n<html><head><meta charset="utf-8">` +
      `<title>${title}</title></head>\n<body><h1>${title}</h1>\n<ul>\n` +
      `${items.join("\n")}\n</ul></body></html>\n`;
    const body = encoder.encode(html);
    return {
      status: 200,
      headers: {
        "content-type": "text/html; charset=utf-8",
        "content-length": String(body.byteLength),
        "x-content-type-options": "nosniff",
      },
      body,
    };
  }
}

/** Splits and decodes a path; `undefined` when it is malformed or escapes. */
function parsePath(
  requestPath: string,
): { segments: string[]; isDirectoryPath: boolean } | undefined {
  const end = requestPath.search(/[?#]/);
  const path = end === -1 ? requestPath : requestPath.slice(0, end);
  if (!path.startsWith("/") || path.length > MAX_PATH_CHARS) return undefined;
  const segments: string[] = [];
  for (const raw of path.split("/")) {
    if (raw === "") continue;
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    // Checked after decoding, so `%2e%2e`, `%2f` and `%5c` are caught too.
    if (segment === "." || segment === ".." || /[/\\\0]/.test(segment)) {
      return undefined;
    }
    segments.push(segment);
  }
  return { segments, isDirectoryPath: path.endsWith("/") };
}

async function statOrUndefined(
  path: string,
): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch {
    return undefined;
  }
}

async function openFile(path: string): Promise<StaticFileResult> {
  const file = await Deno.open(path, { read: true });
  try {
    const info = await file.stat();
    if (!info.isFile) {
      file.close();
      return plain(404, "Not Found");
    }
    const headers: Record<string, string> = {
      "content-type": contentTypeFor(path),
      "content-length": String(info.size),
      "x-content-type-options": "nosniff",
    };
    if (info.mtime !== null) {
      headers["last-modified"] = info.mtime.toUTCString();
    }
    return { status: 200, headers, body: file };
  } catch (error) {
    file.close();
    throw error;
  }
}

function plain(status: number, text: string): StaticFileResult {
  const body = encoder.encode(`${text}\n`);
  return {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "content-length": String(body.byteLength),
      "x-content-type-options": "nosniff",
    },
    body,
  };
}

function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;").replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}
