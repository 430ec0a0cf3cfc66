import assert from "node:assert/strict";
import {
  backoffDelayMs,
  QueueFullError,
  WsgateClient,
  type WsgateClientOptions,
  type WsgateCloseEvent,
  type WsgateReconnectEvent,
} from "../../src/client/wsgate_client.js";

/** A loopback WebSocket echo server that hands out its server-side sockets. */
interface EchoServer extends AsyncDisposable {
  url: string;
  /** Resolves with the server side of the next connection, once open. */
  nextSocket(): Promise<WebSocket>;
  /** Resolves with the next message any server socket receives. */
  nextMessage(): Promise<string | Uint8Array>;
}

function startEchoServer(): EchoServer {
  const sockets: WebSocket[] = [];
  const socketWaiters: ((socket: WebSocket) => void)[] = [];
  const messages: (string | Uint8Array)[] = [];
  const messageWaiters: ((message: string | Uint8Array) => void)[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.binaryType = "arraybuffer";
      socket.onopen = () => {
        const waiter = socketWaiters.shift();
        if (waiter) waiter(socket);
        else sockets.push(socket);
      };
      socket.onmessage = (event) => {
        const message = typeof event.data === "string"
          ? event.data
          : new Uint8Array(event.data);
        const waiter = messageWaiters.shift();
        if (waiter) waiter(message);
        else messages.push(message);
        socket.send(event.data);
      };
      return response;
    },
  );
  return {
    url: `ws://127.0.0.1:${server.addr.port}/echo`,
    nextSocket() {
      const socket = sockets.shift();
      if (socket) return Promise.resolve(socket);
      return new Promise((resolve) => socketWaiters.push(resolve));
    },
    nextMessage() {
      const message = messages.shift();
      if (message !== undefined) return Promise.resolve(message);
      return new Promise((resolve) => messageWaiters.push(resolve));
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

function nextEvent<E extends Event>(
  target: EventTarget,
  type: string,
): Promise<E> {
  return new Promise((resolve) =>
    target.addEventListener(type, (event) => resolve(event as E), {
      once: true,
    })
  );
}

async function closeClient(client: WsgateClient): Promise<WsgateCloseEvent> {
  const closed = nextEvent<WsgateCloseEvent>(client, "close");
  client.close();
  const event = await closed;
  assert.equal(event.willReconnect, false);
  return event;
}

Deno.test("WsgateClient opens and echoes text and binary messages", async () => {
  await using server = startEchoServer();
  const client = new WsgateClient(server.url);
  assert.equal(client.readyState, "connecting");
  await nextEvent(client, "open");
  assert.equal(client.readyState, "open");
  assert.equal(client.url, server.url);

  let reply = nextEvent<MessageEvent>(client, "message");
  assert.equal(client.send("héllo"), true);
  assert.equal((await reply).data, "héllo");

  reply = nextEvent<MessageEvent>(client, "message");
  assert.equal(client.send(Uint8Array.of(0, 1, 255)), true);
  const data = (await reply).data;
  assert.ok(data instanceof Uint8Array);
  assert.deepEqual(data, Uint8Array.of(0, 1, 255));

  reply = nextEvent<MessageEvent>(client, "message");
  client.send(Uint8Array.of(9, 8).buffer);
  assert.deepEqual((await reply).data, Uint8Array.of(9, 8));

  const closed = await closeClient(client);
  assert.equal(closed.code, 1000);
  assert.equal(client.readyState, "closed");
  assert.throws(
    () => client.send("late"),
    (error: unknown) =>
      error instanceof DOMException && error.name === "InvalidStateError",
  );
  client.close();
});

Deno.test("WsgateClient reconnects after a server-side close and delivers messages queued while down", async () => {
  await using server = startEchoServer();
  const client = new WsgateClient(server.url, {
    initialDelayMs: 20,
    random: () => 0.5,
  });
  await nextEvent(client, "open");
  const first = await server.nextSocket();

  const sendResults: boolean[] = [];
  const dropped = Promise.withResolvers<WsgateCloseEvent>();
  client.addEventListener("close", (event) => {
    // Runs while disconnected: these must be queued, not lost.
    sendResults.push(client.send("queued text"));
    sendResults.push(client.send(Uint8Array.of(7, 7, 7)));
    dropped.resolve(event);
  }, { once: true });
  const reconnect = nextEvent<WsgateReconnectEvent>(client, "reconnect");
  const reopened = nextEvent(client, "open");
  const drained = nextEvent(client, "drain");
  first.close(4001, "kicked");

  const closeEvent = await dropped.promise;
  assert.deepEqual(
    {
      code: closeEvent.code,
      reason: closeEvent.reason,
      willReconnect: closeEvent.willReconnect,
    },
    { code: 4001, reason: "kicked", willReconnect: true },
  );
  assert.deepEqual(sendResults, [false, false]);
  assert.equal(client.queuedMessages, 2);
  assert.equal(client.queuedBytes, 14);
  const reconnectEvent = await reconnect;
  assert.deepEqual({
    attempt: reconnectEvent.attempt,
    delayMs: reconnectEvent.delayMs,
  }, { attempt: 1, delayMs: 15 });
  assert.equal(client.readyState, "reconnecting");

  await reopened;
  await drained;
  assert.equal(client.queuedMessages, 0);
  await server.nextSocket();
  assert.equal(await server.nextMessage(), "queued text");
  assert.deepEqual(await server.nextMessage(), Uint8Array.of(7, 7, 7));
  await closeClient(client);
});

Deno.test("WsgateClient.send throws QueueFullError when the queue is full", async () => {
  await using server = startEchoServer();
  const byCount = new WsgateClient(server.url, { maxQueuedMessages: 2 });
  // Still connecting: sends are queued.
  assert.equal(byCount.send("a"), false);
  assert.equal(byCount.send("b"), false);
  assert.throws(() => byCount.send("c"), (error: unknown) => {
    assert.ok(error instanceof QueueFullError);
    assert.equal(error.name, "QueueFullError");
    assert.equal(error.queuedMessages, 2);
    return true;
  });

  // Sizes count UTF-8 bytes: "€" is 3 bytes, "😀" is 4.
  const byBytes = new WsgateClient(server.url, { maxQueuedBytes: 7 });
  byBytes.send("€");
  byBytes.send(Uint8Array.of(1));
  assert.throws(() => byBytes.send("😀"), QueueFullError);
  byBytes.send("€");
  assert.equal(byBytes.queuedBytes, 7);

  // Queued messages of a client closed while connecting are dropped.
  await closeClient(byBytes);
  assert.equal(byBytes.queuedMessages, 0);
  await nextEvent(byCount, "open");
  assert.equal(await server.nextMessage(), "a");
  assert.equal(await server.nextMessage(), "b");
  await closeClient(byCount);
});

Deno.test("WsgateClient does not reconnect after close() is called in a close listener", async () => {
  await using server = startEchoServer();
  const client = new WsgateClient(server.url, { initialDelayMs: 5 });
  await nextEvent(client, "open");
  const events: string[] = [];
  client.addEventListener("reconnect", () => events.push("reconnect"));
  const final = Promise.withResolvers<WsgateCloseEvent>();
  client.addEventListener("close", (event) => {
    events.push(`close ${event.code} ${event.willReconnect}`);
    if (event.willReconnect) client.close(1000, "user");
    else final.resolve(event);
  });
  (await server.nextSocket()).close(1012, "restart");
  const event = await final.promise;
  assert.deepEqual(events, ["close 1012 true", "close 1000 false"]);
  assert.equal(event.reason, "user");
  assert.equal(client.readyState, "closed");
  // The sanitizers fail this test if the reconnect timer were still pending.
});

Deno.test("WsgateClient does not reconnect after a 1008 policy close", async () => {
  await using server = startEchoServer();
  const client = new WsgateClient(server.url, { initialDelayMs: 5 });
  await nextEvent(client, "open");
  let reconnects = 0;
  client.addEventListener("reconnect", () => reconnects++);
  const closed = nextEvent<WsgateCloseEvent>(client, "close");
  (await server.nextSocket()).close(1008, "origin not allowed");
  const event = await closed;
  assert.deepEqual(
    {
      code: event.code,
      reason: event.reason,
      willReconnect: event.willReconnect,
      reconnects,
    },
    {
      code: 1008,
      reason: "origin not allowed",
      willReconnect: false,
      reconnects: 0,
    },
  );
  assert.equal(client.readyState, "closed");
  assert.throws(() => client.send("x"), DOMException);
});

Deno.test("WsgateClient backs off with capped equal jitter and gives up after maxAttempts", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  const options: WsgateClientOptions = {
    initialDelayMs: 8,
    maxDelayMs: 20,
    maxAttempts: 3,
    random: () => 0.5,
  };
  const client = new WsgateClient(`ws://127.0.0.1:${port}/`, options);
  const log: string[] = [];
  const final = Promise.withResolvers<void>();
  client.addEventListener(
    "reconnect",
    (event) => log.push(`reconnect ${event.attempt} ${event.delayMs}`),
  );
  client.addEventListener("close", (event) => {
    log.push(`close ${event.code} ${event.willReconnect}`);
    if (!event.willReconnect) final.resolve();
  });
  await final.promise;
  assert.deepEqual(log, [
    "close 1006 true",
    "reconnect 1 6",
    "close 1006 true",
    "reconnect 2 12",
    "close 1006 true",
    "reconnect 3 15",
    "close 1006 false",
  ]);
  assert.equal(client.readyState, "closed");
});

Deno.test("WsgateClient sends the application heartbeat while open", async () => {
  await using server = startEchoServer();
  const client = new WsgateClient(server.url, {
    heartbeatIntervalMs: 5,
    heartbeatMessage: "hb",
  });
  for (let i = 0; i < 3; i++) assert.equal(await server.nextMessage(), "hb");
  await closeClient(client);
});

Deno.test("WsgateClient.send returns false above highWaterMarkBytes and then fires drain", async () => {
  await using server = startEchoServer();
  const client = new WsgateClient(server.url, {
    highWaterMarkBytes: 1024,
    drainCheckIntervalMs: 1,
  });
  await nextEvent(client, "open");
  const drained = nextEvent(client, "drain");
  assert.equal(client.send(new Uint8Array(256 * 1024)), false);
  assert.ok(client.bufferedAmount > 1024);
  await drained;
  assert.ok(client.bufferedAmount <= 1024);
  assert.equal((await server.nextMessage()).length, 256 * 1024);
  await closeClient(client);
});

Deno.test("WsgateClient rejects bad options and URL schemes before connecting", async (t) => {
  const cases: [string, () => unknown, ErrorConstructor][] = [
    [
      "negative initialDelayMs",
      () => new WsgateClient("ws://127.0.0.1:1/", { initialDelayMs: -1 }),
      RangeError,
    ],
    [
      "NaN maxQueuedBytes",
      () =>
        new WsgateClient("ws://127.0.0.1:1/", { maxQueuedBytes: Number.NaN }),
      RangeError,
    ],
    [
      "zero drainCheckIntervalMs",
      () => new WsgateClient("ws://127.0.0.1:1/", { drainCheckIntervalMs: 0 }),
      RangeError,
    ],
    ["ftp scheme", () => new WsgateClient("ftp://127.0.0.1/"), SyntaxError],
  ];
  for (const [name, create, type] of cases) {
    await t.step(name, () => assert.throws(create, type));
  }
  const client = new WsgateClient("http://127.0.0.1:1/x", { reconnect: false });
  assert.equal(client.url, "ws://127.0.0.1:1/x");
  await nextEvent(client, "close");
});

/**
 * A WebSocket server that upgrades and then closes with 1011 at once, as
 * wsgate does for a route whose backend is down, except for the connections
 * `greet` picks: those get one message and stay open until the test closes
 * them.
 */
function startFlakyServer(greet: (connection: number) => boolean): EchoServer {
  let connections = 0;
  const greeted: WebSocket[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const { socket, response } = Deno.upgradeWebSocket(request);
      const connection = ++connections;
      socket.onopen = () => {
        if (greet(connection)) {
          greeted.push(socket);
          socket.send("hello");
        } else socket.close(1011, "backend unreachable");
      };
      return response;
    },
  );
  return {
    url: `ws://127.0.0.1:${server.addr.port}/down`,
    nextSocket() {
      const socket = greeted.shift();
      assert.ok(socket !== undefined, "no greeted connection");
      return Promise.resolve(socket);
    },
    nextMessage() {
      return Promise.reject(new Error("not recorded"));
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** Collects `count` reconnect events as `[attempt, delayMs]` pairs. */
function collectReconnects(
  client: WsgateClient,
  count: number,
): Promise<[number, number][]> {
  const seen: [number, number][] = [];
  const done = Promise.withResolvers<[number, number][]>();
  const onReconnect = (event: WsgateReconnectEvent) => {
    seen.push([event.attempt, event.delayMs]);
    if (seen.length === count) {
      client.removeEventListener("reconnect", onReconnect);
      done.resolve(seen);
    }
  };
  client.addEventListener("reconnect", onReconnect);
  return done.promise;
}

// Regression: the attempt count was reset on every open, so a route whose
// backend is down (upgrade, then 1011) was retried at attempt 1 forever.
Deno.test("WsgateClient keeps backing off when every connection opens and closes at once with 1011", async () => {
  await using server = startFlakyServer(() => false);
  let opens = 0;
  const client = new WsgateClient(server.url, {
    initialDelayMs: 4,
    maxDelayMs: 32,
    random: () => 0,
  });
  client.addEventListener("open", () => opens++);
  const reconnects = await collectReconnects(client, 6);
  assert.deepEqual(reconnects, [[1, 2], [2, 4], [3, 8], [4, 16], [5, 16], [
    6,
    16,
  ]]);
  assert.ok(opens >= 5, `opened ${opens} times`);
  assert.equal(client.attempt, 6);
  assert.equal(client.isEstablished, false);
  await closeClient(client);
});

Deno.test("WsgateClient starts again from attempt 1 once a connection received a message", async () => {
  // Connections 1-3 close at once; the 4th greets and stays open.
  await using server = startFlakyServer((connection) => connection === 4);
  const client = new WsgateClient(server.url, {
    initialDelayMs: 4,
    random: () => 0,
  });
  const failing = await collectReconnects(client, 3);
  assert.deepEqual(failing, [[1, 2], [2, 4], [3, 8]]);
  const established = nextEvent(client, "established");
  const message = nextEvent<MessageEvent>(client, "message");
  await established;
  assert.equal((await message).data, "hello");
  assert.equal(client.attempt, 0);
  assert.equal(client.isEstablished, true);
  const next = collectReconnects(client, 1);
  (await server.nextSocket()).close(1011, "backend gone");
  assert.deepEqual(await next, [[1, 2]]);
  await closeClient(client);
});

Deno.test("WsgateClient counts a connection as established after stableAfterMs without messages", async () => {
  await using server = startEchoServer();
  const client = new WsgateClient(server.url, {
    stableAfterMs: 10,
    initialDelayMs: 4,
    random: () => 0,
  });
  await nextEvent(client, "open");
  assert.equal(client.isEstablished, false);
  await nextEvent(client, "established");
  assert.equal(client.isEstablished, true);
  const next = collectReconnects(client, 1);
  (await server.nextSocket()).close(1012, "restart");
  assert.deepEqual(await next, [[1, 2]]);
  await closeClient(client);
});

Deno.test("backoffDelayMs grows each delay past the previous cap and stops at maxDelayMs", async (t) => {
  const options = { initialDelayMs: 100, maxDelayMs: 1000 };
  for (const random of [0, 0.5, 0.999]) {
    await t.step(`random ${random}`, () => {
      const delays = Array.from(
        { length: 8 },
        (_, i) => backoffDelayMs(i + 1, { ...options, random: () => random }),
      );
      for (let i = 1; i < 5; i++) assert.ok(delays[i]! > delays[i - 1]!);
      for (const delay of delays) assert.ok(delay >= 50 && delay < 1000);
      assert.equal(delays[7], Math.floor(500 + random * 500));
    });
  }
});
