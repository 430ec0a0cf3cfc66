/**
 * {@linkcode RedisClient}: a small RESP2 client over one connection with
 * pipelining, connect and command deadlines, reconnect with backoff, AUTH and
 * SELECT, and scripts run by EVALSHA with a fallback to EVAL on NOSCRIPT.
 *
 * @module
 */

import { RespConnection } from "./_resp_connection.ts";
import {
  encodeCommand,
  type RespArgument,
  type RespDecoderOptions,
  type RespValue,
} from "./resp.ts";
import { StoreReplyError, StoreUnavailableError } from "./store_errors.ts";
import type { StoreAddress } from "./store_url.ts";

/** Options of {@linkcode RedisClient}. */
export interface RedisClientOptions {
  /**
   * The password for AUTH; overrides one in the address (read it from an env
   * var or a file, see `readStorePassword`).
   * @default {undefined} the address's password, or no AUTH
   */
  password?: string;
  /**
   * The longest wait for the connection and its AUTH and SELECT, in ms.
   * @default {1000}
   */
  connectTimeoutMs?: number;
  /**
   * The longest wait for a command's reply, in ms; when it passes, the
   * connection is dropped and every command in flight fails.
   * @default {1000}
   */
  commandTimeoutMs?: number;
  /**
   * The first wait after a failed connect before the next attempt, in ms;
   * it doubles after each failure. Commands in the wait fail at once.
   * @default {50}
   */
  minBackoffMs?: number;
  /**
   * The longest wait between connect attempts, in ms.
   * @default {2000}
   */
  maxBackoffMs?: number;
  /**
   * PEM CA certificates trusted for `rediss://`, besides the system's.
   * @default {undefined}
   */
  caCerts?: string[];
  /**
   * Limits on the replies, checked before allocating.
   * @default {{}}
   */
  replyLimits?: RespDecoderOptions;
}

/**
 * A Lua script with its SHA-1, computed once, for {@linkcode RedisClient.evalScript}.
 *
 * @example Usage
 * ```ts
 * import { StoreScript } from "./redis_client.ts";
 * import assert from "node:assert/strict";
 * const script = await StoreScript.create("return 1");
 * assert.equal(script.sha1, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
 * ```
 */
export class StoreScript {
  /** The Lua source. */
  readonly source: string;
  /** The hex SHA-1 of the source, as EVALSHA expects. */
  readonly sha1: string;
  private constructor(source: string, sha1: string) {
    this.source = source;
    this.sha1 = sha1;
  }
  /**
   * Hashes a script.
   * @param source The Lua source.
   * @returns The script.
   */
  static async create(source: string): Promise<StoreScript> {
    const digest = await crypto.subtle.digest(
      "SHA-1",
      new TextEncoder().encode(source),
    );
    const hex = Array.from(
      new Uint8Array(digest),
      (byte) => byte.toString(16).padStart(2, "0"),
    ).join("");
    return new StoreScript(source, hex);
  }
}

/**
 * A RESP client on one connection, opened on the first command. Commands
 * issued together are pipelined; replies are matched in order. When the
 * store cannot be reached or does not answer in time, commands reject with
 * {@linkcode StoreUnavailableError}; an error reply rejects with
 * {@linkcode StoreReplyError}.
 *
 * @example Usage
 * ```ts ignore
 * import { RedisClient } from "./redis_client.ts";
 * import { parseStoreUrl } from "./store_url.ts";
 * await using client = new RedisClient(parseStoreUrl("redis://127.0.0.1:6379"));
 * await client.send(["SET", "k", "v"]);
 * console.log(await client.send(["GET", "k"])); // "v"
 * ```
 */
export class RedisClient {
  #address: StoreAddress;
  #password: string | undefined;
  #connectTimeoutMs: number;
  #commandTimeoutMs: number;
  #minBackoffMs: number;
  #maxBackoffMs: number;
  #caCerts: string[] | undefined;
  #replyLimits: RespDecoderOptions;
  #connection: RespConnection | null = null;
  #connecting: Promise<RespConnection> | null = null;
  #failures = 0;
  #nextAttemptMs = 0;
  #isClosed = false;

  /**
   * Constructs a new instance; nothing connects until the first command.
   * @param address Where the store is (see `parseStoreUrl`).
   * @param options Deadlines, backoff, password.
   */
  constructor(address: StoreAddress, options: RedisClientOptions = {}) {
    const {
      password = address.password,
      connectTimeoutMs = 1000,
      commandTimeoutMs = 1000,
      minBackoffMs = 50,
      maxBackoffMs = 2000,
      caCerts,
      replyLimits = {},
    } = options;
    for (
      const [name, value] of Object.entries({
        connectTimeoutMs,
        commandTimeoutMs,
        minBackoffMs,
        maxBackoffMs,
      })
    ) {
      if (!Number.isFinite(value) || value < 0) {
        throw new RangeError(
          `Cannot create store client as ${name} must be a finite number >= 0: current value is ${value}`,
        );
      }
    }
    this.#address = address;
    this.#password = password;
    this.#connectTimeoutMs = connectTimeoutMs;
    this.#commandTimeoutMs = commandTimeoutMs;
    this.#minBackoffMs = minBackoffMs;
    this.#maxBackoffMs = maxBackoffMs;
    this.#caCerts = caCerts;
    this.#replyLimits = replyLimits;
  }

  /** Whether a connection is open now. */
  get isConnected(): boolean {
    return this.#connection?.isOpen ?? false;
  }

  /**
   * Sends one command.
   * @param args The command name and its arguments.
   * @returns The reply.
   * @throws {StoreReplyError} When the server answers with an error.
   * @throws {StoreUnavailableError} When the store is unreachable or late.
   */
  async send(args: readonly RespArgument[]): Promise<RespValue> {
    const reply = await (await this.#connect()).send(encodeCommand(args));
    if (reply instanceof StoreReplyError) throw reply;
    return reply;
  }

  /**
   * Sends several commands in one write and waits for all their replies.
   * @param commands The commands, in order.
   * @returns The replies in the same order; an error reply is a
   * {@linkcode StoreReplyError} value in its slot.
   * @throws {StoreUnavailableError} When the store is unreachable or late.
   */
  async pipeline(
    commands: readonly (readonly RespArgument[])[],
  ): Promise<RespValue[]> {
    const connection = await this.#connect();
    return await Promise.all(
      commands.map((args) => connection.send(encodeCommand(args))),
    );
  }

  /**
   * Runs a script by EVALSHA; on NOSCRIPT (a restarted or flushed store),
   * once more by EVAL, which also caches it again.
   * @param script The script.
   * @param keys The keys it touches (`KEYS`).
   * @param options The arguments (`ARGV`).
   * @returns The script's reply.
   * @throws {StoreReplyError} When the script fails.
   * @throws {StoreUnavailableError} When the store is unreachable or late.
   */
  async evalScript(
    script: StoreScript,
    keys: readonly string[],
    options: { args?: readonly RespArgument[] } = {},
  ): Promise<RespValue> {
    const { args = [] } = options;
    try {
      return await this.send([
        "EVALSHA",
        script.sha1,
        keys.length,
        ...keys,
        ...args,
      ]);
    } catch (error) {
      if (!(error instanceof StoreReplyError) || error.prefix !== "NOSCRIPT") {
        throw error;
      }
      return await this.send([
        "EVAL",
        script.source,
        keys.length,
        ...keys,
        ...args,
      ]);
    }
  }

  /** Closes the connection; commands in flight fail. Idempotent. */
  close(): Promise<void> {
    this.#isClosed = true;
    this.#connection?.fail(
      new StoreUnavailableError("Cannot use store client as it is closed"),
    );
    this.#connection = null;
    return this.#connecting?.then(() => {}, () => {}) ?? Promise.resolve();
  }

  /** Closes the client: `await using client = new RedisClient(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #connect(): Promise<RespConnection> {
    if (this.#isClosed) {
      return Promise.reject(
        new StoreUnavailableError("Cannot use store client as it is closed"),
      );
    }
    if (this.#connection?.isOpen) return Promise.resolve(this.#connection);
    if (this.#connecting !== null) return this.#connecting;
    const waitMs = this.#nextAttemptMs - Date.now();
    if (waitMs > 0) {
      return Promise.reject(
        new StoreUnavailableError(
          `Cannot reach store: retrying in ${waitMs} ms after ${this.#failures} failed attempts`,
        ),
      );
    }
    this.#connecting = this.#open().then(
      (connection) => {
        this.#connecting = null;
        this.#failures = 0;
        if (this.#isClosed) {
          connection.fail(
            new StoreUnavailableError(
              "Cannot use store client as it is closed",
            ),
          );
          throw new StoreUnavailableError(
            "Cannot use store client as it is closed",
          );
        }
        this.#connection = connection;
        return connection;
      },
      (error: unknown) => {
        this.#connecting = null;
        this.#failures++;
        const backoffMs = Math.min(
          this.#maxBackoffMs,
          this.#minBackoffMs * 2 ** Math.min(this.#failures - 1, 30),
        );
        this.#nextAttemptMs = Date.now() + backoffMs;
        throw error;
      },
    );
    return this.#connecting;
  }

  async #open(): Promise<RespConnection> {
    const controller = new AbortController();
    const timeout = new StoreUnavailableError(
      `Cannot reach store as it did not connect within ${this.#connectTimeoutMs} ms`,
    );
    const timer = setTimeout(
      () => controller.abort(timeout),
      this.#connectTimeoutMs,
    );
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener("abort", () => reject(timeout), {
        once: true,
      });
    });
    aborted.catch(() => {});
    let connection: RespConnection | null = null;
    try {
      const dialing = this.#dial(controller.signal);
      let conn: Deno.Conn;
      try {
        conn = await Promise.race([dialing, aborted]);
      } catch (error) {
        // A dial that ends after the deadline is closed at once.
        dialing.then((late) => late.close(), () => {});
        if (error instanceof StoreUnavailableError) throw error;
        throw new StoreUnavailableError(
          `Cannot reach store: ${
            error instanceof Error ? error.message : error
          }`,
          { cause: error },
        );
      }
      if ("setNoDelay" in conn && typeof conn.setNoDelay === "function") {
        (conn as Deno.TcpConn).setNoDelay(true);
      }
      connection = new RespConnection(conn, {
        commandTimeoutMs: this.#connectTimeoutMs,
        decoder: this.#replyLimits,
      });
      const setup: RespArgument[][] = [];
      if (this.#password !== undefined) {
        setup.push(
          this.#address.username === undefined
            ? ["AUTH", this.#password]
            : ["AUTH", this.#address.username, this.#password],
        );
      }
      if (this.#address.db !== 0) setup.push(["SELECT", this.#address.db]);
      const replies = await Promise.race([
        Promise.all(setup.map((args) => connection!.send(encodeCommand(args)))),
        aborted,
      ]);
      for (const reply of replies) {
        if (reply instanceof StoreReplyError) throw reply;
      }
      // The setup ran under the connect deadline; commands get their own.
      const ready = connection;
      connection = null;
      return ready.withCommandTimeout(this.#commandTimeoutMs);
    } catch (error) {
      connection?.fail(
        error instanceof Error
          ? error
          : new StoreUnavailableError(String(error)),
      );
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  #dial(signal: AbortSignal): Promise<Deno.Conn> {
    const address = this.#address;
    switch (address.transport) {
      case "unix":
        return Deno.connect({ transport: "unix", path: address.path });
      case "tls":
        return Deno.connectTls({
          hostname: address.hostname,
          port: address.port,
          ...(this.#caCerts === undefined ? {} : { caCerts: this.#caCerts }),
        });
      default:
        return Deno.connect({
          hostname: address.hostname,
          port: address.port,
          signal,
        });
    }
  }
}
