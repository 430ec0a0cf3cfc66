import { assertThrows } from "../_util/assert.ts";
import { closeQuietly } from "../../src/io/close_quietly.ts";

Deno.test("closeQuietly closes an open listener and ignores a second close", () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  closeQuietly(listener);
  closeQuietly(listener);
  assertThrows(() => listener.close(), Deno.errors.BadResource);
});
