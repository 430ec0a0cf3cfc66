import { assertEquals, assertThrows } from "../_util/assert.ts";
import { JsonTokenApiResolver } from "../../src/routing/json_token_api.ts";

function startApi(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const token = decodeURIComponent(
        new URL(request.url).pathname.slice("/t/".length),
      );
      switch (token) {
        case "vm1":
          return Response.json({ host: "10.0.0.5", port: 5901 });
        case "string port":
          return Response.json({ host: "vm", port: "5902" });
        case "no port":
          return Response.json({ host: "vm" });
        case "text":
          return new Response("vm:5900");
        default:
          return new Response("unknown", { status: 404 });
      }
    },
  );
}

Deno.test("JsonTokenApiResolver reads host and port from the API's JSON", async () => {
  await using api = startApi();
  const resolver = new JsonTokenApiResolver(
    `http://127.0.0.1:${api.addr.port}/t/%s`,
  );
  assertEquals(await resolver.resolve("vm1"), {
    kind: "target",
    target: { transport: "tcp", hostname: "10.0.0.5", port: 5901 },
  });
  assertEquals(await resolver.resolve("string port"), {
    kind: "target",
    target: { transport: "tcp", hostname: "vm", port: 5902 },
  });
});

Deno.test("JsonTokenApiResolver refuses unknown tokens and bad answers with 404", async () => {
  await using api = startApi();
  const resolver = new JsonTokenApiResolver(
    `http://127.0.0.1:${api.addr.port}/t/%s`,
  );
  for (const token of ["nope", "no port", "text"]) {
    const resolution = await resolver.resolve(token);
    assertEquals(
      resolution.kind === "refuse" ? resolution.status : 0,
      404,
      token,
    );
  }
});

Deno.test("JsonTokenApiResolver answers 502 when the API cannot be reached", async () => {
  const api = startApi();
  const port = api.addr.port;
  await api.shutdown();
  const resolver = new JsonTokenApiResolver(`http://127.0.0.1:${port}/t/%s`);
  const resolution = await resolver.resolve("vm1");
  assertEquals(resolution.kind === "refuse" ? resolution.status : 0, 502);
});

Deno.test("JsonTokenApiResolver refuses a URL without %s", () => {
  assertThrows(() => new JsonTokenApiResolver("http://x/"), SyntaxError);
});
