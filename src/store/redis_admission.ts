/**
 * {@linkcode RedisAdmission}: the fleet's {@linkcode AdmissionStore} in
 * Redis. One EVALSHA per handshake runs a Lua script that, atomically and on
 * the server's clock (`TIME`), refuses a used ticket id, prunes expired slots
 * of the client's sorted set, counts, and only when below the cap adds the
 * slot `<instanceId>:<sequence>` scored with its lease end and spends the id
 * (`SET <prefix>jti:<id> 1 PXAT <exp>`). Each instance re-scores its own live
 * slots every `refreshIntervalMs` (one script for all, `ZADD XX`), so the
 * slots of an instance that dies (SIGKILL) expire within `leaseMs`: no leak.
 *
 * @module
 */

import type {
  Admission,
  AdmissionRequest,
  AdmissionResult,
  AdmissionStore,
} from "../security/admission.ts";
import { type RedisClient, StoreScript } from "./redis_client.ts";
import { StoreUnavailableError } from "./store_errors.ts";

/** Options of {@linkcode RedisAdmission}. */
export interface RedisAdmissionOptions {
  /**
   * The prefix of every key: `<prefix>ip:<clientKey>` (sorted set of slots),
   * `<prefix>jti:<ticketId>` (a used ticket id).
   * @default {"wsgate:"}
   */
  prefix?: string;
  /**
   * This instance's name in slot members; unique per process.
   * @default {crypto.randomUUID()}
   */
  instanceId?: string;
  /**
   * How long a slot counts without a refresh, in ms: the longest a dead
   * instance's slots keep counting.
   * @default {30000}
   */
  leaseMs?: number;
  /**
   * How often this instance re-scores its live slots, in ms; well below
   * `leaseMs` so one late refresh does not drop a slot.
   * @default {leaseMs / 3}
   */
  refreshIntervalMs?: number;
  /**
   * The least time a used ticket id is held, in ms from the store's clock,
   * even when the ticket's expiry (by the instance's clock) is sooner: a
   * guard against instance clocks running ahead of the store's.
   * @default {60000}
   */
  minTicketHoldMs?: number;
  /**
   * Called with a store error of a refresh or a release (which never
   * reject); the slot then frees itself within `leaseMs`.
   * @default {() => {}}
   */
  onError?: (error: unknown) => void;
}

// KEYS[1] the client's slot set, KEYS[2] the ticket id key (optional).
// ARGV: member, perIpLimit (-1 = none), leaseMs, ticket expiry ms, min hold ms.
const ADMIT_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then
  return {0, 'replayed'}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local limit = tonumber(ARGV[2])
if limit >= 0 and redis.call('ZCARD', KEYS[1]) >= limit then
  return {0, 'per_ip'}
end
if KEYS[2] then
  local hold = math.max(tonumber(ARGV[4]), now + tonumber(ARGV[5]))
  redis.call('SET', KEYS[2], '1', 'PXAT', string.format('%d', hold))
end
local lease = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], string.format('%d', now + lease), ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease)
return {1, ''}
`;

// KEYS[i] a slot set, ARGV[1] leaseMs, ARGV[i + 1] this instance's member in it.
const REFRESH_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
local score = string.format('%d', now + lease)
local n = 0
for i, key in ipairs(KEYS) do
  local changed = redis.call('ZADD', key, 'XX', 'CH', score, ARGV[i + 1])
  if changed > 0 then
    n = n + changed
    redis.call('PEXPIRE', key, lease)
  end
end
return n
`;

/** The set key of a slot counted only in this instance (not in the store). */
const LOCAL_ONLY = "";

/** The most slots re-scored by one script call. */
const REFRESH_BATCH = 512;

/**
 * Fleet-wide single-use ticket ids and per-IP caps in Redis; the total
 * `sessionLimit` stays per instance.
 *
 * @example Usage
 * ```ts ignore
 * import { RedisAdmission } from "./redis_admission.ts";
 * import { RedisClient } from "./redis_client.ts";
 * import { parseStoreUrl } from "./store_url.ts";
 * const client = new RedisClient(parseStoreUrl("redis://127.0.0.1:6379"));
 * const admission = await RedisAdmission.create(client, { leaseMs: 30_000 });
 * const result = await admission.admit({ clientKey: "10.0.0.1", perIpLimit: 2 });
 * if (result.kind === "admitted") await admission.release(result);
 * await admission.close();
 * await client.close();
 * ```
 */
export class RedisAdmission implements AdmissionStore {
  #client: RedisClient;
  #admitScript: StoreScript;
  #refreshScript: StoreScript;
  #prefix: string;
  #instanceId: string;
  #leaseMs: number;
  #refreshIntervalMs: number;
  #minTicketHoldMs: number;
  #onError: (error: unknown) => void;
  #sequence = 0;
  /** member -> its set's key, for the slots this instance holds. */
  #live = new Map<string, string>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #refreshing: Promise<unknown> | null = null;
  #isClosed = false;

  private constructor(
    client: RedisClient,
    scripts: [StoreScript, StoreScript],
    options: RedisAdmissionOptions,
  ) {
    const {
      prefix = "wsgate:",
      instanceId = crypto.randomUUID(),
      leaseMs = 30000,
      refreshIntervalMs = Math.max(1, Math.floor(leaseMs / 3)),
      minTicketHoldMs = 60000,
      onError = () => {},
    } = options;
    for (
      const [name, value] of Object.entries({
        leaseMs,
        refreshIntervalMs,
        minTicketHoldMs,
      })
    ) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(
          `Cannot create admission store as ${name} must be a positive integer: current value is ${value}`,
        );
      }
    }
    if (refreshIntervalMs >= leaseMs) {
      throw new RangeError(
        `Cannot create admission store as refreshIntervalMs must be < leaseMs (${leaseMs}): current value is ${refreshIntervalMs}`,
      );
    }
    this.#client = client;
    [this.#admitScript, this.#refreshScript] = scripts;
    this.#prefix = prefix;
    this.#instanceId = instanceId;
    this.#leaseMs = leaseMs;
    this.#refreshIntervalMs = refreshIntervalMs;
    this.#minTicketHoldMs = minTicketHoldMs;
    this.#onError = onError;
  }

  /**
   * Creates the store (hashes its scripts; nothing is sent yet).
   * @param client The connected-on-demand client; the caller closes it.
   * @param options Prefix, instance id, lease.
   * @returns The store.
   */
  static async create(
    client: RedisClient,
    options: RedisAdmissionOptions = {},
  ): Promise<RedisAdmission> {
    const scripts: [StoreScript, StoreScript] = [
      await StoreScript.create(ADMIT_LUA),
      await StoreScript.create(REFRESH_LUA),
    ];
    return new RedisAdmission(client, scripts, options);
  }

  /** The slots this instance holds now. */
  get liveCount(): number {
    return this.#live.size;
  }

  /** This instance's id, the first part of its slot members. */
  get instanceId(): string {
    return this.#instanceId;
  }

  /**
   * Admits a session with one round trip to the store.
   * @param request The client, its caps, the ticket.
   * @returns The admission, or a refusal that spent nothing.
   * @throws {StoreUnavailableError} When the store is unreachable or late.
   */
  async admit(request: AdmissionRequest): Promise<AdmissionResult> {
    const { clientKey, perIpLimit, sessionLimit = Infinity, ticketId } =
      request;
    if (this.#isClosed) {
      throw new StoreUnavailableError(
        "Cannot admit session as the admission store is closed",
      );
    }
    if (this.#live.size >= sessionLimit) {
      return { kind: "refused", reason: "capacity" };
    }
    const member = `${this.#instanceId}:${++this.#sequence}`;
    if (perIpLimit === Infinity && ticketId === undefined) {
      // Nothing to decide in the store (no per-IP cap, no single-use
      // ticket): counted here only, so such routes work through an outage.
      this.#live.set(member, LOCAL_ONLY);
      return { kind: "admitted", clientKey, member };
    }
    const key = `${this.#prefix}ip:${clientKey}`;
    const keys = ticketId === undefined
      ? [key]
      : [key, `${this.#prefix}jti:${ticketId}`];
    const reply = await this.#client.evalScript(this.#admitScript, keys, {
      args: [
        member,
        perIpLimit === Infinity ? -1 : perIpLimit,
        this.#leaseMs,
        Math.ceil(request.ticketExpiresAtMs ?? 0),
        this.#minTicketHoldMs,
      ],
    });
    if (!Array.isArray(reply) || (reply[0] !== 0 && reply[0] !== 1)) {
      throw new StoreUnavailableError(
        `Cannot admit session as the store's reply is malformed: current value is ${
          JSON.stringify(reply)
        }`,
      );
    }
    if (reply[0] === 0) {
      return {
        kind: "refused",
        reason: reply[1] === "replayed" ? "replayed" : "per_ip",
      };
    }
    this.#live.set(member, key);
    this.#scheduleRefresh();
    return ticketId === undefined
      ? { kind: "admitted", clientKey, member }
      : { kind: "admitted", clientKey, member, ticketId };
  }

  /**
   * Asks the store for a `PING`: for `/healthz`.
   * @returns `undefined` when it answered `PONG`, else why not.
   */
  async checkHealth(): Promise<string | undefined> {
    try {
      const reply = await this.#client.send(["PING"]);
      return reply === "PONG"
        ? undefined
        : `store answered PING with ${JSON.stringify(reply)}`;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }

  /**
   * Frees the slot (`ZREM`). Idempotent; never rejects.
   * @param admission The admission.
   */
  async release(admission: Admission): Promise<void> {
    const key = this.#live.get(admission.member);
    if (key === undefined) return;
    this.#live.delete(admission.member);
    this.#stopIfIdle();
    if (key === LOCAL_ONLY) return;
    try {
      await this.#client.send(["ZREM", key, admission.member]);
    } catch (error) {
      this.#onError(error);
    }
  }

  /**
   * Frees the slot and un-spends the ticket id (`ZREM` and `DEL`, one
   * round trip). Idempotent; never rejects (on failure the id stays spent).
   * @param admission The admission.
   */
  async releaseTicket(admission: Admission): Promise<void> {
    const key = this.#live.get(admission.member);
    if (key === undefined) return;
    this.#live.delete(admission.member);
    this.#stopIfIdle();
    if (key === LOCAL_ONLY) return;
    const commands = [["ZREM", key, admission.member]];
    if (admission.ticketId !== undefined) {
      commands.push(["DEL", `${this.#prefix}jti:${admission.ticketId}`]);
    }
    try {
      await this.#client.pipeline(commands);
    } catch (error) {
      this.#onError(error);
    }
  }

  /**
   * Re-scores every live slot of this instance to the store's now plus the
   * lease; runs by itself every `refreshIntervalMs` while slots are held.
   * @returns The number of slots re-scored (a slot pruned after a long store
   * outage is not added back).
   * @throws {StoreUnavailableError} When the store is unreachable or late.
   */
  async refreshLeases(): Promise<number> {
    const entries = [...this.#live].filter(([, key]) => key !== LOCAL_ONLY);
    let refreshed = 0;
    for (let i = 0; i < entries.length; i += REFRESH_BATCH) {
      const batch = entries.slice(i, i + REFRESH_BATCH);
      const reply = await this.#client.evalScript(
        this.#refreshScript,
        batch.map(([, key]) => key),
        { args: [this.#leaseMs, ...batch.map(([member]) => member)] },
      );
      if (typeof reply === "number") refreshed += reply;
    }
    return refreshed;
  }

  /**
   * Stops refreshing; the slots still held expire within `leaseMs` (as if
   * the instance died). Waits for a refresh in flight. Idempotent.
   */
  async close(): Promise<void> {
    this.#isClosed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#refreshing;
  }

  /** No slots held and no refresh running: no timer either. */
  #stopIfIdle(): void {
    if (this.#live.size > 0 || this.#refreshing !== null) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #scheduleRefresh(): void {
    if (this.#timer !== undefined || this.#isClosed) return;
    this.#timer = setTimeout(() => {
      this.#refreshing = this.refreshLeases().catch(this.#onError).finally(
        () => {
          this.#refreshing = null;
          this.#timer = undefined;
          if (this.#live.size > 0) this.#scheduleRefresh();
        },
      );
    }, this.#refreshIntervalMs);
  }
}
