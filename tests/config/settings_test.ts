import { assert, assertEquals, assertThrows } from "../_util/assert.ts";
import {
  convertValue,
  EXPECTED,
  parseByteSize,
  parseDurationMs,
  type SettingDefinition,
  type SettingKind,
} from "../../src/config/settings.ts";

/** A setting of `kind` that stores nothing (choices: text, json). */
function definitionOf(
  kind: SettingKind,
  extra: Partial<SettingDefinition> = {},
): SettingDefinition {
  return {
    flag: `--${kind}`,
    key: kind,
    kind,
    help: kind,
    ...(kind === "choice" ? { choices: ["text", "json"] } : {}),
    apply() {},
    ...extra,
  };
}

Deno.test("convertValue accepts each kind's strings and, from a file, its numbers and lists", async (t) => {
  // [kind, raw value, converted value]
  const cases: [SettingKind, unknown, unknown][] = [
    ["listen", "0.0.0.0:8080", { hostname: "0.0.0.0", port: 8080 }],
    ["listen", "[::1]:0", { hostname: "::1", port: 0 }],
    ["listen", "unix:/run/wsgate.sock", { unixSocket: "/run/wsgate.sock" }],
    ["target", "127.0.0.1:9000", "127.0.0.1:9000"],
    ["target", "unix:/run/app.sock", "unix:/run/app.sock"],
    ["framing", "u32be,max=1m", "u32be,max=1m"],
    ["duration", "500ms", 500],
    ["duration", "20", 20000],
    ["duration", 20, 20000],
    ["duration", 0.5, 500],
    ["bytes", "64k", 65536],
    ["bytes", 4096, 4096],
    ["count", "10", 10],
    ["count", 10, 10],
    ["choice", "json", "json"],
    ["choice", "text", "text"],
    ["list", "https://a.test", ["https://a.test"]],
    ["list", ["https://a.test", "*"], ["https://a.test", "*"]],
    ["list", [], []],
    ["path", "www", "www"],
    ["name", "SECRET", "SECRET"],
    ["flag", true, true],
    ["flag", "false", false],
    ["workers", "auto", 0],
    ["workers", 3, 3],
  ];
  for (const [kind, raw, expected] of cases) {
    await t.step(`${kind} ${JSON.stringify(raw)}`, () => {
      assertEquals(convertValue(definitionOf(kind), raw), expected);
    });
  }
});

Deno.test("convertValue rejects a bad value saying what its kind expects", async (t) => {
  // [kind, raw value]
  const cases: [SettingKind, unknown][] = [
    ["listen", "8080"],
    ["listen", 8080],
    ["listen", "127.0.0.1:65536"],
    ["listen", "unix:"],
    ["target", "nope"],
    ["target", "127.0.0.1:0"],
    ["target", true],
    ["framing", "u7"],
    ["framing", 32],
    ["duration", "soon"],
    ["duration", -1],
    ["duration", null],
    ["bytes", "1g"],
    ["bytes", 1.5],
    ["bytes", [1]],
    ["count", "-1"],
    ["count", 2.5],
    ["choice", "xml"],
    ["choice", 1],
    ["list", ""],
    ["list", ["https://a.test", 1]],
    ["list", { origin: "https://a.test" }],
    ["path", ""],
    ["name", ""],
    ["flag", "yes"],
    ["flag", 1],
    ["workers", "0"],
    ["workers", 0],
    ["workers", "two"],
  ];
  for (const [kind, raw] of cases) {
    await t.step(`${kind} ${JSON.stringify(raw)}`, () => {
      const definition = definitionOf(kind);
      assertThrows(() => convertValue(definition, raw), (error: unknown) => {
        assert(error instanceof Error);
        assert(
          /expected|must be/.test(error.message),
          `"${error.message}" does not say what is expected`,
        );
        return true;
      });
    });
  }
});

Deno.test("convertValue words every kind's error with EXPECTED or the listed choices", async (t) => {
  for (const kind of Object.keys(EXPECTED) as SettingKind[]) {
    const definition = definitionOf(kind);
    // A structured value no kind accepts: the error is the generic one.
    await t.step(kind, () => {
      assertThrows(
        () => convertValue(definition, { nope: true }),
        (error: unknown) => {
          assert(error instanceof TypeError, String(error));
          const wording = kind === "choice"
            ? definition.choices!.join(", ")
            : EXPECTED[kind];
          assert(
            error.message.includes(wording),
            `"${error.message}" lacks "${wording}"`,
          );
          return true;
        },
      );
    });
  }
});

Deno.test("convertValue refuses a size or count below the setting's min with a RangeError", () => {
  for (const kind of ["bytes", "count"] as const) {
    const definition = definitionOf(kind, { min: 2 });
    assertEquals(convertValue(definition, "2"), 2);
    assertThrows(
      () => convertValue(definition, "1"),
      RangeError,
      `expected ${EXPECTED[kind]}, at least 2`,
    );
  }
});

Deno.test("parseDurationMs reads plain seconds and ms, s, m, h units", () => {
  assertEquals(
    ["20", "20s", "500ms", "1.5s", "5m", "1h", "0", " 7 "].map(parseDurationMs),
    [20000, 20000, 500, 1500, 300000, 3600000, 0, 7000],
  );
});

Deno.test("parseDurationMs refuses negative, unitless words and unknown units", () => {
  for (const text of ["", "-1", "1d", "s", "1e3", "1 s", "ms", "1.s"]) {
    assertEquals(parseDurationMs(text), undefined, JSON.stringify(text));
  }
});

Deno.test("parseByteSize reads whole bytes with k and m suffixes in either case", () => {
  assertEquals(
    ["0", "65536", "64k", "64K", "1m", "1M"].map(parseByteSize),
    [0, 65536, 65536, 65536, 1048576, 1048576],
  );
});

Deno.test("parseByteSize refuses fractions, signs and other units", () => {
  for (const text of ["", "1g", "1.5k", "-1", "k", "1kb", "0x10"]) {
    assertEquals(parseByteSize(text), undefined, JSON.stringify(text));
  }
});
