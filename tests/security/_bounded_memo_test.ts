import assert from "node:assert/strict";
import { boundedMemo, memoized } from "../../src/security/_bounded_memo.ts";

Deno.test("memoized parses each distinct text once, remembering undefined results too", () => {
  const memo = boundedMemo<number>(8);
  const calls: string[] = [];
  const parse = (text: string) => {
    calls.push(text);
    return text === "bad" ? undefined : text.length;
  };
  for (let i = 0; i < 3; i++) {
    assert.equal(memoized(memo, "abc", parse), 3);
    assert.equal(memoized(memo, "bad", parse), undefined);
  }
  assert.deepEqual(calls, ["abc", "bad"]);
});

Deno.test("memoized forgets everything once the limit is reached, so distinct texts cannot grow it", () => {
  const memo = boundedMemo<string>(4);
  const parse = (text: string) => text.toUpperCase();
  for (let i = 0; i < 100; i++) {
    assert.equal(memoized(memo, `k${i}`, parse), `K${i}`);
    assert.ok(memo.results.size <= 4, `size ${memo.results.size}`);
  }
});
