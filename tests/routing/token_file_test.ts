import assert from "node:assert/strict";
import { ConfigError } from "../../src/errors.ts";
import {
  loadTokenTable,
  parseTokenFile,
  TokenTable,
} from "../../src/routing/token_file.ts";

/** A temporary directory removed when the test ends. */
async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "wsgate_tokens_" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true });
    },
  };
}

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let nowMs = 0;
  return { now: () => nowMs, advance: (ms) => (nowMs += ms) };
}

Deno.test("parseTokenFile reads websockify's format", () => {
  const text = [
    "# comment",
    "",
    "   ",
    "vm1: 10.0.0.5:5901",
    "vm2:   host.example:22  ",
    "vm3:\tlocalhost:5900",
    "  # indented comment",
    "v6a: [::1]:5900",
    "v6b: ::1:5901",
    "sock: unix:/run/vnc.sock",
    "legacy: unix_socket:/var/run/x.sock",
    "crlf: 10.0.0.9:1\r",
    "with space: h:1",
  ].join("\n");
  const parsed = parseTokenFile(text);
  assert.deepEqual(parsed.problems, []);
  assert.deepEqual(Object.fromEntries(parsed.targets), {
    vm1: { transport: "tcp", hostname: "10.0.0.5", port: 5901 },
    vm2: { transport: "tcp", hostname: "host.example", port: 22 },
    vm3: { transport: "tcp", hostname: "localhost", port: 5900 },
    v6a: { transport: "tcp", hostname: "::1", port: 5900 },
    v6b: { transport: "tcp", hostname: "::1", port: 5901 },
    sock: { transport: "unix", path: "/run/vnc.sock" },
    legacy: { transport: "unix", path: "/var/run/x.sock" },
    crlf: { transport: "tcp", hostname: "10.0.0.9", port: 1 },
    "with space": { transport: "tcp", hostname: "h", port: 1 },
  });
});

Deno.test("parseTokenFile skips and reports each bad line with its number", async (t) => {
  const cases: [string, RegExp][] = [
    ["vm1 10.0.0.5:5901", /expected "token: host:port"/],
    ["vm1:10.0.0.5:5901", /expected "token: host:port"/],
    ["vm1: 10.0.0.5", /must end with a port/],
    ["vm1: 10.0.0.5:0", /must end with a port/],
    ["vm1: 10.0.0.5:65536", /must end with a port/],
    ["vm1: 10.0.0.5:59a", /must end with a port/],
    ["vm1: :5900", /invalid host/],
    ["vm1: [::1:5900", /invalid host/],
    ["vm1: [example.com]:5900", /invalid IPv6/],
    ["vm1: 1:2:3:5900", /invalid host/],
    ["vm1: a b:5900", /invalid host/],
    ["vm1: 10.0.0.5:5901 # inline comment", /must end with a port/],
    ["vm1: unix:relative.sock", /must be absolute/],
    ["vm1: unix:", /must be absolute/],
    [": 10.0.0.5:5901", /expected "token: host:port"/],
  ];
  for (const [line, pattern] of cases) {
    await t.step(line, () => {
      const parsed = parseTokenFile(`# header\n${line}\nok: h:1\n`, "t.cfg");
      assert.equal(parsed.problems.length, 1);
      assert.match(parsed.problems[0]!, /^t\.cfg:2: /);
      assert.match(parsed.problems[0]!, pattern);
      assert.deepEqual([...parsed.targets.keys()], ["ok"]);
    });
  }
});

Deno.test("parseTokenFile reports a repeated token and keeps the last target", () => {
  const parsed = parseTokenFile("a: h:1\nb: h:2\na: h:3\n", "t.cfg");
  assert.deepEqual(parsed.targets.get("a"), {
    transport: "tcp",
    hostname: "h",
    port: 3,
  });
  assert.deepEqual(parsed.problems, [
    't.cfg:3: repeats token "a" of line 1; the last one wins',
  ]);
});

Deno.test("loadTokenTable reads a file and returns undefined for an unknown token", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/tokens.cfg`;
  await Deno.writeTextFile(file, "vm1: 10.0.0.5:5901\n");
  const table = await loadTokenTable(file);
  assert.equal(table.size, 1);
  assert.deepEqual(await table.lookup("vm1"), {
    transport: "tcp",
    hostname: "10.0.0.5",
    port: 5901,
  });
  assert.equal(await table.lookup("vm2"), undefined);
  assert.equal(await table.lookup("__proto__"), undefined);
  assert.equal(await table.lookup(""), undefined);
});

Deno.test("loadTokenTable throws ConfigError listing every bad line", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/tokens.cfg`;
  await Deno.writeTextFile(
    file,
    "vm1 10.0.0.5:5901\nvm2: 10.0.0.5:5901\nvm3: host\n",
  );
  await assert.rejects(loadTokenTable(file), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.problems.length, 2);
    assert.match(error.problems[0]!, /tokens\.cfg:1: /);
    assert.match(error.problems[1]!, /tokens\.cfg:3: /);
    return true;
  });
});

Deno.test("loadTokenTable throws NotFound for a missing path", async () => {
  await using dir = await tempDir();
  await assert.rejects(
    loadTokenTable(`${dir.path}/missing`),
    Deno.errors.NotFound,
  );
});

Deno.test("loadTokenTable reads a directory in name order, skipping hidden and backup files", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/b.cfg`, "shared: b:2\nonly-b: b:2\n");
  await Deno.writeTextFile(`${dir.path}/a.cfg`, "shared: a:1\nonly-a: a:1\n");
  await Deno.writeTextFile(`${dir.path}/.hidden`, "hidden: x:1\n");
  await Deno.writeTextFile(`${dir.path}/a.cfg~`, "backup: x:1\n");
  await Deno.mkdir(`${dir.path}/subdir`);
  await Deno.writeTextFile(`${dir.path}/subdir/c.cfg`, "nested: x:1\n");
  const table = new TokenTable(dir.path);
  await table.reload();
  assert.deepEqual(await table.lookup("shared"), {
    transport: "tcp",
    hostname: "b",
    port: 2,
  });
  assert.ok(await table.lookup("only-a"));
  assert.ok(await table.lookup("only-b"));
  for (const token of ["hidden", "backup", "nested"]) {
    assert.equal(await table.lookup(token), undefined, token);
  }
  assert.equal(table.problems.length, 1);
  assert.match(
    table.problems[0]!,
    /b\.cfg: repeats token "shared" of an earlier file/,
  );
});

Deno.test("TokenTable picks up a rewritten file, even one of the same size", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/tokens.cfg`;
  await Deno.writeTextFile(file, "aaa: 10.0.0.1:5901\n");
  const table = await loadTokenTable(file, { checkIntervalMs: 0 });
  assert.ok(await table.lookup("aaa"));
  // Same size, written at once: mtime and size may not change.
  await Deno.writeTextFile(file, "bbb: 10.0.0.1:5901\n");
  assert.equal(
    await table.lookup("aaa"),
    undefined,
    "revoked token still accepted",
  );
  assert.ok(await table.lookup("bbb"));
  await Deno.writeTextFile(file, "ccc: 10.0.0.2:5902\nddd: 10.0.0.3:5903\n");
  assert.deepEqual(await table.lookup("ddd"), {
    transport: "tcp",
    hostname: "10.0.0.3",
    port: 5903,
  });
  assert.equal(table.size, 2);
});

Deno.test("TokenTable picks up a file replaced by rename", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/tokens.cfg`;
  await Deno.writeTextFile(file, "old: h:1\n");
  const table = await loadTokenTable(file, { checkIntervalMs: 0 });
  await Deno.writeTextFile(`${file}.new`, "new: h:1\n");
  await Deno.rename(`${file}.new`, file);
  assert.equal(await table.lookup("old"), undefined);
  assert.ok(await table.lookup("new"));
});

Deno.test("TokenTable checks for changes at most once per checkIntervalMs", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/tokens.cfg`;
  await Deno.writeTextFile(file, "one: h:1\n");
  const clock = manualClock();
  const table = await loadTokenTable(file, {
    checkIntervalMs: 1000,
    now: clock.now,
  });
  await Deno.writeTextFile(file, "two: h:2\n");
  clock.advance(999);
  assert.ok(await table.lookup("one"), "reloaded before the interval");
  assert.equal(await table.lookup("two"), undefined);
  clock.advance(1);
  assert.equal(await table.lookup("one"), undefined);
  assert.ok(await table.lookup("two"));
});

Deno.test("TokenTable empties itself when the file disappears and recovers when it returns", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/tokens.cfg`;
  await Deno.writeTextFile(file, "vm1: h:1\n");
  const table = await loadTokenTable(file, { checkIntervalMs: 0 });
  await Deno.remove(file);
  assert.equal(await table.lookup("vm1"), undefined);
  assert.equal(table.size, 0);
  assert.match(table.problems[0]!, /cannot read/);
  await Deno.writeTextFile(file, "vm1: h:1\n");
  assert.ok(await table.lookup("vm1"));
  assert.deepEqual(table.problems, []);
});

Deno.test("TokenTable follows files added to and removed from a directory", async () => {
  await using dir = await tempDir();
  const table = new TokenTable(dir.path, { checkIntervalMs: 0 });
  assert.equal(await table.lookup("vm1"), undefined);
  await Deno.writeTextFile(`${dir.path}/one.cfg`, "vm1: h:1\n");
  assert.ok(await table.lookup("vm1"));
  await Deno.writeTextFile(`${dir.path}/two.cfg`, "vm2: h:2\n");
  assert.ok(await table.lookup("vm2"));
  await Deno.remove(`${dir.path}/one.cfg`);
  assert.equal(await table.lookup("vm1"), undefined);
  assert.ok(await table.lookup("vm2"));
});

Deno.test("TokenTable keeps good lines of a file that becomes partly bad", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/tokens.cfg`;
  await Deno.writeTextFile(file, "vm1: h:1\nvm2: h:2\n");
  const table = await loadTokenTable(file, { checkIntervalMs: 0 });
  await Deno.writeTextFile(file, "vm1: h:1\nvm2 h:2\n");
  assert.ok(await table.lookup("vm1"));
  assert.equal(await table.lookup("vm2"), undefined);
  assert.equal(table.problems.length, 1);
});

Deno.test("TokenTable shares one check between concurrent lookups", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/tokens.cfg`;
  await Deno.writeTextFile(file, "vm1: h:1\n");
  const table = new TokenTable(file, { checkIntervalMs: 0 });
  const results = await Promise.all(
    Array.from(
      { length: 20 },
      (_, i) => table.lookup(i % 2 === 0 ? "vm1" : "nope"),
    ),
  );
  results.forEach((result, i) =>
    assert.equal(result !== undefined, i % 2 === 0)
  );
});

Deno.test("TokenTable rejects a negative checkIntervalMs", () => {
  assert.throws(
    () => new TokenTable("/x", { checkIntervalMs: -1 }),
    RangeError,
  );
  assert.throws(
    () => new TokenTable("/x", { checkIntervalMs: NaN }),
    RangeError,
  );
});
