/**
 * Runs Debian's nginx (`/usr/sbin/nginx`) in front of wsgate for the
 * load-balancer test. {@linkcode nginxSiteConfig} renders the `upstream` and
 * `server` blocks that the README shows, so the documented configuration is
 * the tested one; {@linkcode startNginx} wraps them in a throw-away
 * `nginx.conf` (foreground, single process, every path in a temp dir), waits
 * until nginx accepts connections, and stops it and removes the dir on close.
 *
 * @module
 */

import { within } from "./assert.ts";

/** Where Debian's `nginx-light` (and `nginx`) installs the binary. */
export const NGINX_PATH = "/usr/sbin/nginx";

/**
 * The proxy directives a `location` needs for WebSockets: HTTP/1.1 with the
 * upgrade headers passed on, the client's `Host` (with its port, so
 * wsgate's same-origin check also works on a non-default port) and address,
 * and a read timeout longer than any quiet period of a session (nginx's
 * default of 60 s would cut idle sessions; wsgate's own pings keep busier
 * ones alive).
 */
export const NGINX_WEBSOCKET_DIRECTIVES: readonly string[] = [
  "proxy_http_version 1.1;",
  "proxy_set_header Upgrade $http_upgrade;",
  'proxy_set_header Connection "upgrade";',
  "proxy_set_header Host $http_host;",
  "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
  "proxy_read_timeout 1h;",
];

/** Options of {@linkcode nginxSiteConfig}. */
export interface NginxSiteOptions {
  /**
   * The `listen` parameter (`80`, `127.0.0.1:8080`).
   * @default {"80"}
   */
  listen?: string;
  /** The wsgate instances as `host:port`. */
  servers: readonly string[];
  /**
   * The upstream's name.
   * @default {"wsgate"}
   */
  upstreamName?: string;
}

/**
 * Renders the `upstream` and `server` blocks that balance WebSocket
 * sessions over several wsgate instances (round robin; each session stays
 * on the instance it started on, as it is one TCP connection).
 *
 * @param options Listen address and wsgate instances.
 * @returns The blocks, for the `http` context of nginx.conf.
 *
 * @example Usage
 * ```ts
 * import { nginxSiteConfig } from "./nginx.ts";
 * import assert from "node:assert/strict";
 * const text = nginxSiteConfig({ servers: ["127.0.0.1:8081"] });
 * assert.match(text, /server 127\.0\.0\.1:8081;/);
 * assert.match(text, /proxy_set_header Upgrade \$http_upgrade;/);
 * ```
 */
export function nginxSiteConfig(options: NginxSiteOptions): string {
  const { listen = "80", servers, upstreamName = "wsgate" } = options;
  return [
    `upstream ${upstreamName} {`,
    ...servers.map((server) => `    server ${server};`),
    "}",
    "server {",
    `    listen ${listen};`,
    "    location / {",
    `        proxy_pass http://${upstreamName};`,
    ...NGINX_WEBSOCKET_DIRECTIVES.map((line) => `        ${line}`),
    "    }",
    "}",
    "",
  ].join("\n");
}

/**
 * Renders a whole nginx.conf for a test: foreground, no master process, one
 * worker, and the pid file, logs and temp paths inside `dir`.
 *
 * @param dir An absolute directory for nginx's files.
 * @param site The `http` blocks, from {@linkcode nginxSiteConfig}.
 * @returns The configuration text.
 *
 * @example Usage
 * ```ts
 * import { nginxSiteConfig, nginxTestConfig } from "./nginx.ts";
 * import assert from "node:assert/strict";
 * const text = nginxTestConfig("/tmp/x", nginxSiteConfig({ servers: ["127.0.0.1:1"] }));
 * assert.match(text, /^daemon off;$/m);
 * assert.match(text, /^pid \/tmp\/x\/nginx\.pid;$/m);
 * ```
 */
export function nginxTestConfig(dir: string, site: string): string {
  return [
    "daemon off;",
    "master_process off;",
    "worker_processes 1;",
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log info;`,
    "",
    "events {",
    "    worker_connections 1024;",
    "}",
    "",
    "http {",
    "    access_log off;",
    `    client_body_temp_path ${dir}/client_body;`,
    `    proxy_temp_path ${dir}/proxy;`,
    `    fastcgi_temp_path ${dir}/fastcgi;`,
    `    uwsgi_temp_path ${dir}/uwsgi;`,
    `    scgi_temp_path ${dir}/scgi;`,
    "",
    ...site.trimEnd().split("\n").map((line) =>
      line === "" ? "" : `    ${line}`
    ),
    "}",
    "",
  ].join("\n");
}

/** Options of {@linkcode nginxSkipReason}. */
export interface NginxSkipReasonOptions {
  /**
   * The nginx binary to look for.
   * @default {"/usr/sbin/nginx"}
   */
  executablePath?: string;
}

/**
 * Tells the nginx test whether to skip: a reason only when nginx is missing
 * and `CI` is unset or empty. Under CI the test runs, so a missing nginx
 * fails it instead of hiding.
 *
 * @param options Where to look for nginx.
 * @returns The reason to skip, or `undefined` when the test must run.
 *
 * @example Usage
 * ```ts
 * import { nginxSkipReason } from "./nginx.ts";
 * import assert from "node:assert/strict";
 * const reason = nginxSkipReason({ executablePath: "/nonexistent" });
 * assert.equal(typeof reason, Deno.env.get("CI") ? "undefined" : "string");
 * ```
 */
export function nginxSkipReason(
  options: NginxSkipReasonOptions = {},
): string | undefined {
  const { executablePath = NGINX_PATH } = options;
  if ((Deno.env.get("CI") ?? "") !== "") return undefined;
  try {
    Deno.statSync(executablePath);
    return undefined;
  } catch {
    return `"${executablePath}" not found: apt-get install nginx-light, or set CI=true to fail instead of skip`;
  }
}

/** Options of {@linkcode startNginx}. */
export interface StartNginxOptions {
  /** The wsgate instances as `host:port`. */
  servers: readonly string[];
  /**
   * The nginx binary.
   * @default {"/usr/sbin/nginx"}
   */
  executablePath?: string;
  /**
   * Milliseconds allowed for starting and for stopping.
   * @default {10000}
   */
  timeoutMs?: number;
}

/** A running nginx, made by {@linkcode startNginx}. */
export interface NginxProcess extends AsyncDisposable {
  /** The port nginx listens on (127.0.0.1). */
  readonly port: number;
  /** The configuration it runs. */
  readonly config: string;
  /** The temp dir with its config, pid file and logs. */
  readonly dir: string;
  /**
   * Reads nginx's error log.
   * @returns Its text (empty once the dir is removed).
   */
  errorLog(): Promise<string>;
  /**
   * Stops nginx (SIGTERM, SIGKILL when stuck), awaits it and removes the
   * dir. Idempotent.
   * @returns A promise that resolves once everything is released.
   */
  close(): Promise<void>;
}

/**
 * Starts nginx on a free 127.0.0.1 port with {@linkcode nginxSiteConfig} in
 * a generated config, and resolves once it accepts connections.
 *
 * @param options The wsgate instances and limits.
 * @returns The running nginx.
 *
 * @example Usage
 * ```ts
 * import { nginxSkipReason, startNginx } from "./nginx.ts";
 * import assert from "node:assert/strict";
 * if (nginxSkipReason() === undefined) {
 *   await using nginx = await startNginx({ servers: ["127.0.0.1:9"] });
 *   assert.ok(nginx.port > 0);
 * }
 * ```
 */
export async function startNginx(
  options: StartNginxOptions,
): Promise<NginxProcess> {
  const { servers, executablePath = NGINX_PATH, timeoutMs = 10000 } = options;
  const dir = await Deno.makeTempDir({ prefix: "wsgate_nginx_" });
  const port = freePort();
  const config = nginxTestConfig(
    dir,
    nginxSiteConfig({ listen: `127.0.0.1:${port}`, servers }),
  );
  await Deno.writeTextFile(`${dir}/nginx.conf`, config);
  const child = new Deno.Command(executablePath, {
    args: [
      "-p",
      `${dir}/`,
      "-c",
      `${dir}/nginx.conf`,
      "-e",
      `${dir}/error.log`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let status: Deno.CommandStatus | undefined;
  const exited = child.status.then((value) => {
    status = value;
  });
  let isClosed = false;
  const errorLog = () => Deno.readTextFile(`${dir}/error.log`).catch(() => "");
  const close = async () => {
    if (isClosed) return;
    isClosed = true;
    if (status === undefined) {
      child.kill("SIGTERM");
      try {
        await within(exited, timeoutMs, "nginx to exit");
      } catch {
        if (status === undefined) child.kill("SIGKILL");
      }
    }
    await exited;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await waitUntilListening(port, () => status !== undefined, timeoutMs);
  } catch (error) {
    const log = await errorLog();
    await close();
    throw new Error(
      `Cannot start nginx (exit: ${status?.code ?? "running"}): ${
        error instanceof Error ? error.message : String(error)
      }\nerror.log:\n${log}`,
    );
  }
  return {
    port,
    config,
    dir,
    errorLog,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Tries to connect until it works, nginx exits, or the time is up. */
async function waitUntilListening(
  port: number,
  hasExited: () => boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pauseMs = 20;
  for (let attempt = 0; attempt <= timeoutMs / pauseMs; attempt++) {
    if (hasExited()) throw new Error("nginx exited");
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  throw new Error(
    `nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`,
  );
}

/** A port on 127.0.0.1 that was free a moment ago (bound, then released). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}
