import { assertEquals } from "../_util/assert.ts";
import { buildRunConfig, parseArgs } from "../../src/cli/args.ts";
import {
  missingPermissions,
  permissionNeeds,
} from "../../src/cli/permissions.ts";

function configOf(argv: string[], file?: unknown) {
  const command = parseArgs(argv);
  if (command.kind !== "run") throw new Error(`not a run: ${command.kind}`);
  return buildRunConfig(
    command.flags,
    file === undefined ? undefined : { json: file, baseDir: "/etc/wsgate" },
    false,
  );
}

Deno.test("permissionNeeds lists the permission of every feature a configuration uses", () => {
  const config = configOf([
    "--listen",
    "127.0.0.1:9999",
    "--static",
    "/srv/www",
    "--ticket-secret-env",
    "MY_SECRET",
    "--workers",
    "2",
  ], {
    routes: [
      { path: "/rec", target: "127.0.0.1:9", record: "rec" },
      { path: "/tok", tokens: "tokens.txt" },
    ],
  });
  const worker = new URL("file:///opt/wsgate/src/cli/worker_main.ts");
  assertEquals(
    permissionNeeds(config, worker).map((need) => [
      need.flag,
      need.feature,
    ]),
    [
      ["--allow-net", "listening on 127.0.0.1:9999 and reaching the backends"],
      ["--allow-read", '--static "/srv/www"'],
      [
        "--allow-write",
        'route "/rec" to record sessions into "/etc/wsgate/rec"',
      ],
      [
        "--allow-read",
        'route "/tok" to read its token file "/etc/wsgate/tokens.txt"',
      ],
      [
        "--allow-read",
        '--workers to load its worker module "/opt/wsgate/src/cli/worker_main.ts"',
      ],
      ["--allow-env", '--ticket-secret-env to read "MY_SECRET"'],
    ],
  );
  // A worker module fetched over https needs no read permission.
  const remote = new URL(
    "https://jsr.io/@wsgate/wsgate/src/cli/worker_main.ts",
  );
  assertEquals(
    permissionNeeds(config, remote).some((need) =>
      need.feature.startsWith("--workers")
    ),
    false,
  );
});

Deno.test("missingPermissions reports only what is not granted, one line each naming the flag", () => {
  const config = configOf([
    "--target",
    "127.0.0.1:9",
    "--ticket-secret-env",
    "S",
  ]);
  const needs = permissionNeeds(config);
  assertEquals(missingPermissions(needs, () => "granted"), []);
  assertEquals(
    missingPermissions(
      needs,
      (descriptor) => descriptor.name === "env" ? "denied" : "granted",
    ),
    [
      '--allow-env: needed for --ticket-secret-env to read "S" (run deno with --allow-env)',
    ],
  );
});

Deno.test("permissionNeeds asks read and write on a Unix socket to listen on, and net without a host", () => {
  const config = configOf([
    "--listen",
    "unix:/run/wsgate.sock",
    "--target",
    "127.0.0.1:9",
  ]);
  assertEquals(
    permissionNeeds(config).map((need) => [need.descriptor, need.flag]),
    [
      [{ name: "read", path: "/run/wsgate.sock" }, "--allow-read"],
      [{ name: "write", path: "/run/wsgate.sock" }, "--allow-write"],
      [{ name: "net" }, "--allow-net"],
    ],
  );
});
