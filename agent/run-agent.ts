import { heartbeatIntervalSeconds, idleWarningSeconds } from "../protocol/agent-protocol.ts";
import { readAgentState, saveAgentState, type AgentState } from "./agent-state.ts";
import { createTerminalAuth } from "./auth/terminal-auth.ts";
import {
  loadTerminalGrants,
  terminalGrantsFileOf,
  type TerminalGrants,
} from "./auth/terminal-grants.ts";
import { loadAgentAssets, readAgentAsset } from "./build/assets.ts";
import { readAgentConfig, type AgentConfig } from "./config.ts";
import { createControlPlaneClient, type ControlPlaneClient } from "./control-plane-client.ts";
import { createIdleMonitor } from "./idle-monitor.ts";
import { prepareRepository } from "./repository.ts";
import type { Server, ServerResponse } from "node:http";
import type https from "node:https";
import { createWorkspaceShells } from "./devcontainer.ts";
import { renderTerminalPage } from "./terminal/page/terminal-page.ts";
import { createSessionManager, type SessionManager } from "./terminal/session-manager.ts";
import { createTerminalServer, type TerminalServerOptions } from "./terminal/terminal-server.ts";
import { prepareAgentTls, type AgentTls } from "./tls/agent-tls.ts";
import { openWorkspaceAccess, type WorkspaceAccess } from "./workspace-access.ts";

// The agent's life (SPEC §9): redeem the bootstrap token (once: the answer is kept for
// restarts), put the repository in place, serve the terminal, report ready, heartbeat, and
// ask the control plane to stop the workspace when nobody has typed for the idle timeout.

const log = (message: string) =>
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), message })}\n`);

export async function runAgent(version: string): Promise<void> {
  const config = readAgentConfig();
  const client = createControlPlaneClient(config.CONTROL_PLANE_URL);
  const state = await bootstrapOnce(config, client, version);
  client.useAgentToken(state.bootstrap.agentToken);
  const cloneUrl = state.bootstrap.workspace.cloneUrl;
  const access = await openWorkspaceAccess({ config, cloneUrl, ask: client.gitCredential, log });
  await prepareWorkspace(config, state, access).catch((error: unknown) =>
    log(`Could not prepare the repository (the terminal still works): ${String(error)}`),
  );
  await loadAgentAssets();
  // In the background: on a VM it waits for the toolchain, and `devcontainer up` takes minutes.
  const shells = createWorkspaceShells({
    workspaceDir: config.WORKSPACE_DIR,
    environment: access.environment,
    user: access.user,
    waitForToolchain: access.user !== null,
    mounts: access.mounts,
    log,
    // The devcontainer is an optional boot step: the job log shows how it went.
    report: (status, message) =>
      void client
        .bootProgress({ step: "devcontainer", status, message })
        .catch((error: unknown) => log(`Could not report the devcontainer step: ${String(error)}`)),
  });
  void shells.start();
  const manager = createSessionManager({ shell: shells.current });
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
    terminalServerOptions(config, state, manager, grants),
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
  const timers = startBackgroundWork(config, state, client, manager, version, grants);
  if (startRenewal) timers.push(startRenewal());
  const stop = async () => {
    for (const timer of timers) clearInterval(timer);
    shells.stop();
    server.close();
    await access.close();
    // node-pty does not always report a shell's exit; never let that keep the agent up.
    await Promise.race([manager.killAll(), new Promise((resolve) => setTimeout(resolve, 10_000))]);
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop());
  process.once("SIGINT", () => void stop());
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

async function prepareWorkspace(
  config: AgentConfig,
  state: AgentState,
  access: WorkspaceAccess,
): Promise<void> {
  await prepareRepository({
    workspaceDir: config.WORKSPACE_DIR,
    cloneUrl: state.bootstrap.workspace.cloneUrl,
    branch: state.bootstrap.workspace.branch,
    credentialHelper: access.credentialHelper,
    // The cast only drops the project-wide NODE_ENV typing: git does not need it.
    environment: access.environment as NodeJS.ProcessEnv,
    user: access.user,
    log,
  });
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
  manager: SessionManager,
  grants: TerminalGrants,
): TerminalServerOptions {
  const title = `${state.bootstrap.workspace.repository} · terminal`;
  // The terminal server knows how to send its page (with its security headers); the auth
  // module decides when. This map hands the one to the other per response.
  const pageSenders = new WeakMap<ServerResponse, () => void>();
  const auth = createTerminalAuth({
    workspaceId: config.WORKSPACE_ID,
    issuer: state.bootstrap.issuer,
    jwksUrl: state.bootstrap.jwksUrl,
    cookieSecret: Buffer.from(state.cookieSecret, "base64url"),
    grants,
    servePage: (res) => pageSenders.get(res)?.(),
  });
  return {
    manager,
    authenticate: async (req) => auth.readCookie(req.headers.cookie),
    handleEntry: (req, res, sendPage) => {
      pageSenders.set(res, sendPage);
      return auth.handleEntry(req, res);
    },
    onSocket: (ws, user) => {
      if (user.grantId) grants.track(user.grantId, ws);
    },
    renderPage: () => renderTerminalPage({ title, assetPrefix: "/assets/" }),
    readAsset: readAgentAsset,
    health: () => ({ status: "ok", workspace: config.WORKSPACE_ID, ...manager.readActivity() }),
    onError: (error) => log(`Terminal error: ${String(error)}`),
  };
}

function startBackgroundWork(
  config: AgentConfig,
  state: AgentState,
  client: ControlPlaneClient,
  manager: SessionManager,
  version: string,
  grants: TerminalGrants,
): NodeJS.Timeout[] {
  const startedAt = new Date();
  const lastActivityAt = () => manager.readActivity().lastActivityAt ?? startedAt;
  const heartbeat = setInterval(
    () =>
      void sendHeartbeat(client, manager, version, grants).catch((error: unknown) =>
        log(`Heartbeat failed: ${String(error)}`),
      ),
    (config.AGENT_HEARTBEAT_SECONDS ?? heartbeatIntervalSeconds) * 1000,
  );
  const timeoutSeconds =
    config.AGENT_IDLE_TIMEOUT_SECONDS ?? state.bootstrap.workspace.idleTimeoutMinutes * 60;
  const monitor = createIdleMonitor({
    timeoutMs: timeoutSeconds * 1000,
    warningMs: Math.min(idleWarningSeconds, timeoutSeconds / 2) * 1000,
    lastActivityAt,
    warn: (message) => {
      log(message);
      manager.notifyAll(message);
    },
    reportIdle: async () => {
      log("Idle for the timeout; asking the control plane to stop the workspace.");
      await client.idle();
    },
  });
  const idle = setInterval(
    () =>
      void monitor.check().catch((error: unknown) => log(`Idle report failed: ${String(error)}`)),
    Math.min(10_000, (timeoutSeconds * 1000) / 10),
  );
  return [heartbeat, idle];
}

// The answer names the terminal sign-ins that ended (sign-out, revoked session or token):
// their cookies stop counting and their sockets close. The shells stay, for their owner to
// re-attach once signed in again. Should the control plane not answer, cookies keep working.
async function sendHeartbeat(
  client: ControlPlaneClient,
  manager: SessionManager,
  version: string,
  grants: TerminalGrants,
): Promise<void> {
  await grants.sweep();
  const activity = manager.readActivity();
  const answer = await client.heartbeat({
    agentVersion: version,
    sessions: activity.sessions,
    lastActivityAt: activity.lastActivityAt?.toISOString() ?? null,
    terminalGrants: grants.held(),
  });
  if (answer.revokedTerminalGrants.length === 0) return;
  await grants.end(answer.revokedTerminalGrants);
  log(
    `Ended ${answer.revokedTerminalGrants.length} terminal sign-in(s) the control plane revoked.`,
  );
}
