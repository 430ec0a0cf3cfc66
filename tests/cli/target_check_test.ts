import { assert, assertEquals } from "../_util/assert.ts";
import { startBackend } from "../_util/backends.ts";
import {
  fixedTargets,
  unreachableTargets,
} from "../../src/cli/target_check.ts";
import { resolveOptions } from "../../src/config/config.ts";
import { spawnWsgate } from "../_util/wsgate_process.ts";

/** A loopback port nothing listens on (bound, then closed). */
function closedPort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

Deno.test("fixedTargets lists each fixed target once with its routes, and skips token and dynamic routes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wsgate_target_check_" });
  try {
    const tokens = `${dir}/tokens`;
    await Deno.writeTextFile(tokens, "a: 127.0.0.1:7000\n");
    const config = resolveOptions({
      routes: [
        { path: "/a", target: "127.0.0.1:9000" },
        { path: "/tokens", tokens },
        { path: "/b", target: "unix:/run/app.sock" },
        { path: "/c", target: "127.0.0.1:9000" },
        { path: "/dyn", dynamic: { cidrs: ["127.0.0.1/32"] } },
      ],
    });
    assertEquals(
      fixedTargets(config).map(({ label, routes }) => ({ label, routes })),
      [
        { label: "127.0.0.1:9000", routes: ["/a", "/c"] },
        { label: "unix:/run/app.sock", routes: ["/b"] },
      ],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unreachableTargets names a refused target and its routes, and is quiet for one that answers", async () => {
  await using backend = startBackend(async () => {});
  const connected = backend.nextConnection();
  const port = closedPort();
  const lines = await unreachableTargets(resolveOptions({
    routes: [
      { path: "/up", target: backend.target },
      { path: "/down", target: `127.0.0.1:${port}` },
      { path: "/down2", target: `127.0.0.1:${port}` },
    ],
  }));
  assertEquals(lines.length, 1, lines.join("\n"));
  assert(
    lines[0]!.startsWith(
      `route /down, /down2 -> 127.0.0.1:${port}: not reachable now (`,
    ),
    lines[0],
  );
  assert(lines[0]!.includes("sessions close with 1011"), lines[0]);
  await connected;
  assertEquals(backend.accepted, 1, "one connection per fixed target");
});

// Issue 18: a first run against a wrong --target said nothing until a
// browser connected.
Deno.test("wsgate --check-targets warns after the listening line about a target that does not answer, and keeps serving", async () => {
  const port = closedPort();
  await using wsgate = spawnWsgate([
    "--listen",
    "127.0.0.1:0",
    "--target",
    `127.0.0.1:${port}`,
    "--check-targets",
  ]);
  const { port: gatewayPort } = await wsgate.listening();
  const line = await wsgate.waitForLine(
    "stderr",
    (text) => text.includes("target not reachable"),
  );
  assert(line.includes(` WARN  warning `), line);
  assert(
    line.includes(`route / -> 127.0.0.1:${port}: not reachable now`),
    line,
  );
  const health = await fetch(`http://127.0.0.1:${gatewayPort}/healthz`);
  assertEquals([health.status, await health.text()], [200, "ok\n"]);
  assertEquals((await wsgate.stop("SIGTERM")).code, 0);
});
