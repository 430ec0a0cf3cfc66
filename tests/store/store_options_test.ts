import { assert, assertEquals, assertRejects } from "../_util/assert.ts";
import {
  readStorePassword,
  resolveStoreOptions,
} from "../../src/store/store_options.ts";
import { ConfigError } from "../../src/errors.ts";

Deno.test("resolveStoreOptions lists every problem in one ConfigError", () => {
  try {
    resolveStoreOptions({
      url: "http://x",
      timeoutMs: 0,
      prefix: "a b",
      leaseMs: 5,
    });
    assert(false, "should throw");
  } catch (error) {
    assert(error instanceof ConfigError);
    assertEquals(error.problems.length, 4);
  }
});

Deno.test("resolveStoreOptions prefers the password read from env or file over the URL's", () => {
  assertEquals(
    resolveStoreOptions({ url: "redis://:url@h" }, { password: "env" })
      .password,
    "env",
  );
  assertEquals(resolveStoreOptions({ url: "redis://:url@h" }).password, "url");
  assertEquals(resolveStoreOptions({ url: "redis://h" }).password, undefined);
});

Deno.test("readStorePassword reads the first line of a file and refuses an unset env var", async () => {
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(file, "from-file\n");
    assertEquals(
      await readStorePassword({ url: "redis://h", passwordFile: file }),
      "from-file",
    );
    await assertRejects(
      readStorePassword({
        url: "redis://h",
        passwordEnv: "WSGATE_UNSET_VAR_X",
      }),
      ConfigError,
    );
    await assertRejects(
      readStorePassword({ url: "redis://h", passwordFile: `${file}.missing` }),
      ConfigError,
    );
    assertEquals(await readStorePassword({ url: "redis://h" }), undefined);
  } finally {
    await Deno.remove(file);
  }
});
