/**
 * A session's labels: its id, route, client and target, the one value that
 * names a session in every event, metric and recording, and the process's
 * session id sequence.
 *
 * @module
 */

/** What names one session in events, metrics and recordings. */
export interface SessionLabels {
  /** The session id, unique within the process. */
  readonly id: string;
  /** The route path the browser asked for. */
  readonly route: string;
  /** The browser's address as text (`host:port`). */
  readonly client: string;
  /** The backend as text (`host:port`, `unix:/path`, or name and address). */
  readonly target: string;
}

let nextSessionNumber = 0;
/** Tells apart the ids of processes (workers) writing to one log. */
const SESSION_PREFIX = crypto.randomUUID().slice(0, 4);

/**
 * The next session id of this process: a per-process prefix and a counter.
 *
 * @example Ids are unique and share the process prefix
 * ```ts
 * import { nextSessionId } from "./session_labels.ts";
 * import assert from "node:assert/strict";
 * const first = nextSessionId();
 * const second = nextSessionId();
 * assert.notEqual(first, second);
 * assert.equal(first.split("-")[0], second.split("-")[0]);
 * ```
 *
 * @returns A new session id.
 */
export function nextSessionId(): string {
  return `${SESSION_PREFIX}-${(++nextSessionNumber).toString(36)}`;
}
