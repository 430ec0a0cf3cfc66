/**
 * Mutation runner: applies one-line mutants from `mutants.ts` to a throw-away
 * copy of the repository, one at a time, runs the tests each mutant names
 * with a time limit, and reports which were caught. A tool, not a CI step.
 *
 * Usage: `deno task mutants [--list] [--only ID[,ID...]] [--timeout-ms N]`
 *
 * Statuses: `caught` (tests failed), `missed` (tests passed with the bug),
 * `timeout` (tests ran past the limit), `not-found` (the find string does not
 * occur exactly once: the code moved, update the mutant), `equivalent`
 * (listed as such with a reason; not run).
 *
 * @module
 */

import { type Mutant, MUTANTS } from "./mutants.ts";

type Status = "caught" | "missed" | "timeout" | "not-found" | "equivalent";

interface Outcome {
  mutant: Mutant;
  status: Status;
  detail: string;
  ms: number;
}

const ENCODER = new TextEncoder();

/** Writes one line to stdout (library lint forbids `console`). */
function printLine(text: string): void {
  const bytes = ENCODER.encode(`${text}\n`);
  for (let at = 0; at < bytes.length;) {
    at += Deno.stdout.writeSync(bytes.subarray(at));
  }
}

function parseArgs(argv: string[]): {
  list: boolean;
  only: Set<string> | undefined;
  timeoutMs: number;
} {
  let list = false;
  let only: Set<string> | undefined;
  let timeoutMs = 180_000;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--list") list = true;
    else if (arg === "--only") {
      only = new Set((argv[++i] ?? "").split(",").filter((s) => s !== ""));
    } else if (arg === "--timeout-ms") timeoutMs = Number(argv[++i]);
    else throw new TypeError(`Cannot parse argument: unknown "${arg}"`);
  }
  return { list, only, timeoutMs };
}

function countOccurrences(text: string, find: string): number {
  let count = 0;
  for (
    let at = text.indexOf(find);
    at !== -1 && count < 2;
    at = text.indexOf(find, at + 1)
  ) count++;
  return count;
}

async function copyRepo(root: string): Promise<string> {
  const listed = await new Deno.Command("git", {
    args: ["ls-files", "-z"],
    cwd: root,
    stdout: "piped",
  }).output();
  if (!listed.success) {
    throw new Error("Cannot list files: git ls-files failed");
  }
  const files = new TextDecoder().decode(listed.stdout).split("\0").filter((
    f,
  ) => f !== "");
  const dir = await Deno.makeTempDir({ prefix: "wsgate_mutants_" });
  for (const file of files) {
    const target = `${dir}/${file}`;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), {
      recursive: true,
    });
    try {
      await Deno.copyFile(`${root}/${file}`, target);
    } catch (error) {
      // A file deleted in the work tree but still tracked: skip it.
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return dir;
}

async function runTests(
  dir: string,
  tests: readonly string[],
  timeoutMs: number,
): Promise<{ status: "caught" | "missed" | "timeout"; detail: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--no-check", "--fail-fast", ...tests],
    cwd: dir,
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  }, timeoutMs);
  const result = await child.output();
  clearTimeout(timer);
  if (timedOut) return { status: "timeout", detail: `> ${timeoutMs} ms` };
  const text = new TextDecoder().decode(result.stdout);
  const failed = text.split("\n").find((line) => / FAILED|=> /.test(line)) ??
    "";
  return result.success
    ? { status: "missed", detail: "" }
    : { status: "caught", detail: failed.trim().slice(0, 100) };
}

async function runMutant(
  dir: string,
  mutant: Mutant,
  timeoutMs: number,
): Promise<Outcome> {
  const started = performance.now();
  if (mutant.equivalent !== undefined) {
    return { mutant, status: "equivalent", detail: mutant.equivalent, ms: 0 };
  }
  const path = `${dir}/${mutant.file}`;
  let original: string;
  try {
    original = await Deno.readTextFile(path);
  } catch {
    return { mutant, status: "not-found", detail: "file missing", ms: 0 };
  }
  const count = countOccurrences(original, mutant.find);
  if (count !== 1) {
    return {
      mutant,
      status: "not-found",
      detail: count === 0
        ? "find string not found"
        : "find string occurs more than once",
      ms: 0,
    };
  }
  await Deno.writeTextFile(path, original.replace(mutant.find, mutant.replace));
  try {
    const { status, detail } = await runTests(dir, mutant.tests, timeoutMs);
    return { mutant, status, detail, ms: performance.now() - started };
  } finally {
    await Deno.writeTextFile(path, original);
  }
}

async function main(): Promise<void> {
  const { list, only, timeoutMs } = parseArgs(Deno.args);
  const chosen = MUTANTS.filter((m) => only === undefined || only.has(m.id));
  if (list) {
    for (const m of chosen) {
      printLine(`${m.id.padEnd(32)} ${m.file}  ${m.note}`);
    }
    return;
  }
  if (only !== undefined && chosen.length !== only.size) {
    const known = new Set(MUTANTS.map((m) => m.id));
    const unknown = [...only].filter((id) => !known.has(id));
    throw new TypeError(`Cannot run mutants: unknown id ${unknown.join(", ")}`);
  }
  const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
  const dir = await copyRepo(root);
  const outcomes: Outcome[] = [];
  try {
    for (const mutant of chosen) {
      const outcome = await runMutant(dir, mutant, timeoutMs);
      outcomes.push(outcome);
      printLine(
        `${outcome.status.padEnd(10)} ${mutant.id.padEnd(32)} ${
          (outcome.ms / 1000).toFixed(1).padStart(6)
        } s  ${outcome.detail}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const counts = new Map<Status, number>();
  for (const o of outcomes) {
    counts.set(o.status, (counts.get(o.status) ?? 0) + 1);
  }
  const run =
    outcomes.filter((o) =>
      o.status !== "not-found" && o.status !== "equivalent"
    ).length;
  const caught = counts.get("caught") ?? 0;
  printLine(
    `\n${outcomes.length} mutants: ${
      [...counts].map(([s, n]) => `${n} ${s}`).join(", ")
    }; score ${run === 0 ? "n/a" : `${Math.round((caught / run) * 100)} %`}`,
  );
  for (const o of outcomes) {
    if (o.status !== "caught") {
      printLine(
        `  ${o.status}: ${o.mutant.id} (${o.mutant.file}) ${o.detail}`,
      );
    }
  }
  if (outcomes.some((o) => o.status === "missed" || o.status === "timeout")) {
    Deno.exitCode = 1;
  }
}

if (import.meta.main) await main();
