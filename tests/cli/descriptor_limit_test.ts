import { assertEquals } from "../_util/assert.ts";
import {
  applySessionCap,
  parseOpenFileLimit,
  sessionLimitFor,
} from "../../src/cli/descriptor_limit.ts";

Deno.test("parseOpenFileLimit reads the soft limit and gives undefined when unlimited or absent", () => {
  const table =
    "Limit                     Soft Limit           Hard Limit           Units\n" +
    "Max processes             63704                63704                processes\n" +
    "Max open files            1024                 524288               files\n";
  assertEquals(parseOpenFileLimit(table), 1024);
  assertEquals(
    parseOpenFileLimit("Max open files  unlimited  unlimited  files\n"),
    undefined,
  );
  assertEquals(parseOpenFileLimit("Max processes 1 1 processes\n"), undefined);
});

Deno.test("sessionLimitFor keeps 64 descriptors aside, counts 3 per session, splits among workers and stays within 1..10000", () => {
  assertEquals(sessionLimitFor(100, 1), 12);
  assertEquals(sessionLimitFor(1024, 1), 320);
  assertEquals(sessionLimitFor(1024, 4), 80);
  assertEquals(sessionLimitFor(65536, 1), 10000);
  assertEquals(sessionLimitFor(64, 1), 1);
});

Deno.test("applySessionCap fills an unset maxSessions, keeps a set one and warns only when it is above the cap", () => {
  assertEquals(applySessionCap({}, 12).options.maxSessions, 12);
  assertEquals(applySessionCap({ maxSessions: 5 }, 12), {
    options: { maxSessions: 5 },
    warning: undefined,
  });
  const over = applySessionCap({ maxSessions: 50 }, 12);
  assertEquals(over.options.maxSessions, 50);
  assertEquals(typeof over.warning, "string");
  assertEquals(applySessionCap({}, undefined), {
    options: {},
    warning: undefined,
  });
});
