import { assert } from "./_util/assert.ts";
import { SETTINGS } from "../src/cli/cli_settings.ts";
import { CloseCode } from "../src/session/close_codes.ts";

const README = await Deno.readTextFile(
  new URL("../README.md", import.meta.url),
);

// The README is the operator's contract: a flag or close code that exists
// in code but not there is a documentation bug.
Deno.test("README documents every flag with its config key", () => {
  for (const setting of SETTINGS) {
    assert(
      README.includes(`\`${setting.flag}`),
      `README lacks ${setting.flag}`,
    );
    assert(
      README.includes(`[\`${setting.key}\`]`),
      `README lacks [${setting.key}]`,
    );
  }
});

Deno.test("README documents every close code wsgate sends", () => {
  const never = [
    CloseCode.NO_STATUS,
    CloseCode.ABNORMAL,
    CloseCode.TRY_AGAIN_LATER,
  ];
  for (const [name, code] of Object.entries(CloseCode)) {
    if ((never as number[]).includes(code)) continue;
    assert(
      new RegExp(`\\|\\s*${code}\\s*\\|`).test(README),
      `README lacks close code ${code} (${name})`,
    );
  }
});
