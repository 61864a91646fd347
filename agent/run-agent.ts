import { heartbeatIntervalSeconds, idleWarningSeconds } from "../protocol/agent-protocol.ts";
import { readAgentState, saveAgentState, type AgentState } from "./agent-state.ts";
import { createControlAuth } from "./auth/control-auth.ts";
import { createJwksCache, type JwksCache } from "./auth/jwks-cache.ts";
import { createTerminalAuth } from "./auth/terminal-auth.ts";
import {
  loadTerminalGrants,
  terminalGrantsFileOf,
  type TerminalGrants,
} from "./auth/terminal-grants.ts";
import { loadAgentAssets, readAgentAsset } from "./build/assets.ts";
import { readAgentConfig, type AgentConfig } from "./config.ts";
import { createControlPlaneClient, type ControlPlaneClient } from "./control-plane-client.ts";
import { installAgentHooks } from "./agent-hooks.ts";
import { prepareCawCommand, type CawCommand } from "./cli/caw-command.ts";
import { controlSocketPathOf, startControlSocket } from "./cli/control-socket.ts";
import { createIdleMonitor, type IdleMonitor } from "./idle-monitor.ts";
import { CloneError, prepareRepository } from "./repository.ts";
import { writeFile } from "node:fs/promises";
import type { Server, ServerResponse } from "node:http";
import os from "node:os";
import path from "node:path";
import type https from "node:https";
import { createWorkspaceShells, type ShellChoice } from "./devcontainer.ts";
import { renderTerminalPage, terminalPageCspFor } from "./terminal/page/terminal-page.ts";
import { createSessionApi } from "./sessions/session-api.ts";
import { createTmux, tmuxSocketPathOf, writeTmuxConfig } from "./sessions/tmux.ts";
import { createWorkspaceSessions, type WorkspaceSessions } from "./sessions/workspace-sessions.ts";
import { createTerminalServer, type TerminalServerOptions } from "./terminal/terminal-server.ts";
import { prepareAgentTls, type AgentTls } from "./tls/agent-tls.ts";
import { openWorkspaceAccess, type WorkspaceAccess } from "./workspace-access.ts";

// The agent's life (SPEC §9): redeem the bootstrap token (once: the answer is kept for
// restarts), put the repository in place, find or start the sessions' tmux server, serve the
// terminal and the session API, report ready, heartbeat with the session report, and ask the
// control plane to stop the workspace when it is idle (SPEC §9, §14).

const log = (message: string) =>
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), message })}\n`);

export async function runAgent(version: string): Promise<void> {
  const config = readAgentConfig();
  const client = createControlPlaneClient(config.CONTROL_PLANE_URL);
  const state = await bootstrapOnce(config, client, version);
  client.useAgentToken(state.bootstrap.agentToken);
  const cloneUrl = state.bootstrap.workspace.cloneUrl;
  const access = await openWorkspaceAccess({ config, cloneUrl, ask: client.gitCredential, log });
  if (!(await prepareWorkspace(config, state, access, client))) return waitForStop();
  await loadAgentAssets();
  const caw = await prepareCawCommand(config);
  const socketPath = controlSocketPathOf(config);
  // In the background: on a VM it waits for the toolchain, and `devcontainer up` takes minutes.
  const shells = createWorkspaceShells({
    workspaceDir: config.WORKSPACE_DIR,
    environment: access.environment,
    user: access.user,
    waitForToolchain: access.user !== null,
    mounts: access.mounts,
    caw: { caw: caw.caw, binDir: caw.binDir, socketPath },
    log,
    // The devcontainer is an optional boot step: the job log shows how it went.
    report: (status, message, logTail) =>
      void client
        .bootProgress({ step: "devcontainer", status, message, logTail })
        .catch((error: unknown) => log(`Could not report the devcontainer step: ${String(error)}`)),
  });
  void shells.start();
  let monitor: IdleMonitor | null = null;
  const report = () =>
    void sendSessionReport(client, sessions, monitor).catch((error: unknown) =>
      log(`Could not report the sessions: ${String(error)}`),
    );
  const sessions = await createSessions(config, access, caw, socketPath, shells.current, report);
  const control = await startControlSocket({
    socketPath,
    group: access.user?.gid ?? process.getgid!(),
    sessions,
    secrets: client.secrets,
    log,
  });
  await sessions.start();
  void installHooksFor(access, caw);
  const grants = await loadTerminalGrants({ file: terminalGrantsFileOf(config.STATE_DIR), log });
  // With origin-ca nothing is served before there is a certificate, and ready waits for it.
  const tls =
    config.AGENT_TLS === "origin-ca"
      ? await prepareAgentTls({
          stateDir: config.STATE_DIR,
          hostname: state.bootstrap.workspace.hostname,
          checkSeconds: config.AGENT_TLS_CHECK_SECONDS,
          request: client.certificate,
          log,
        })
      : null;
  const { server, startRenewal } = serveTerminal(
    terminalServerOptions(config, state, sessions, grants),
    tls,
  );
  await new Promise<void>((resolve) =>
    server.listen(config.AGENT_PORT, config.AGENT_HOST, resolve),
  );
  log(
    `Terminal listening on ${config.AGENT_HOST}:${config.AGENT_PORT} (${tls ? "HTTPS" : "HTTP"}).`,
  );
  await client.ready();
  log("Reported ready.");
  report();
  const background = startBackgroundWork(config, state, client, sessions, version, grants);
  monitor = background.monitor;
  const timers = background.timers;
  if (startRenewal) timers.push(startRenewal());
  const stop = async () => {
    for (const timer of timers) clearInterval(timer);
    shells.stop();
    server.close();
    await control.close();
    await access.close();
    // tmux sessions stay for the next agent; plain PTY shells end (never waiting for ever).
    await Promise.race([sessions.close(), new Promise((resolve) => setTimeout(resolve, 10_000))]);
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop());
  process.once("SIGINT", () => void stop());
}

/**
 * The sessions: on the workspace's tmux server (socket and configuration in the agent's own
 * folders, the server's environment the login one with caw on PATH and its socket named).
 */
async function createSessions(
  config: AgentConfig,
  access: WorkspaceAccess,
  caw: CawCommand,
  controlSocket: string,
  shells: () => ShellChoice,
  report: () => void,
): Promise<WorkspaceSessions> {
  const environment: Record<string, string> = {
    ...access.environment,
    PATH: `${caw.binDir}:${access.environment.PATH ?? "/usr/bin:/bin"}`,
    CAW_CONTROL_SOCKET: controlSocket,
  };
  const folder = config.WORKSPACE_USER ? config.AGENT_RUNTIME_DIR : config.STATE_DIR;
  const configFile = path.join(folder, "tmux.conf");
  await writeTmuxConfig(configFile, { historyLimit: tmuxHistoryLines }, access.user);
  const tmux = createTmux({
    socketPath: tmuxSocketPathOf(config),
    configFile,
    user: access.user,
    environment,
    workspaceId: config.WORKSPACE_ID,
    log,
  });
  // The one-machine provider ends this server with its "server" (server/providers/local.ts).
  // eslint-disable-next-line security/detect-non-literal-fs-filename -- STATE_DIR is the agent's own setting
  await writeFile(path.join(config.STATE_DIR, "tmux-socket"), `${tmux.socketPath}\n`, {
    mode: 0o600,
  });
  return createWorkspaceSessions({
    tmux,
    shells,
    loginShell: access.user?.shell ?? environment.SHELL ?? "/bin/bash",
    cwd: config.WORKSPACE_DIR,
    environment,
    report,
    log,
  });
}

/** The lines of history each session keeps, as the browser's own scrollback does. */
const tmuxHistoryLines = 10_000;

async function installHooksFor(access: WorkspaceAccess, caw: CawCommand): Promise<void> {
  const result = await installAgentHooks({
    home: access.user?.homedir ?? access.environment.HOME ?? os.homedir(),
    uid: access.user?.uid ?? process.getuid!(),
    gid: access.user?.gid ?? process.getgid!(),
    cawCommand: caw.caw,
  }).catch((error: unknown) => ({ claude: String(error), codex: String(error) }));
  log(`AI agent hooks: Claude Code ${result.claude}; Codex ${result.codex}.`);
}

async function sendSessionReport(
  client: ControlPlaneClient,
  sessions: WorkspaceSessions,
  monitor: IdleMonitor | null,
): Promise<void> {
  const stop = monitor?.announced() ?? null;
  await client.sessions({
    sessions: sessions.list(),
    idleStopAt: stop?.at.toISOString() ?? null,
    idleStopReason: stop?.reason ?? null,
  });
}

async function bootstrapOnce(
  config: AgentConfig,
  client: ControlPlaneClient,
  version: string,
): Promise<AgentState> {
  const saved = await readAgentState(config.STATE_DIR);
  if (saved) return saved;
  const answer = await client.bootstrap(config.BOOTSTRAP_TOKEN, version);
  log(`Bootstrapped workspace ${answer.workspace.id}.`);
  return saveAgentState(config.STATE_DIR, config.CONTROL_PLANE_URL, answer);
}

/**
 * The repository in place, reported as the boot step `clone` with git's progress or its error.
 * False when the clone failed: the control plane puts the workspace in `error` with git's
 * message, and this agent reports nothing more (no ready over an empty folder, ADR 0023).
 */
async function prepareWorkspace(
  config: AgentConfig,
  state: AgentState,
  access: WorkspaceAccess,
  client: ControlPlaneClient,
): Promise<boolean> {
  const { repository, branch } = state.bootstrap.workspace;
  const report = (status: "started" | "done" | "failed", message: string, logTail?: string) =>
    client
      .bootProgress({ step: "clone", status, message: message.slice(-500), logTail })
      .catch((error: unknown) => log(`Could not report the clone step: ${String(error)}`));
  await report("started", `${repository} (${branch})`);
  const progress: string[] = [];
  try {
    const outcome = await prepareRepository({
      workspaceDir: config.WORKSPACE_DIR,
      cloneUrl: state.bootstrap.workspace.cloneUrl,
      branch,
      credentialHelper: access.credentialHelper,
      // The cast only drops the project-wide NODE_ENV typing: git does not need it.
      environment: access.environment as NodeJS.ProcessEnv,
      user: access.user,
      log,
      progress: (line) => progress.push(line),
    });
    const received = progress.findLast((line) => line.startsWith("Receiving objects"));
    const summary = outcome === "kept" ? "kept the existing clone" : (received ?? "cloned");
    await report(
      "done",
      summary,
      progress.length > 0 ? progress.join("\n").slice(-8000) : undefined,
    );
    return true;
  } catch (error) {
    if (!(error instanceof CloneError)) {
      log(`Could not prepare the repository (the terminal still works): ${String(error)}`);
      return true;
    }
    log(error.message);
    await report("failed", error.gitOutput || error.message, error.gitOutput || undefined);
    return false;
  }
}

/** After a failed clone: nothing to serve; SIGTERM (a stop or delete) ends the agent. */
function waitForStop(): Promise<void> {
  log("Not reporting ready: the workspace has no repository. Stop or delete the workspace.");
  // A timer keeps the process alive: an agent that ended would be restarted to fail again.
  const keepAlive = setInterval(() => {}, 3_600_000);
  const end = () => {
    clearInterval(keepAlive);
    process.exit(0);
  };
  process.once("SIGTERM", end);
  process.once("SIGINT", end);
  return new Promise(() => {});
}

/** The terminal server, over HTTPS with renewal when TLS is on. */
function serveTerminal(
  options: TerminalServerOptions,
  tls: AgentTls | null,
): { server: Server | https.Server; startRenewal?: () => NodeJS.Timeout } {
  if (!tls) return { server: createTerminalServer(options) };
  const server = createTerminalServer(options, tls.secureContext());
  // New connections get the renewed certificate; open ones keep theirs until they close.
  return {
    server,
    startRenewal: () => tls.startRenewal((context) => server.setSecureContext(context)),
  };
}

function terminalServerOptions(
  config: AgentConfig,
  state: AgentState,
  sessions: WorkspaceSessions,
  grants: TerminalGrants,
): TerminalServerOptions {
  const title = `${state.bootstrap.workspace.repository} · terminal`;
  // The terminal server knows how to send its page (with its security headers); the auth
  // module decides when. This map hands the one to the other per response.
  const pageSenders = new WeakMap<ServerResponse, () => void>();
  const jwks: JwksCache = createJwksCache({ jwksUrl: state.bootstrap.jwksUrl });
  const auth = createTerminalAuth({
    workspaceId: config.WORKSPACE_ID,
    issuer: state.bootstrap.issuer,
    jwksUrl: state.bootstrap.jwksUrl,
    jwks,
    cookieSecret: Buffer.from(state.cookieSecret, "base64url"),
    grants,
    servePage: (res) => pageSenders.get(res)?.(),
  });
  const authenticate = createControlAuth({
    workspaceId: config.WORKSPACE_ID,
    issuer: state.bootstrap.issuer,
    jwks,
  });
  return {
    sessions,
    handleApi: createSessionApi({ sessions, authenticate, log }),
    authenticate: async (req) => auth.readCookie(req.headers.cookie),
    handleEntry: (req, res, sendPage) => {
      pageSenders.set(res, sendPage);
      return auth.handleEntry(req, res);
    },
    onSocket: (ws, user) => {
      if (user.grantId) grants.track(user.grantId, ws);
    },
    // Where the page asks why its socket closed, and the grant it asks with (ADR 0022).
    renderPage: (req) =>
      renderTerminalPage({
        title,
        assetPrefix: "/assets/",
        config: {
          // The public URL browsers use (the terminal links' issuer).
          controlPlaneUrl: state.bootstrap.issuer,
          workspaceId: config.WORKSPACE_ID,
          grantId: auth.readCookie(req.headers.cookie)?.grantId ?? null,
        },
      }),
    pageCsp: terminalPageCspFor(state.bootstrap.issuer),
    readAsset: readAgentAsset,
    // The pid tells a restarted agent from the one before (the durable-sessions test).
    health: () => ({
      status: "ok",
      workspace: config.WORKSPACE_ID,
      pid: process.pid,
      ...sessions.readActivity(),
    }),
    onError: (error) => log(`Terminal error: ${String(error)}`),
  };
}

function startBackgroundWork(
  config: AgentConfig,
  state: AgentState,
  client: ControlPlaneClient,
  sessions: WorkspaceSessions,
  version: string,
  grants: TerminalGrants,
): { timers: NodeJS.Timeout[]; monitor: IdleMonitor } {
  const timeoutSeconds =
    config.AGENT_IDLE_TIMEOUT_SECONDS ?? state.bootstrap.workspace.idleTimeoutMinutes * 60;
  const monitor = createIdleMonitor({
    timeoutMs: timeoutSeconds * 1000,
    warningMs: Math.min(idleWarningSeconds, timeoutSeconds / 2) * 1000,
    maxWorkingMs: state.bootstrap.workspace.maxWorkingHours * 3_600_000,
    lastInputAt: () => sessions.readActivity().lastActivityAt,
    sessions: () => sessions.list(),
    warn: (message) => {
      log(message);
      sessions.notifyAll(message);
    },
    announce: () =>
      void sendSessionReport(client, sessions, monitor).catch((error: unknown) =>
        log(`Could not report the coming stop: ${String(error)}`),
      ),
    reportIdle: async (reason) => {
      log(`Stopping the workspace: ${reason}.`);
      await client.idle(reason);
    },
  });
  const heartbeat = setInterval(
    () =>
      void sendHeartbeat(client, sessions, monitor, version, grants).catch((error: unknown) =>
        log(`Heartbeat failed: ${String(error)}`),
      ),
    (config.AGENT_HEARTBEAT_SECONDS ?? heartbeatIntervalSeconds) * 1000,
  );
  const idle = setInterval(
    () =>
      void monitor.check().catch((error: unknown) => log(`Idle report failed: ${String(error)}`)),
    Math.min(10_000, (timeoutSeconds * 1000) / 10),
  );
  return { timers: [heartbeat, idle], monitor };
}

// The answer names the terminal sign-ins that ended (sign-out, revoked session or token):
// their cookies stop counting and their sockets close. The shells stay, for their owner to
// re-attach once signed in again. Should the control plane not answer, cookies keep working.
// The session report goes with it, so a missed one is made up within a heartbeat.
async function sendHeartbeat(
  client: ControlPlaneClient,
  sessions: WorkspaceSessions,
  monitor: IdleMonitor,
  version: string,
  grants: TerminalGrants,
): Promise<void> {
  await grants.sweep();
  const activity = sessions.readActivity();
  const answer = await client.heartbeat({
    agentVersion: version,
    sessions: activity.sessions,
    lastActivityAt: activity.lastActivityAt?.toISOString() ?? null,
    terminalGrants: grants.held(),
  });
  await sendSessionReport(client, sessions, monitor).catch((error: unknown) =>
    log(`Could not report the sessions: ${String(error)}`),
  );
  if (answer.revokedTerminalGrants.length === 0) return;
  await grants.end(answer.revokedTerminalGrants);
  log(
    `Ended ${answer.revokedTerminalGrants.length} terminal sign-in(s) the control plane revoked.`,
  );
}
