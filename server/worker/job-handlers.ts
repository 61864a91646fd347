import path from "node:path";
import { renderUserData } from "../../cloud-init/render-user-data.ts";
import type { Database } from "../../db/client.ts";
import type { WorkspaceState } from "../../db/schema.ts";
import type { Keyring } from "../crypto/envelope.ts";
import { createCloudflareDns } from "../dns/cloudflare.ts";
import { createCloudflareRangesReader, sourceIpsOf } from "../dns/cloudflare-ranges.ts";
import type { DnsProvider } from "../dns/dns.ts";
import { createLocalDns } from "../dns/local.ts";
import type { Env } from "../env.ts";
import type { Job } from "../jobs/queue.ts";
import { describeFailure } from "../jobs/job-errors.ts";
import { PermanentJobError, type JobContext, type JobHandler } from "../jobs/runner.ts";
import { createHetznerProvider } from "../providers/hetzner.ts";
import { createHetznerFirewallClient } from "../providers/hetzner-firewall.ts";
import type { Logger } from "../logger.ts";
import { createLocalProvider } from "../providers/local.ts";
import { describeWorkspaceAccess } from "../providers/local-isolation.ts";
import { readUserRole } from "../services/users.ts";
import type { LocalUserData } from "../providers/local-agent.ts";
import type { Provider } from "../providers/provider.ts";
import type { OutboundRequestObserver } from "../process/outbound-requests.ts";
import { installRoot } from "../process/version.ts";
import { readCredentialSecret } from "../services/credentials.ts";
import { recordCostsOf } from "../services/workspace-costs.ts";
import {
  bringUpWorkspace,
  deleteWorkspace,
  failWorkspace,
  stopWorkspace,
  type Workspace,
  type WorkspaceJobDependencies,
} from "../services/workspace-jobs.ts";
import { workspaceJobKinds } from "../services/workspaces.ts";
import { archOfServerType, createAgentReleaseReader, type AgentArch } from "./agent-release.ts";
import { createToolchainReleaseReader } from "./toolchain-release.ts";
import { createPeriodicHandlers } from "./periodic-jobs.ts";
import { deliverNotification } from "../services/notification-webhooks.ts";
import { notificationDeliveryJobKind } from "../services/notifications.ts";

// Binds the job kinds to the services that do the work, with the providers this install
// is configured for.

export type WorkerDependencies = {
  db: Database;
  keyring: Keyring;
  env: Env;
  version: string;
  installId: string;
  logger?: Logger;
  /** Told of every request to Hetzner and Cloudflare (the worker's metrics). */
  observeOutboundRequest?: OutboundRequestObserver;
};

// The workspace state each job kind works in; a final failure applies only there.
const jobStates: Record<string, WorkspaceState[]> = {
  [workspaceJobKinds.provision]: ["provisioning", "booting"],
  [workspaceJobKinds.start]: ["starting", "booting"],
  [workspaceJobKinds.stop]: ["stopping"],
  [workspaceJobKinds.delete]: ["deleting"],
};

export function createJobHandlers(deps: WorkerDependencies): Record<string, JobHandler> {
  const { db, env } = deps;
  const providerFor = createProviderResolver(deps);
  const renderFor = createUserDataRenderer(deps);
  // Clients are made per job with the job's signal: when the job is aborted (drain, lost
  // lease) every request in flight is cut off before another worker may take the job.
  const jobDependencies = (job: Job, context: JobContext): WorkspaceJobDependencies => ({
    db,
    installId: deps.installId,
    jobId: job.id,
    signal: context.signal,
    providerFor: (workspace) => providerFor(workspace, context.signal),
    dns: createDns(env, context.signal, deps),
    renderUserData: renderFor,
    volumeSizeGb: env.WORKSPACE_VOLUME_GB,
    log: (message) => context.log("info", message),
  });
  const workspaceIdOf = (job: Job) => {
    if (!job.workspaceId) throw new Error(`Job ${job.id} (${job.kind}) has no workspace.`);
    return job.workspaceId;
  };
  return {
    [workspaceJobKinds.provision]: (job, context) =>
      bringUpWorkspace(jobDependencies(job, context), workspaceIdOf(job), "provisioning"),
    [workspaceJobKinds.start]: (job, context) =>
      bringUpWorkspace(jobDependencies(job, context), workspaceIdOf(job), "starting"),
    [workspaceJobKinds.stop]: (job, context) =>
      stopWorkspace(jobDependencies(job, context), workspaceIdOf(job)),
    [workspaceJobKinds.delete]: (job, context) =>
      deleteWorkspace(jobDependencies(job, context), workspaceIdOf(job)),
    // SPEC §14: one notification to the user's webhook; retried by the queue, never a workspace's.
    [notificationDeliveryJobKind]: async (job, context) => {
      const id = Number(job.payload.notificationId);
      const policy = { allowPrivateAddresses: env.WORKSPACE_PROVIDER === "local" };
      const delivered = await deliverNotification(db, deps.keyring, id, policy);
      await context.log(
        "info",
        delivered
          ? `Notification ${id} delivered to the webhook (${delivered.status}).`
          : `Notification ${id}: no webhook any more; nothing sent.`,
      );
    },
    ...createPeriodicHandlers({
      db,
      env,
      keyring: deps.keyring,
      installId: deps.installId,
      hetznerProviderFor: providerFor.forUser,
      hetznerFirewallFor: providerFor.firewallFor,
      cloudflareRanges: providerFor.cloudflareRanges,
    }),
  };
}

/** What a job that ran out of attempts does to its workspace. */
export async function failJobWorkspace(db: Database, job: Job, error: unknown): Promise<void> {
  if (!job.workspaceId) return;
  const action = job.kind.replace("workspace.", "");
  const reason = `Could not ${action} the workspace after ${job.attempts} attempt${job.attempts === 1 ? "" : "s"}: ${describeFailure(error)}`;
  await failWorkspace(db, job.workspaceId, jobStates[job.kind] ?? [], reason);
}

function createProviderResolver(deps: WorkerDependencies) {
  const { db, keyring, env, logger, installId, observeOutboundRequest: observe } = deps;
  const local = createLocalProvider({
    dataDir: env.DATA_DIR,
    idleTimeoutSeconds: env.LOCAL_AGENT_IDLE_TIMEOUT_SECONDS,
    log: (message) => logger?.info(message),
  });
  // Every Hetzner server gets our firewall: 443 from Cloudflare only (hetzner-firewall.ts).
  const cloudflareRanges = createCloudflareRangesReader({
    apiUrl: env.CLOUDFLARE_API_URL,
    logger,
    observe,
  });
  const sourceIps = async () => sourceIpsOf(await cloudflareRanges.readOrLastKnown());
  const forUser = async (userId: string, signal?: AbortSignal): Promise<Provider> =>
    createHetznerProvider({
      token: await readCredentialSecret(db, keyring, userId, "hetzner"),
      apiUrl: env.HETZNER_API_URL,
      logger,
      signal,
      firewall: { installId, sourceIps },
      observe,
    });
  const firewallFor = async (userId: string, signal?: AbortSignal) =>
    createHetznerFirewallClient({
      token: await readCredentialSecret(db, keyring, userId, "hetzner"),
      apiUrl: env.HETZNER_API_URL,
      installId,
      logger,
      signal,
      observe,
    });
  const access = describeWorkspaceAccess("local");
  // Without root a local server would run as this worker's own user: only an admin's may start
  // (checked here, where the process is made, as well as at create and start).
  const localFor = async (workspace: Workspace): Promise<Provider> =>
    access.allowed === "everyone" || (await readUserRole(db, workspace.userId)) === "admin"
      ? local
      : {
          ...local,
          createServer: () => Promise.reject(new PermanentJobError(access.notice ?? "")),
        };
  // The local provider's calls are local processes and files: it ignores the signal.
  const resolve = async (workspace: Workspace, signal?: AbortSignal) =>
    recordCostsOf(
      db,
      workspace,
      workspace.provider === "local"
        ? await localFor(workspace)
        : await forUser(workspace.userId, signal),
    );
  return Object.assign(resolve, { forUser, firewallFor, cloudflareRanges });
}

function createDns(
  env: Env,
  signal: AbortSignal,
  { logger, observeOutboundRequest }: WorkerDependencies,
): DnsProvider {
  if (env.DNS_PROVIDER === "local") return createLocalDns();
  return createCloudflareDns({
    apiToken: env.CLOUDFLARE_API_TOKEN!,
    zoneId: env.CLOUDFLARE_ZONE_ID!,
    baseDomain: env.BASE_DOMAIN!,
    apiUrl: env.CLOUDFLARE_API_URL,
    logger,
    signal,
    observe: observeOutboundRequest,
  });
}

/**
 * User data for a new server: cloud-init for a VM; for a local agent process, the same
 * facts as JSON (it reads them from a file, as cloud-init would from the metadata service).
 */
function createUserDataRenderer({ env, version }: WorkerDependencies) {
  const readRelease = createAgentReleaseReader(
    env.AGENT_DIST_DIR ?? path.join(installRoot, "dist", "agent"),
  );
  const readToolchain = createToolchainReleaseReader();
  return async (workspace: Workspace, bootstrapToken: string): Promise<string> => {
    const arch =
      workspace.provider === "local" ? localArch() : archOfServerType(workspace.serverType);
    const release = await readRelease(arch);
    const agentDownloadUrl = `${env.PUBLIC_URL}/agent/download?arch=${release.arch}`;
    if (workspace.provider === "local")
      return JSON.stringify({
        controlPlaneUrl: env.PUBLIC_URL,
        workspaceId: workspace.id,
        bootstrapToken,
        agentDownloadUrl,
        agentSha256: release.sha256,
      } satisfies LocalUserData);
    return renderUserData({
      workspaceId: workspace.id,
      controlPlaneUrl: env.PUBLIC_URL,
      agentDownloadUrl,
      agentSha256: release.sha256,
      agentVersion: version,
      bootstrapToken,
      volumeId: workspace.volumeId ?? undefined,
      repository: workspace.repository,
      branch: workspace.branch,
      idleTimeoutMinutes: workspace.idleTimeoutMinutes,
      // Behind Cloudflare the agent serves HTTPS with an Origin CA certificate (ADR 0010).
      agentTls: env.DNS_PROVIDER === "cloudflare" ? "origin-ca" : "off",
      // Empty when not built: the server reports the toolchain step as failed and runs on.
      toolchainSha256: (await readToolchain(arch))?.sha256 ?? "",
    });
  };
}

const localArch = (): AgentArch => (process.arch === "arm64" ? "arm64" : "amd64");
