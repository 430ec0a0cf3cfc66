import { assert, assertEquals } from "./_util/assert.ts";

const ROOT = new URL("../", import.meta.url);

interface DenoJson {
  name?: string;
  version?: string;
  license?: string;
  exports?: Record<string, string>;
  publish?: { exclude?: string[] };
}

const manifest: DenoJson = JSON.parse(
  await Deno.readTextFile(new URL("deno.json", ROOT)),
);

// `deno publish --dry-run` failed for want of a license (issue 18, item 13);
// `.ci/run` runs the dry run itself, this pins what it needs.
Deno.test("deno.json names an MIT package with a version and exports that exist", async () => {
  assertEquals(manifest.name, "@wsgate/wsgate");
  assert(/^\d+\.\d+\.\d+$/.test(manifest.version ?? ""), manifest.version);
  assertEquals(manifest.license, "MIT");
  assertEquals(manifest.exports, {
    ".": "./mod.ts",
    "./client": "./src/client/wsgate_client.js",
  });
  for (const path of Object.values(manifest.exports ?? {})) {
    assert((await Deno.stat(new URL(path, ROOT))).isFile, path);
  }
  const license = await Deno.readTextFile(new URL("LICENSE", ROOT));
  assert(license.startsWith("MIT License\n"), license.slice(0, 40));
});

Deno.test("README shows the package's import line", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  assert(readme.includes(`from "jsr:${manifest.name}"`));
  assert(readme.includes(`deno add jsr:${manifest.name}`));
});
