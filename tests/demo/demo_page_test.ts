import { assert, assertStrictEquals } from "../_util/assert.ts";
import { demoPageHtml } from "../../src/demo/demo_page.ts";

/** The JavaScript string literal the page builds its WebSocket URL from. */
function routeLiteral(html: string): string {
  const match = /new URL\((.*), location\.href\)/s.exec(html);
  assert(match !== null, "no URL construction in the page");
  return match[1]!;
}

Deno.test("demoPageHtml is a complete HTML document", () => {
  const html = demoPageHtml(["/echo"]);
  assert(html.startsWith("<!doctype html>"));
  assert(html.includes("<title>wsgate demo</title>"));
  assert(html.trimEnd().endsWith("</html>"));
  assertStrictEquals(html.match(/<script\b/g)?.length, 1);
  assertStrictEquals(html.match(/<\/script>/g)?.length, 1);
});

Deno.test("demoPageHtml connects to the first route, or / without routes", () => {
  assertStrictEquals(
    routeLiteral(demoPageHtml(["/echo", "/other"])),
    '"/echo"',
  );
  assertStrictEquals(routeLiteral(demoPageHtml([])), '"/"');
});

Deno.test("demoPageHtml escapes a route that would end the script element", () => {
  const route = '/x</script><script>alert("pwned")</script>';
  const html = demoPageHtml([route]);
  assertStrictEquals(html.match(/<\/script>/g)?.length, 1);
  assert(!html.includes("<script>alert"));
  // The literal still evaluates to the exact route.
  assertStrictEquals(JSON.parse(routeLiteral(html)), route);
});

Deno.test("demoPageHtml keeps quotes, backslashes and line breaks inside the string literal", () => {
  const route = '/a"b\\c\nd\u2028e';
  const literal = routeLiteral(demoPageHtml([route]));
  assertStrictEquals(JSON.parse(literal), route);
  assert(!literal.includes("\n"));
});

Deno.test("demoPageHtml leaves HTML comment openers inert in the script", () => {
  const route = "/<!--<script>";
  const literal = routeLiteral(demoPageHtml([route]));
  assert(!literal.includes("<"), literal);
  assertStrictEquals(JSON.parse(literal), route);
});
