import { assert, assertEquals, assertThrows } from "../_util/assert.ts";
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
        case "broken":
          return new Response("oops", { status: 500 });
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

Deno.test("JsonTokenApiResolver fails closed with 503 when the API cannot be reached or fails", async () => {
  await using api = startApi();
  const broken = await new JsonTokenApiResolver(
    `http://127.0.0.1:${api.addr.port}/t/%s`,
  ).resolve("broken");
  assertEquals(broken.kind === "refuse" ? broken.status : 0, 503);
  const down = startApi();
  const port = down.addr.port;
  await down.shutdown();
  const resolver = new JsonTokenApiResolver(`http://127.0.0.1:${port}/t/%s`);
  const resolution = await resolver.resolve("vm1");
  assert(resolution.kind === "refuse");
  assertEquals(resolution.status, 503);
  assert(
    resolution.detail.startsWith("token_api_unavailable: JSONTokenApi "),
    resolution.detail,
  );
});

Deno.test("JsonTokenApiResolver fails closed with 503 when the API answers later than timeoutMs", async () => {
  const answered = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  await using api = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async () => {
      answered.resolve();
      await release.promise;
      return Response.json({ host: "h", port: 1 });
    },
  );
  const resolver = new JsonTokenApiResolver(
    `http://127.0.0.1:${api.addr.port}/t/%s`,
    { timeoutMs: 200 },
  );
  try {
    const resolution = await resolver.resolve("vm1");
    assertEquals(resolution.kind === "refuse" ? resolution.status : 0, 503);
    await answered.promise;
  } finally {
    release.resolve();
  }
});

Deno.test("JsonTokenApiResolver refuses a URL without %s", () => {
  assertThrows(() => new JsonTokenApiResolver("http://x/"), SyntaxError);
});
