import assert from "node:assert/strict";
import { ConfigError } from "../../src/errors.ts";
import {
  contentTypeFor,
  type StaticFileResult,
  StaticFiles,
} from "../../src/http/static_files.ts";

/** Reads the body (closing a file body) and returns it as text. */
async function bodyText(result: StaticFileResult): Promise<string> {
  if (result.body instanceof Uint8Array) {
    return new TextDecoder().decode(result.body);
  }
  return await new Response(result.body.readable).text();
}

interface Fixture extends AsyncDisposable {
  base: string;
  root: string;
}

async function makeFixture(): Promise<Fixture> {
  const base = await Deno.makeTempDir({ prefix: "wsgate_static_" });
  const root = `${base}/root`;
  for (
    const dir of [
      "root/sub",
      "root/docs",
      "root/.hidden",
      "root/escape_index",
      "outside",
    ]
  ) {
    await Deno.mkdir(`${base}/${dir}`, { recursive: true });
  }
  const files: Record<string, string> = {
    "root/index.html": "<h1>home</h1>",
    "root/app.js": "export {};",
    "root/sp ace & <x>.txt": "odd name",
    "root/sub/file.txt": "in sub",
    "root/docs/index.html": "docs index",
    "root/.env": "SECRET=1",
    "root/.hidden/secret.txt": "hidden",
    "outside/secret.txt": "outside secret",
    "outside/index.html": "outside index",
  };
  for (const [path, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${base}/${path}`, text);
  }
  await Deno.symlink(`${root}/sub/file.txt`, `${root}/link_inside`);
  await Deno.symlink("../outside/secret.txt", `${root}/link_outside`);
  await Deno.symlink(`${base}/outside`, `${root}/dirlink_outside`);
  await Deno.symlink(
    "../../outside/index.html",
    `${root}/escape_index/index.html`,
  );
  await Deno.symlink(root, `${base}/root_link`);
  return {
    base,
    root,
    async [Symbol.asyncDispose]() {
      await Deno.remove(base, { recursive: true });
    },
  };
}

Deno.test("StaticFiles.resolve serves files, indexes and redirects directories", async (t) => {
  await using fixture = await makeFixture();
  const files = await StaticFiles.open(fixture.root);
  const cases: [string, number, string | undefined][] = [
    ["/", 200, "<h1>home</h1>"],
    ["/app.js", 200, "export {};"],
    ["/app.js?v=1#top", 200, "export {};"],
    ["//app.js", 200, "export {};"],
    ["/sp%20ace%20%26%20%3Cx%3E.txt", 200, "odd name"],
    ["/docs/", 200, "docs index"],
    ["/sub/file.txt", 200, "in sub"],
    ["/link_inside", 200, "in sub"],
    ["/docs", 301, undefined],
    ["/sub/", 404, undefined],
    ["/missing.txt", 404, undefined],
    ["/app.js/", 200, "export {};"],
  ];
  for (const [path, status, body] of cases) {
    await t.step(path, async () => {
      const result = await files.resolve(path);
      const text = await bodyText(result);
      assert.equal(result.status, status);
      if (body !== undefined) assert.equal(text, body);
    });
  }
  const moved = await files.resolve("/docs");
  await bodyText(moved);
  assert.equal(moved.headers["location"], "./docs/");
});

Deno.test("StaticFiles.resolve refuses traversal and malformed paths with 400", async (t) => {
  await using fixture = await makeFixture();
  const files = await StaticFiles.open(fixture.root);
  const paths = [
    "/../outside/secret.txt",
    "/sub/../../outside/secret.txt",
    "/%2e%2e/outside/secret.txt",
    "/%2E%2e/outside/secret.txt",
    "/sub/..%2f..%2foutside/secret.txt",
    "/sub/%2e%2e%2f%2e%2e%2foutside%2fsecret.txt",
    "/sub\\..\\..\\outside\\secret.txt",
    "/sub%5c..%5c..%5coutside%5csecret.txt",
    "/app.js%00.txt",
    "/./app.js",
    "/%zz",
    "/%",
    "app.js",
    "",
    `/${"a".repeat(5000)}`,
  ];
  for (const path of paths) {
    await t.step(JSON.stringify(path.slice(0, 40)), async () => {
      const result = await files.resolve(path);
      assert.equal(await bodyText(result), "Bad Request\n");
      assert.equal(result.status, 400);
    });
  }
});

Deno.test("StaticFiles.resolve gives 404 for symlinks that leave the root and for dotfiles", async (t) => {
  await using fixture = await makeFixture();
  const files = await StaticFiles.open(fixture.root, { listDirectories: true });
  for (
    const path of [
      "/link_outside",
      "/dirlink_outside/secret.txt",
      "/dirlink_outside/",
      "/escape_index/index.html",
      "/.env",
      "/.hidden/secret.txt",
      "/%2eenv",
    ]
  ) {
    await t.step(path, async () => {
      const result = await files.resolve(path);
      const text = await bodyText(result);
      assert.equal(result.status, 404, text);
      assert.equal(text.includes("secret"), false);
    });
  }
  // An index.html symlinked out of the root is skipped: the listing is shown.
  const listing = await files.resolve("/escape_index/");
  const html = await bodyText(listing);
  assert.equal(listing.status, 200);
  assert.equal(html.includes("outside index"), false);
});

Deno.test("StaticFiles.resolve serves dotfiles only when serveDotfiles is set", async () => {
  await using fixture = await makeFixture();
  const files = await StaticFiles.open(fixture.root, { serveDotfiles: true });
  const result = await files.resolve("/.hidden/secret.txt");
  assert.equal(await bodyText(result), "hidden");
});

Deno.test("StaticFiles.resolve lists a directory only when asked, escaping names", async () => {
  await using fixture = await makeFixture();
  const off = await StaticFiles.open(fixture.root);
  const hidden = await off.resolve("/escape_index/");
  await bodyText(hidden);
  assert.equal(hidden.status, 404);
  await Deno.remove(`${fixture.root}/index.html`);
  const on = await StaticFiles.open(fixture.root, { listDirectories: true });
  const result = await on.resolve("/");
  const html = await bodyText(result);
  assert.equal(result.status, 200);
  assert.equal(result.headers["content-type"], "text/html; charset=utf-8");
  assert.ok(
    html.includes(
      '<li><a href="./sp%20ace%20%26%20%3Cx%3E.txt">sp ace &amp; &lt;x&gt;.txt</a></li>',
    ),
    html,
  );
  assert.ok(html.includes('<li><a href="./sub/">sub/</a></li>'));
  assert.equal(html.includes("<x>"), false);
  assert.equal(html.includes(".env"), false);
  assert.equal(html.includes('href="../"'), false);
  const sub = await on.resolve("/sub/");
  assert.ok((await bodyText(sub)).includes('<a href="../">../</a>'));
});

Deno.test("StaticFiles.resolve sends content type, length and nosniff", async () => {
  await using fixture = await makeFixture();
  const files = await StaticFiles.open(fixture.root);
  const result = await files.resolve("/app.js");
  await bodyText(result);
  assert.equal(
    result.headers["content-type"],
    "text/javascript; charset=utf-8",
  );
  assert.equal(result.headers["content-length"], "10");
  assert.equal(result.headers["x-content-type-options"], "nosniff");
  assert.ok(!Number.isNaN(Date.parse(result.headers["last-modified"] ?? "")));
});

Deno.test("StaticFiles.open follows a symlinked root and rejects a missing or non-directory root", async () => {
  await using fixture = await makeFixture();
  const files = await StaticFiles.open(`${fixture.base}/root_link`);
  assert.equal(files.root, await Deno.realPath(fixture.root));
  const result = await files.resolve("/sub/file.txt");
  assert.equal(await bodyText(result), "in sub");
  await assert.rejects(StaticFiles.open(`${fixture.base}/nope`), ConfigError);
  await assert.rejects(StaticFiles.open(`${fixture.root}/app.js`), ConfigError);
  assert.throws(
    () => new StaticFiles(fixture.root, { indexFile: "../x" }),
    TypeError,
  );
});

Deno.test("contentTypeFor maps common web extensions", async (t) => {
  const cases: [string, string][] = [
    ["index.html", "text/html; charset=utf-8"],
    ["a.js", "text/javascript; charset=utf-8"],
    ["a.mjs", "text/javascript; charset=utf-8"],
    ["a.css", "text/css; charset=utf-8"],
    ["a.json", "application/json; charset=utf-8"],
    ["a.js.map", "application/json; charset=utf-8"],
    ["a.svg", "image/svg+xml"],
    ["a.png", "image/png"],
    ["a.JPG", "image/jpeg"],
    ["a.gif", "image/gif"],
    ["favicon.ico", "image/x-icon"],
    ["a.wasm", "application/wasm"],
    ["a.woff2", "font/woff2"],
    ["a.txt", "text/plain; charset=utf-8"],
    ["Makefile", "application/octet-stream"],
    [".bashrc", "application/octet-stream"],
    ["dir.d/file", "application/octet-stream"],
  ];
  for (const [name, type] of cases) {
    await t.step(name, () => assert.equal(contentTypeFor(name), type));
  }
});
