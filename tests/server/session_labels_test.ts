import { assert, assertModule, assertStrictEquals } from "../_util/assert.ts";
import { nextSessionId } from "../../src/server/session_labels.ts";

Deno.test("nextSessionId counts up under one process prefix and never repeats", () => {
  const ids = Array.from({ length: 100 }, () => nextSessionId());
  assertStrictEquals(new Set(ids).size, ids.length);
  const prefixes = new Set(ids.map((id) => id.split("-")[0]));
  assertStrictEquals(prefixes.size, 1);
  for (const id of ids) assertModule.match(id, /^[0-9a-f]{4}-[0-9a-z]+$/);
  const [first, last] = [ids[0]!, ids.at(-1)!];
  assert(
    parseInt(last.split("-")[1]!, 36) > parseInt(first.split("-")[1]!, 36),
  );
});
