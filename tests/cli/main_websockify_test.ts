import { assert, assertEquals } from "../_util/assert.ts";

const MOD = new URL("../../mod.ts", import.meta.url).pathname;

async function runWebsockify(args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MOD, "websockify", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stderr: new TextDecoder().decode(output.stderr),
  };
}

Deno.test("wsgate websockify exits 2 with one line naming the alternative for --daemon", async () => {
  const { code, stderr } = await runWebsockify(["-D", "6080", "h:1"]);
  assertEquals(code, 2);
  assertEquals(stderr.trim().split("\n").length, 1);
  assert(stderr.includes("--daemon: not supported"), stderr);
  assert(stderr.includes("systemd"), stderr);
});

// Issue 18: a missing --web directory was reported as "staticDir", the
// library's option name, after the settings banner.
Deno.test("wsgate websockify exits 2 with one line naming --web for a missing web root", async () => {
  const { code, stderr } = await runWebsockify([
    "--web",
    "/nonexistent",
    "127.0.0.1:0",
    "127.0.0.1:9",
  ]);
  assertEquals(code, 2);
  assertEquals(stderr.trim().split("\n").length, 1, stderr);
  assert(
    stderr.startsWith('wsgate: --web: cannot open "/nonexistent"'),
    stderr,
  );
  assert(!stderr.includes("staticDir"), stderr);
});
