/**
 * Runs Debian's HAProxy (`/usr/sbin/haproxy`) in front of wsgate instances
 * for the fleet tests, with the configuration the README shows
 * ({@linkcode haproxyConfig}): HTTP mode, round robin, `X-Forwarded-For`,
 * a tunnel timeout longer than any quiet session, and a health check on
 * `/healthz` so an instance whose store is out is taken out of rotation.
 *
 * @module
 */

import { within } from "./assert.ts";
import { freePort } from "./redis_server.ts";

/** Where Debian's `haproxy` package installs the binary. */
export const HAPROXY_PATH = "/usr/sbin/haproxy";

/** Options of {@linkcode haproxyConfig}. */
export interface HaproxyConfigOptions {
  /** The `bind` address (`:80`, `127.0.0.1:8080`). */
  bind: string;
  /** The wsgate instances as `host:port`. */
  servers: readonly string[];
  /**
   * How often each instance's `/healthz` is checked, in ms.
   * @default {2000}
   */
  checkIntervalMs?: number;
}

/**
 * Renders a complete haproxy.cfg balancing WebSocket sessions over the
 * wsgate instances.
 *
 * @example Usage
 * ```ts
 * import { haproxyConfig } from "./haproxy.ts";
 * import assert from "node:assert/strict";
 * const text = haproxyConfig({ bind: ":80", servers: ["10.0.0.11:8080"] });
 * assert.match(text, /server wsgate1 10\.0\.0\.11:8080 check/);
 * ```
 */
export function haproxyConfig(options: HaproxyConfigOptions): string {
  const { bind, servers, checkIntervalMs = 2000 } = options;
  return [
    "defaults",
    "    mode http",
    "    option forwardfor",
    "    timeout connect 5s",
    "    timeout client 30s",
    "    timeout server 30s",
    "    timeout tunnel 1h",
    "",
    "frontend websockets",
    `    bind ${bind}`,
    "    default_backend wsgate",
    "",
    "backend wsgate",
    "    balance roundrobin",
    "    option httpchk GET /healthz",
    "    http-check expect status 200",
    ...servers.map((server, i) =>
      `    server wsgate${
        i + 1
      } ${server} check inter ${checkIntervalMs}ms fall 1 rise 1`
    ),
    "",
  ].join("\n");
}

/** A running HAProxy. */
export interface HaproxyProcess extends AsyncDisposable {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** The configuration it runs. */
  readonly config: string;
}

/**
 * Starts HAProxy on a free 127.0.0.1 port and resolves once it accepts
 * connections; disposing stops it (SIGTERM, SIGKILL when stuck).
 * @param servers The wsgate instances as `host:port`.
 * @param options The health check interval.
 * @returns The running HAProxy.
 */
export async function startHaproxy(
  servers: readonly string[],
  options: { checkIntervalMs?: number } = {},
): Promise<HaproxyProcess> {
  const dir = await Deno.makeTempDir({ prefix: "wsgate_haproxy_" });
  const port = freePort();
  const config = haproxyConfig({
    bind: `127.0.0.1:${port}`,
    servers,
    ...options,
  });
  await Deno.writeTextFile(`${dir}/haproxy.cfg`, config);
  const child = new Deno.Command(HAPROXY_PATH, {
    args: ["-db", "-f", `${dir}/haproxy.cfg`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let status: Deno.CommandStatus | undefined;
  const exited = child.status.then((value) => {
    status = value;
  });
  let isClosed = false;
  const close = async () => {
    if (isClosed) return;
    isClosed = true;
    if (status === undefined) {
      child.kill("SIGTERM");
      try {
        await within(exited, 5000, "haproxy to exit");
      } catch {
        if (status === undefined) child.kill("SIGKILL");
      }
    }
    await exited;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    let isListening = false;
    for (let attempt = 0; attempt < 500 && !isListening; attempt++) {
      if (status !== undefined) {
        throw new Error(`haproxy exited with ${status.code}\n${config}`);
      }
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        isListening = true;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    if (!isListening) throw new Error("haproxy did not listen within 10 s");
  } catch (error) {
    await close();
    throw error;
  }
  return { port, config, [Symbol.asyncDispose]: close };
}
