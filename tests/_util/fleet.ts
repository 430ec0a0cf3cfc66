/**
 * Helpers for the fleet tests: a config file for a wsgate child process
 * (a ticket route with single-use tickets, a plain route, optionally a
 * store), single-use tickets signed with the same secret, and raw upgrades
 * that report their status and keep the session open when it was admitted.
 *
 * @module
 */

import { importTicketKey, signTicket } from "../../src/security/ticket.ts";
import { RawWsClient } from "./raw_ws_client.ts";
import { spawnWsgate, type WsgateProcess } from "./wsgate_process.ts";

/** The ticket secret every fleet gateway shares. */
export const FLEET_TICKET_SECRET =
  "fleet test secret, at least 32 bytes long, shared";

/** What a fleet gateway's config file holds. */
export interface FleetConfigOptions {
  /** The backend (`host:port`, u32be framing). */
  target: string;
  /** The store URL, if any. */
  store?: string;
  /** `maxSessionsPerIp`. @default {0} none */
  maxSessionsPerIp?: number;
  /** `storeTimeout`, e.g. `"500ms"`. @default {undefined} */
  storeTimeout?: string;
  /** `storeLease`, e.g. `"2s"`. @default {undefined} */
  storeLease?: string;
  /** `workers`. @default {undefined} */
  workers?: number;
  /** `trustProxy`. @default {undefined} */
  trustProxy?: string[];
}

/** A temp dir holding a fleet config and the ticket secret. */
export interface FleetConfig extends AsyncDisposable {
  /** The config file path. */
  path: string;
}

/**
 * Writes a config: route `/t` needs a single-use ticket, route `/` needs
 * nothing; both relay to `target` with u32be framing.
 */
export async function writeFleetConfig(
  options: FleetConfigOptions,
): Promise<FleetConfig> {
  const dir = await Deno.makeTempDir({ prefix: "wsgate_fleet_" });
  await Deno.writeTextFile(`${dir}/ticket.secret`, FLEET_TICKET_SECRET);
  const config: Record<string, unknown> = {
    listen: "127.0.0.1:0",
    ticketSecretFile: "ticket.secret",
    maxSessionsPerIp: options.maxSessionsPerIp ?? 0,
    routes: [
      {
        path: "/t",
        target: options.target,
        framing: "u32be",
        ticket: true,
        singleUseTickets: true,
      },
      { path: "/", target: options.target, framing: "u32be" },
    ],
  };
  if (options.store !== undefined) config.store = options.store;
  if (options.storeTimeout !== undefined) {
    config.storeTimeout = options.storeTimeout;
  }
  if (options.storeLease !== undefined) config.storeLease = options.storeLease;
  if (options.workers !== undefined) config.workers = options.workers;
  if (options.trustProxy !== undefined) {
    config.trustProxy = options.trustProxy;
  }
  const path = `${dir}/wsgate.json`;
  await Deno.writeTextFile(path, JSON.stringify(config));
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** Spawns a gateway on `config` and waits until it listens. */
export async function startFleetGateway(
  config: FleetConfig,
  flags: string[] = [],
): Promise<{ process: WsgateProcess; port: number }> {
  const process = spawnWsgate(["--config", config.path, ...flags]);
  try {
    const { port } = await process.listening(20_000);
    return { process, port };
  } catch (error) {
    await process[Symbol.asyncDispose]();
    throw error;
  }
}

let nextTicket = 0;

/** A fresh single-use ticket for route `/t`, valid for 5 minutes. */
export async function mintTicket(): Promise<string> {
  const key = await importTicketKey(FLEET_TICKET_SECRET);
  return await signTicket({
    route: "/t",
    exp: Math.floor(Date.now() / 1000) + 300,
    jti: `fleet-${crypto.randomUUID()}-${++nextTicket}`,
  }, key);
}

/** One upgrade: its status, and the open session when it was 101. */
export interface UpgradeResult extends AsyncDisposable {
  /** The HTTP status. */
  status: number;
  /** The response head. */
  head: string;
  /** The client (open when `status` is 101). */
  client: RawWsClient;
}

/** Upgrades on `port` at `path` (127.0.0.1). */
export async function upgradeAt(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<UpgradeResult> {
  const { client, response } = await RawWsClient.connect(port, path, headers);
  if (response.status !== 101) await client.close();
  return {
    status: response.status,
    head: response.head,
    client,
    [Symbol.asyncDispose]: () => client.close(),
  };
}

/** The status and body of a plain `GET path` on `port`. */
export async function httpGet(
  port: number,
  path: string,
): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text() };
}

/**
 * Retries `attempt` every 50 ms until it returns a value or `timeoutMs`
 * passes (bounded polling, like `waitUntil`), for a state another process
 * changes with time: a lease running out, a store coming back.
 */
export async function retryUntil<T>(
  attempt: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000; i++) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
}
