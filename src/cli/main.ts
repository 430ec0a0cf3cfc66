/**
 * The command-line entry: parses argv, loads the config file, starts the
 * gateway (in worker threads when `--workers` > 1; for `demo` with the
 * built-in backend), prints one line when listening and event lines on
 * stderr, reloads on SIGHUP (and on config changes with `--watch-config`),
 * and drains on SIGINT/SIGTERM. Also the `ticket`, `replay` and
 * `websockify` commands.
 * The only module that uses `console` and `Deno.exit`.
 *
 * @module
 */

import {
  buildRunConfig,
  type CliCommand,
  type GivenFlag,
  helpText,
  parseArgs,
  type RunConfig,
  ticketHelpText,
} from "./args.ts";
import { ConfigError } from "../errors.ts";
import { createGateway, type Gateway } from "../server/gateway.ts";
import { startDemoBackend } from "../demo/demo_backend.ts";
import { formatEvent, type LogFormat } from "../observability/log.ts";
import { type GatewayOptions, resolveOptions } from "../config/config.ts";
import type { GatewayEvent } from "../observability/events.ts";
import { parseJsonc } from "../config/jsonc.ts";
import { importTicketKey, signTicket } from "../security/ticket.ts";
import { replay } from "../observability/recording.ts";
import { startWorkers } from "./workers.ts";
import {
  applySessionCap,
  readOpenFileLimit,
  sessionLimitFor,
} from "./descriptor_limit.ts";
import { startAdminServer } from "./admin_server.ts";
import { LineWriter } from "./log_sink.ts";
import {
  buildWebsockifyOptions,
  parseWebsockifyArgs,
  websockifyHelpText,
} from "./websockify_args.ts";
import { formatWebsockifyBanner } from "./websockify_banner.ts";
import {
  type LifetimeVerdict,
  ServerLifetime,
  type ServerLifetimeOptions,
} from "./server_lifetime.ts";
import { defaultCliSettings } from "./cli_settings.ts";
import { checkStartupFiles } from "./preflight.ts";
import { startupSummary } from "./startup_summary.ts";
import { unreachableTargets } from "./target_check.ts";
import { missingPermissions, permissionNeeds } from "./permissions.ts";

/** The wsgate version. */
export const VERSION = "0.1.0";

/**
 * Runs the CLI with `args` and resolves with the exit status.
 *
 * @example Print the version
 * ```ts ignore
 * const status = await runCli(["--version"]);
 * ```
 *
 * @param args The arguments without the program name.
 * @returns The process exit status.
 */
export async function runCli(args: readonly string[]): Promise<number> {
  if (isJsonLogRequested(args)) logFormat = "json";
  try {
    return await dispatch(args);
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) printProblem(problem);
      return 2;
    }
    throw error;
  } finally {
    await STDERR_LINES.flush();
  }
}

async function dispatch(args: readonly string[]): Promise<number> {
  if (args[0] === "websockify") return await runWebsockify(args.slice(1));
  const command: CliCommand = parseArgs(args);
  switch (command.kind) {
    case "help":
      // deno-lint-ignore no-console
      console.log(
        command.topic === "ticket" ? ticketHelpText() : helpText(VERSION),
      );
      return 0;
    case "version":
      // deno-lint-ignore no-console
      console.log(`wsgate ${VERSION}`);
      return 0;
    case "ticket":
      return await printTicket(command);
    case "replay": {
      let text: string;
      try {
        text = replay(await Deno.readFile(command.file)).trimEnd();
      } catch (error) {
        // deno-lint-ignore no-console
        console.error(
          `wsgate: replay: cannot read "${command.file}": ${
            (error as Error).message
          }`,
        );
        return 1;
      }
      // deno-lint-ignore no-console
      console.log(text);
      return 0;
    }
    case "demo":
    case "run": {
      const load = () =>
        loadRunConfig(
          command.flags,
          command.configPath,
          command.kind === "demo",
        );
      const config = await load();
      if (command.kind === "demo") {
        const backend = startDemoBackend();
        config.options.demoPage = true;
        config.options.routes = [{
          path: "/echo",
          target: `127.0.0.1:${backend.addr.port}`,
        }, ...(config.options.routes ?? [])];
        try {
          return await serve(config, {
            isDemo: true,
            isQuiet: command.isQuiet === true,
            ...targetCheckOf(command),
          });
        } finally {
          await backend.close();
        }
      }
      return await serve(config, {
        ...(command.configPath === undefined ? {} : { reloadConfig: load }),
        isQuiet: command.isQuiet === true,
        ...targetCheckOf(command),
      });
    }
  }
}

/**
 * The `websockify` command: websockify's command line, its settings block
 * on stderr, then the same serve loop as a plain run.
 */
async function runWebsockify(argv: readonly string[]): Promise<number> {
  const command = parseWebsockifyArgs(argv);
  if (command.kind === "help") {
    // deno-lint-ignore no-console
    console.log(websockifyHelpText());
    return 0;
  }
  const { settings } = command;
  let isCertPresent = true;
  try {
    await Deno.stat(settings.cert);
  } catch {
    isCertPresent = false;
  }
  const { options, isTls } = buildWebsockifyOptions(settings, {
    isCertPresent,
  });
  // Only the web root: websockify's --cert may hold the key too, which the
  // --cert/--key check would call a problem.
  const webProblems = await checkStartupFiles(
    options.staticDir === undefined ? {} : { staticDir: options.staticDir },
    { staticDir: "--web" },
  );
  if (webProblems.length > 0) throw new ConfigError(webProblems);
  const banner = formatWebsockifyBanner(settings, { isTls });
  for (const line of banner) {
    // deno-lint-ignore no-console
    console.error(line);
  }
  const cli = defaultCliSettings();
  if (settings.isVerbose || settings.isTraffic) cli.logLevel = "debug";
  let logFile: Deno.FsFile | undefined;
  if (settings.logFile !== undefined) {
    try {
      logFile = await Deno.open(settings.logFile, {
        append: true,
        create: true,
      });
    } catch (error) {
      throw new ConfigError([
        `--log-file: cannot open "${settings.logFile}": ${
          (error as Error).message
        }`,
      ]);
    }
  }
  const fileLines = logFile === undefined ? undefined : new LineWriter(logFile);
  for (const line of banner) fileLines?.writeLine(line);
  try {
    return await serve({ options, cli }, {
      isQuiet: true,
      ...(fileLines === undefined ? {} : { logFile: fileLines }),
      lifetime: {
        isRunOnce: settings.isRunOnce,
        idleTimeoutMs: settings.idleTimeoutSec * 1000,
        timeoutMs: settings.timeoutSec * 1000,
      },
    });
  } finally {
    await fileLines?.flush();
    logFile?.close();
  }
}

/** Reads the config file (if any), the ticket secret, and merges flags. */
async function loadRunConfig(
  flags: readonly GivenFlag[],
  configPath: string | undefined,
  isDemo: boolean,
): Promise<RunConfig> {
  let file: { json: unknown; baseDir: string } | undefined;
  if (configPath !== undefined) {
    let text: string;
    try {
      text = await Deno.readTextFile(configPath);
    } catch (error) {
      throw new ConfigError([
        error instanceof Deno.errors.NotCapable
          ? `--allow-read: needed by --config "${configPath}" (run deno with --allow-read)`
          : `--config: cannot read "${configPath}": ${
            (error as Error).message
          }`,
      ]);
    }
    let json: unknown;
    try {
      json = parseJsonc(text);
    } catch (error) {
      throw new ConfigError([
        `--config: ${configPath}: ${(error as Error).message}`,
      ]);
    }
    const slash = configPath.lastIndexOf("/");
    file = {
      json,
      baseDir: slash < 0 ? "." : configPath.slice(0, slash) || "/",
    };
  }
  const config = buildRunConfig(flags, file, isDemo);
  const missing = missingPermissions(permissionNeeds(config));
  if (missing.length > 0) throw new ConfigError(missing);
  // A directory from the config file is named by its key there.
  const isStaticFlagGiven = flags.some((flag) =>
    flag.setting.flag === "--static"
  );
  const fileProblems = await checkStartupFiles(config.options, {
    ...(isStaticFlagGiven || file === undefined ? {} : { staticDir: "static" }),
  });
  if (fileProblems.length > 0) throw new ConfigError(fileProblems);
  const secret = await readTicketSecret(
    config.cli.ticketSecretFile,
    config.cli.ticketSecretEnv,
  );
  if (secret !== undefined) config.options.ticketSecret = secret;
  return config;
}

async function readTicketSecret(
  file: string | undefined,
  env: string | undefined,
): Promise<string | undefined> {
  let secret: string;
  let source: string;
  if (file !== undefined) {
    source = `--ticket-secret-file: "${file}"`;
    try {
      secret = (await Deno.readTextFile(file)).trim();
    } catch (error) {
      throw new ConfigError([
        error instanceof Deno.errors.NotCapable
          ? `--allow-read: needed by --ticket-secret-file "${file}" (run deno with --allow-read)`
          : `--ticket-secret-file: cannot read "${file}": ${
            (error as Error).message
          }`,
      ]);
    }
  } else if (env !== undefined) {
    source = `--ticket-secret-env: environment variable "${env}"`;
    let value: string | undefined;
    try {
      value = Deno.env.get(env);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotCapable)) throw error;
      throw new ConfigError([
        `--allow-env: needed to read the ticket secret from "${env}" (run deno with --allow-env=${env})`,
      ]);
    }
    if (value === undefined || value === "") {
      throw new ConfigError([
        `--ticket-secret-env: environment variable "${env}" is not set`,
      ]);
    }
    secret = value;
  } else {
    return undefined;
  }
  // Checked here so the line names where the secret came from (the gateway
  // would say "ticketSecret"; importTicketKey would throw a RangeError).
  const bytes = new TextEncoder().encode(secret).length;
  if (bytes < MIN_SECRET_BYTES) {
    throw new ConfigError([
      `${source} holds ${bytes} bytes (expected at least ${MIN_SECRET_BYTES}, e.g. openssl rand -base64 32)`,
    ]);
  }
  return secret;
}

/** The shortest ticket secret the gateway accepts (HS256). */
const MIN_SECRET_BYTES = 32;

async function printTicket(
  command: Extract<CliCommand, { kind: "ticket" }>,
): Promise<number> {
  const secret = await readTicketSecret(command.secretFile, command.secretEnv);
  const key = await importTicketKey(secret!);
  const nowSec = Math.floor(Date.now() / 1000);
  const ticket = await signTicket({
    route: command.route,
    exp: nowSec + command.ttlSec,
    iat: nowSec,
    ...(command.target === undefined ? {} : { target: command.target }),
    ...(command.withJti ? { jti: crypto.randomUUID() } : {}),
  }, key);
  // deno-lint-ignore no-console
  console.log(ticket);
  return 0;
}

const STDERR_LINES = new LineWriter(Deno.stderr);

/**
 * The format of the lines main.ts writes itself (problems, the listening
 * line): taken from argv at once, so even a flag error is JSON, then from
 * the loaded configuration (a config file may set it).
 */
let logFormat: LogFormat = "text";

/** Whether argv asks for `--log-format json` (either spelling). */
function isJsonLogRequested(args: readonly string[]): boolean {
  return args.some((arg, i) =>
    arg === "--log-format=json" ||
    (arg === "--log-format" && args[i + 1] === "json")
  );
}

/** Prints a problem that ends the process: `wsgate: ...` or a JSON line. */
function printProblem(problem: string): void {
  // deno-lint-ignore no-console
  console.error(
    logFormat === "json"
      ? formatEvent({ type: "error", message: problem }, { format: "json" })
      : `wsgate: ${problem}`,
  );
}

/** The one stdout line once listening: text, or JSON with `url`. */
function listeningLine(
  url: string,
  extras: { demoPage?: string; metrics?: string; settings?: string[] },
): string {
  if (logFormat === "json") {
    return JSON.stringify({
      time: new Date().toISOString(),
      level: "info",
      event: "listening",
      url,
      ...extras,
      ...(extras.settings === undefined
        ? {}
        : { settings: extras.settings.map((line) => line.trim()) }),
    });
  }
  return `wsgate listening on ${url}` +
    (extras.demoPage === undefined ? "" : ` (demo page: ${extras.demoPage})`) +
    (extras.metrics === undefined ? "" : ` (admin: ${extras.metrics})`) +
    (extras.settings === undefined ? "" : `\n${extras.settings.join("\n")}`);
}

function eventPrinter(
  config: RunConfig,
  logFile: LineWriter | undefined,
): (event: GatewayEvent) => void {
  const { logFormat, logLevel } = config.cli;
  return (event) => {
    const line = formatEvent(event, { format: logFormat, level: logLevel });
    if (line === undefined) return;
    STDERR_LINES.writeLine(line);
    logFile?.writeLine(line);
  };
}

/** What serve() drives: one gateway here, or N workers. */
interface Runner {
  addr: Deno.NetAddr;
  reload(options: GatewayOptions): Promise<void>;
  renderMetrics(): string;
  isDraining(): boolean;
  /** Why the listener is not accepting (single gateway only). */
  acceptFailure?(): string | undefined;
  /** Why the admission store cannot decide admissions, if it cannot. */
  checkStore(): Promise<string | undefined>;
  close(): Promise<void>;
}

/**
 * A last line of defence for a long-running gateway: an unexpected rejection
 * is logged and the process, and every other session, keeps running.
 */
function keepRunningOnUnhandledRejection(
  onEvent: (event: GatewayEvent) => void,
): void {
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    onEvent({
      type: "error",
      message: "unhandled rejection (bug); the gateway keeps running",
      detail: event.reason instanceof Error
        ? `${event.reason.stack ?? event.reason.message}`
        : String(event.reason),
    });
  });
}

/** How {@linkcode serve} runs. */
interface ServeOptions {
  /** Re-reads the configuration on SIGHUP; without it there is no reload. */
  reloadConfig?: () => Promise<RunConfig>;
  /** Whether this is `demo` (the listening line names the page). */
  isDemo?: boolean;
  /** `--quiet`: no settings block. */
  isQuiet?: boolean;
  /**
   * Whether to check that each fixed target answers, after listening.
   * @default {stderr is a terminal and not isQuiet}
   */
  isTargetCheck?: boolean;
  /** websockify's `--log-file`: event lines also go here. */
  logFile?: LineWriter;
  /** websockify's `--run-once`, `--idle-timeout` and `--timeout`. */
  lifetime?: ServerLifetimeOptions;
}

async function serve(
  config: RunConfig,
  serveOptions: ServeOptions,
): Promise<number> {
  const { reloadConfig, isDemo = false, isQuiet = false, logFile } =
    serveOptions;
  // The check dials every backend once: by default only for a person at a
  // terminal, not under a supervisor whose backends count connections.
  const { isTargetCheck = !isQuiet && Deno.stderr.isTerminal() } = serveOptions;
  logFormat = config.cli.logFormat;
  const printEvent = eventPrinter(config, logFile);
  const stopped = Promise.withResolvers<string>();
  const lifetime = new ServerLifetime(
    performance.now(),
    serveOptions.lifetime,
  );
  // websockify's --timeout: no new sessions (nor files) from now on; the
  // open ones run to their end, then the lifetime says exit.
  const stopAccepting = (cause: string) => {
    onEvent({
      type: "warning",
      message:
        `${cause}: refusing new sessions; exiting once the open ones end (${lifetime.openSessions} open)`,
    });
    const { staticDir: _staticDir, ...rest } = config.options;
    runner.reload({ ...rest, routes: [] }).catch((error) =>
      onEvent({
        type: "error",
        message: "--timeout: cannot stop accepting new sessions",
        detail: String(error),
      })
    );
  };
  const follow = (verdict: LifetimeVerdict) => {
    if (verdict.kind === "exit") stopped.resolve(verdict.cause);
    if (verdict.kind === "stop-accepting") stopAccepting(verdict.cause);
  };
  const onEvent = (event: GatewayEvent) => {
    printEvent(event);
    if (lifetime.isActive) follow(lifetime.observe(event, performance.now()));
  };
  keepRunningOnUnhandledRejection(onEvent);
  const workers = config.cli.workers === 0
    ? navigator.hardwareConcurrency
    : config.cli.workers;
  // The CLI's session limit defaults to what the open-file limit carries.
  const openFiles = readOpenFileLimit();
  const sessionCap = openFiles === undefined
    ? undefined
    : sessionLimitFor(openFiles, Math.max(1, workers));
  const capped = applySessionCap(config.options, sessionCap);
  if (capped.warning !== undefined) {
    onEvent({ type: "warning", message: capped.warning });
  }
  let runner: Runner;
  try {
    runner = workers > 1
      ? await startWorkers(capped.options, workers, onEvent)
      : await startSingle(capped.options, onEvent);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const where = config.options.unixSocket !== undefined
      ? `unix:${config.options.unixSocket}`
      : `${config.options.hostname}:${config.options.port}`;
    printProblem(
      `--listen: cannot listen on ${where}: ${(error as Error).message}`,
    );
    return 1;
  }
  const addr = runner.addr;
  const unixSocket = config.options.unixSocket;
  const host = unixSocket !== undefined
    ? "localhost"
    : addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  const scheme = config.options.tls === undefined ? "ws" : "wss";
  const admin = config.cli.adminListen === undefined
    ? undefined
    : startAdminServer(config.cli.adminListen, {
      renderMetrics: () => runner.renderMetrics(),
      isDraining: () => runner.isDraining(),
      acceptFailure: () => runner.acceptFailure?.(),
      storeProblem: () => runner.checkStore(),
    });
  const reload = async (why: string) => {
    if (reloadConfig === undefined) {
      onEvent({
        type: "warning",
        message: `${why}: nothing to reload (no --config file)`,
      });
      return;
    }
    try {
      const next = await reloadConfig();
      await runner.reload(applySessionCap(next.options, sessionCap).options);
      onEvent({ type: "warning", message: `${why}: configuration reloaded` });
    } catch (error) {
      const detail = error instanceof ConfigError
        ? error.problems.join("; ")
        : String(error);
      onEvent({
        type: "error",
        message: `${why}: new configuration rejected; keeping the old one`,
        detail,
      });
    }
  };
  let signals = 0;
  const stopOn = (signal: Deno.Signal) => () => {
    signals++;
    if (signals > 1) Deno.exit(1);
    stopped.resolve(signal);
  };
  const onInterrupt = stopOn("SIGINT");
  const onTerminate = stopOn("SIGTERM");
  const onHangup = () => void reload("SIGHUP");
  Deno.addSignalListener("SIGINT", onInterrupt);
  Deno.addSignalListener("SIGTERM", onTerminate);
  Deno.addSignalListener("SIGHUP", onHangup);
  const adminMetrics = admin === undefined
    ? undefined
    : `http://${admin.addr.hostname}:${admin.addr.port}/metrics`;
  const httpBase = unixSocket !== undefined
    ? `unix:${unixSocket}`
    : `${scheme === "wss" ? "https" : "http"}://${host}:${addr.port}`;
  // deno-lint-ignore no-console
  console.log(listeningLine(
    unixSocket !== undefined
      ? `unix:${unixSocket}`
      : `${scheme}://${host}:${addr.port}`,
    {
      ...(isDemo ? { demoPage: `http://${host}:${addr.port}/` } : {}),
      ...(adminMetrics === undefined ? {} : { metrics: adminMetrics }),
      ...(isQuiet ? {} : {
        settings: startupSummary(config.options, {
          gateway: httpBase,
          metrics: adminMetrics ??
            (config.options.metricsOnGatewayPort === false
              ? undefined
              : `${httpBase}/metrics`),
        }),
      }),
    },
  ));
  if (isTargetCheck) {
    // Not awaited: each connection ends within the connect timeout, and a
    // shutdown before then does not wait for it.
    void unreachableTargets(resolveOptions(config.options)).then((lines) => {
      for (const detail of lines) {
        onEvent({ type: "warning", message: "target not reachable", detail });
      }
    });
  }
  const watcher = config.cli.watchConfig && reloadConfig !== undefined
    ? watchConfigFile(Deno.args, () => reload("config file changed"))
    : undefined;
  // websockify checks its timeouts once a second.
  const lifetimeTimer = lifetime.isActive
    ? setInterval(() => follow(lifetime.check(performance.now())), 1000)
    : undefined;
  onEvent({ type: "shutting_down", cause: await stopped.promise });
  clearInterval(lifetimeTimer);
  watcher?.close();
  await runner.close();
  await admin?.close();
  Deno.removeSignalListener("SIGINT", onInterrupt);
  Deno.removeSignalListener("SIGTERM", onTerminate);
  Deno.removeSignalListener("SIGHUP", onHangup);
  await STDERR_LINES.flush();
  return 0;
}

async function startSingle(
  options: GatewayOptions,
  onEvent: (event: GatewayEvent) => void,
): Promise<Runner> {
  // The CLI warms up by default (the library does not): `--warm-up=false`.
  const gateway: Gateway = createGateway({ warmUp: true, ...options, onEvent });
  const addr = await gateway.listen();
  return {
    addr,
    reload: (next) => gateway.reload({ ...next, onEvent }),
    renderMetrics: () => gateway.renderMetrics(),
    isDraining: () => gateway.isDraining,
    acceptFailure: () => gateway.acceptFailure,
    checkStore: () => gateway.checkStore(),
    close: () => gateway.close(),
  };
}

/** The `--check-targets` choice of a run command, as a serve option. */
function targetCheckOf(
  command: { isTargetCheck?: boolean },
): { isTargetCheck?: boolean } {
  return command.isTargetCheck === undefined
    ? {}
    : { isTargetCheck: command.isTargetCheck };
}

/** Watches the --config file named in argv; debounced. */
function watchConfigFile(
  argv: readonly string[],
  onChange: () => void,
): { close(): void } {
  const index = argv.findIndex((arg) =>
    arg === "--config" || arg.startsWith("--config=")
  );
  const arg = argv[index]!;
  const path = arg.includes("=")
    ? arg.slice(arg.indexOf("=") + 1)
    : argv[index + 1]!;
  const watcher = Deno.watchFs(path);
  let timer: ReturnType<typeof setTimeout> | undefined;
  (async () => {
    try {
      for await (const _event of watcher) {
        clearTimeout(timer);
        timer = setTimeout(onChange, 200);
      }
    } catch {
      // Closed.
    }
  })();
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
