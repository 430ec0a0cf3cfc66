import { assert, assertEquals, assertStrictEquals } from "./_util/assert.ts";
import {
  BackendConnectError,
  ConfigError,
  FrameTooLargeError,
  InvalidMessageError,
  MalformedFrameError,
  TruncatedFrameError,
  WebSocketProtocolError,
} from "../src/errors.ts";

Deno.test("FrameTooLargeError is a RangeError with size, limit and the default message", () => {
  const error = new FrameTooLargeError(70000, 65536);
  assert(error instanceof RangeError);
  assert(error instanceof Error);
  assertStrictEquals(error.name, "FrameTooLargeError");
  assertStrictEquals(error.size, 70000);
  assertStrictEquals(error.limit, 65536);
  assertStrictEquals(
    error.message,
    "Cannot accept frame as its length must be <= 65536: current value is 70000",
  );
});

Deno.test("FrameTooLargeError uses a given message instead of the default one", () => {
  const error = new FrameTooLargeError(2, 1, "Cannot encode message: too big");
  assertStrictEquals(error.message, "Cannot encode message: too big");
  assertStrictEquals(error.size, 2);
  assertStrictEquals(error.limit, 1);
});

Deno.test("MalformedFrameError is a SyntaxError that keeps its message and cause", () => {
  const cause = new Error("inner");
  const error = new MalformedFrameError("Cannot decode frame: bad", { cause });
  assert(error instanceof SyntaxError);
  assertStrictEquals(error.name, "MalformedFrameError");
  assertStrictEquals(error.message, "Cannot decode frame: bad");
  assertStrictEquals(error.cause, cause);
  assertStrictEquals("cause" in new MalformedFrameError("x"), false);
});

Deno.test("InvalidMessageError is a TypeError that keeps its message and cause", () => {
  const error = new InvalidMessageError("invalid UTF-8", { cause: 7 });
  assert(error instanceof TypeError);
  assertStrictEquals(error.name, "InvalidMessageError");
  assertStrictEquals(error.message, "invalid UTF-8");
  assertStrictEquals(error.cause, 7);
});

Deno.test("TruncatedFrameError is an Error with pendingBytes in its message", () => {
  const error = new TruncatedFrameError(3);
  assert(error instanceof Error);
  assert(!(error instanceof RangeError) && !(error instanceof SyntaxError));
  assertStrictEquals(error.name, "TruncatedFrameError");
  assertStrictEquals(error.pendingBytes, 3);
  assertStrictEquals(
    error.message,
    "Cannot finish stream as it ends inside a frame: 3 bytes of an incomplete frame are pending",
  );
});

Deno.test("BackendConnectError names the target and appends an Error cause's message", async (t) => {
  await t.step("an Error cause", () => {
    const cause = new Deno.errors.ConnectionRefused("Connection refused");
    const error = new BackendConnectError("127.0.0.1:1", { cause });
    assert(error instanceof Error);
    assertStrictEquals(error.name, "BackendConnectError");
    assertStrictEquals(error.target, "127.0.0.1:1");
    assertStrictEquals(error.cause, cause);
    assertStrictEquals(
      error.message,
      'Cannot connect to backend "127.0.0.1:1": Connection refused',
    );
  });
  await t.step("a cause that is not an Error adds no detail", () => {
    const error = new BackendConnectError("unix:/run/s", { cause: "boom" });
    assertStrictEquals(
      error.message,
      'Cannot connect to backend "unix:/run/s"',
    );
    assertStrictEquals(error.cause, "boom");
  });
  await t.step("no options", () => {
    const error = new BackendConnectError("[::1]:5");
    assertStrictEquals(error.message, 'Cannot connect to backend "[::1]:5"');
    assertStrictEquals("cause" in error, false);
  });
});

Deno.test("WebSocketProtocolError is a SyntaxError with its message", () => {
  const error = new WebSocketProtocolError("unmasked frame");
  assert(error instanceof SyntaxError);
  assertStrictEquals(error.name, "WebSocketProtocolError");
  assertStrictEquals(error.message, "unmasked frame");
});

Deno.test("ConfigError is a TypeError whose message joins every problem with newlines", () => {
  const problems = ["port: bad", "routes[0].path: bad"];
  const error = new ConfigError(problems);
  assert(error instanceof TypeError);
  assertStrictEquals(error.name, "ConfigError");
  assertEquals(error.problems, problems);
  assertStrictEquals(error.message, "port: bad\nroutes[0].path: bad");
  assertStrictEquals(new ConfigError([]).message, "");
});

Deno.test("error classes show their own name in the stack and String()", () => {
  const errors = [
    new FrameTooLargeError(1, 0),
    new MalformedFrameError("m"),
    new InvalidMessageError("m"),
    new TruncatedFrameError(1),
    new BackendConnectError("h:1"),
    new WebSocketProtocolError("m"),
    new ConfigError(["m"]),
  ];
  for (const error of errors) {
    assert(String(error).startsWith(`${error.name}: `), String(error));
    assert(error.stack?.startsWith(error.name) ?? false, error.stack);
  }
});
