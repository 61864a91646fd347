import { setTimeout as sleep } from "node:timers/promises";
import { eq } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { workspaces, type WorkspaceState } from "../../db/schema.ts";
import type { DnsProvider } from "../dns/dns.ts";
import { installLabels, type Provider, type ProviderServer } from "../providers/provider.ts";
import { issueBootstrapToken } from "./agents.ts";
import { transitionWorkspace, transitionWorkspaceIf } from "./workspaces.ts";

// What the worker does for each workspace job (SPEC §5, §7). Every step is idempotent: the
// server and volume are looked up by label before one is made, so a retried or re-taken job
// never creates a second of either.

export type Workspace = typeof workspaces.$inferSelect;

export type WorkspaceJobDependencies = {
  db: Database;
  /** Labels every server and volume, so the orphan sweep never touches another install's. */
  installId: string;
  /** The job doing the work: its id labels the servers it creates. */
  jobId: number;
  /** Aborted when the job is canceled or its lease lost: stop before the next step. */
  signal: AbortSignal;
  /** The provider bound to the workspace owner's account. */
  providerFor: (workspace: Workspace) => Promise<Provider>;
  dns: DnsProvider;
  /** The user data for a new server of this workspace, carrying its bootstrap token. */
  renderUserData: (workspace: Workspace, bootstrapToken: string) => Promise<string>;
  volumeSizeGb: number;
  log: (message: string) => Promise<void>;
  /** How a server still being created is waited for; tests shorten it. */
  serverWait?: ServerWait;
};

export type ServerWait = { pollMs: number; maxWaitMs: number };
// A Hetzner create takes well under a minute; one still initializing after ten is broken.
const defaultServerWait: ServerWait = { pollMs: 2_000, maxWaitMs: 10 * 60_000 };

export const serverNameOf = (workspaceId: string) => `ws-${workspaceId}`;
const labelsOf = (deps: WorkspaceJobDependencies, workspaceId: string) => ({
  ...installLabels(deps.installId),
  workspace: workspaceId,
});

async function loadWorkspace(db: Database, id: string): Promise<Workspace | null> {
  const [row] = await db.select().from(workspaces).where(eq(workspaces.id, id));
  return row ?? null;
}

/** Loads the workspace, or null (and says why in the job log) when it has moved on. */
async function workspaceIn(
  deps: WorkspaceJobDependencies,
  id: string,
  expected: readonly WorkspaceState[],
): Promise<Workspace | null> {
  const workspace = await loadWorkspace(deps.db, id);
  if (workspace && expected.includes(workspace.state)) return workspace;
  await deps.log(
    `Nothing to do: the workspace is ${workspace?.state ?? "gone"}, not ${expected.join(" or ")}.`,
  );
  return null;
}

/**
 * provision (new volume) and start (kept volume): a volume, a server, a DNS record, then
 * `booting`. From `booting` or `running` (an earlier attempt got further, or a fast agent
 * reported in) the steps are repeated so the DNS record and the ids are surely in place.
 */
export async function bringUpWorkspace(
  deps: WorkspaceJobDependencies,
  id: string,
  expected: "provisioning" | "starting",
): Promise<void> {
  const workspace = await workspaceIn(deps, id, [expected, "booting", "running"]);
  if (!workspace) return;
  const provider = await deps.providerFor(workspace);
  const volumeId = workspace.volumeId ?? (await ensureVolume(deps, provider, workspace));
  deps.signal.throwIfAborted();
  const server = await ensureServer(deps, provider, { ...workspace, volumeId });
  deps.signal.throwIfAborted();
  const { hostname } = await deps.dns.upsertRecord({
    name: serverNameOf(id),
    ipv4: server.ipv4!,
    port: server.agentPort,
  });
  const agentUrl = server.agentPort ? `http://${hostname}` : `https://${hostname}`;
  await deps.log(`Server ${server.id} is up at ${server.ipv4}; its agent answers at ${agentUrl}.`);
  await deps.db
    .update(workspaces)
    .set({ serverId: server.id, ipv4: server.ipv4, agentUrl })
    .where(eq(workspaces.id, id));
  await transitionWorkspaceIf(
    deps.db,
    id,
    [expected],
    "booting",
    "Server created; waiting for the agent",
    "worker",
  );
}

/**
 * The server this job made (found by its labels, so a re-taken job reuses it), or a new one.
 * Servers made by earlier jobs are left from before an error: their bootstrap token is
 * spent, so they are replaced.
 */
async function ensureServer(
  deps: WorkspaceJobDependencies,
  provider: Provider,
  workspace: Workspace & { volumeId: string },
): Promise<ProviderServer & { ipv4: string }> {
  const job = String(deps.jobId);
  const servers = await provider.listServers(labelsOf(deps, workspace.id));
  for (const stale of servers.filter((server) => server.labels.job !== job)) {
    await deps.log(`Deleting server ${stale.id}, left from an earlier run; a new one replaces it.`);
    await provider.deleteServer(stale.id);
  }
  const earlier = servers.find((candidate) => candidate.labels.job === job);
  const server =
    (earlier && (await settleEarlierServer(deps, provider, earlier))) ??
    (await createServer(deps, provider, workspace, job));
  if (!server.ipv4) throw new Error(`Server ${server.id} has no public IPv4 address yet.`);
  return { ...server, ipv4: server.ipv4 };
}

async function createServer(
  deps: WorkspaceJobDependencies,
  provider: Provider,
  workspace: Workspace & { volumeId: string },
  job: string,
): Promise<ProviderServer> {
  const bootstrapToken = await issueBootstrapToken(deps.db, workspace.id);
  await deps.log(
    `Creating server ${serverNameOf(workspace.id)} (${workspace.serverType}, ${workspace.location}).`,
  );
  return provider.createServer({
    name: serverNameOf(workspace.id),
    serverType: workspace.serverType,
    location: workspace.location,
    userData: await deps.renderUserData(workspace, bootstrapToken),
    labels: { ...labelsOf(deps, workspace.id), job },
    volumeIds: [workspace.volumeId],
  });
}

/**
 * A server an earlier attempt of this job made: that attempt may have been cut off (a drained
 * worker, a lost lease) while Hetzner was still creating it, or the creation failed. It is
 * reused once created — its user data carries this job's bootstrap token, still valid since
 * no new one was issued. Null when it is gone or broken (deleted here): make a new one.
 */
async function settleEarlierServer(
  deps: WorkspaceJobDependencies,
  provider: Provider,
  found: ProviderServer,
): Promise<ProviderServer | null> {
  const wait = deps.serverWait ?? defaultServerWait;
  let server: ProviderServer | null = found;
  if (server.status === "initializing")
    await deps.log(`Server ${found.id} is still being created (an earlier attempt began it).`);
  for (let waited = 0; server?.status === "initializing"; waited += wait.pollMs) {
    if (waited >= wait.maxWaitMs) break;
    await sleep(wait.pollMs, undefined, { signal: deps.signal });
    server = await provider.getServer(found.id);
  }
  if (!server) {
    await deps.log(`Server ${found.id}, made by an earlier attempt, is gone; making a new one.`);
    return null;
  }
  if (server.status === "running" || server.status === "starting") {
    await deps.log(`Server ${server.id} exists already (an earlier attempt made it).`);
    return server;
  }
  // Off or never done initializing: its create action failed (Hetzner leaves such a server
  // off), or it was switched off. Either way its boot is lost; a fresh server replaces it.
  await deps.log(
    `Server ${server.id}, made by an earlier attempt, is ${server.status}: its creation did not finish. Deleting it; a new one replaces it.`,
  );
  await provider.deleteServer(server.id);
  return null;
}

async function ensureVolume(
  deps: WorkspaceJobDependencies,
  provider: Provider,
  workspace: Workspace,
): Promise<string> {
  const [existing] = await provider.listVolumes(labelsOf(deps, workspace.id));
  const volume =
    existing ??
    (await provider.createVolume({
      name: serverNameOf(workspace.id),
      sizeGb: deps.volumeSizeGb,
      location: workspace.location,
      labels: labelsOf(deps, workspace.id),
    }));
  await deps.log(`${existing ? "Found" : "Created"} volume ${volume.id} for /workspace.`);
  await deps.db
    .update(workspaces)
    .set({ volumeId: volume.id })
    .where(eq(workspaces.id, workspace.id));
  return volume.id;
}

const detachedServer = {
  serverId: null,
  ipv4: null,
  agentUrl: null,
  agentTokenHash: null,
  bootstrapTokenHash: null,
  bootstrapExpiresAt: null,
};

/** Deletes the server (a powered-off one is still billed) and keeps the volume. */
export async function stopWorkspace(deps: WorkspaceJobDependencies, id: string): Promise<void> {
  const workspace = await workspaceIn(deps, id, ["stopping"]);
  if (!workspace) return;
  await removeServers(deps, await deps.providerFor(workspace), id);
  // A delete requested meanwhile takes over from here.
  await transitionWorkspaceIf(
    deps.db,
    id,
    ["stopping"],
    "stopped",
    "Server deleted; the volume keeps /workspace",
    "worker",
    detachedServer,
  );
}

/** Deletes server, volume and DNS record; the row stays (soft delete) until the purge. */
export async function deleteWorkspace(deps: WorkspaceJobDependencies, id: string): Promise<void> {
  const workspace = await workspaceIn(deps, id, ["deleting"]);
  if (!workspace) return;
  const provider = await deps.providerFor(workspace);
  await removeServers(deps, provider, id);
  deps.signal.throwIfAborted();
  for (const volume of await provider.listVolumes(labelsOf(deps, id))) {
    await provider.deleteVolume(volume.id);
    await deps.log(`Deleted volume ${volume.id}.`);
  }
  await transitionWorkspace(
    deps.db,
    id,
    "deleted",
    "Server, volume and DNS record deleted",
    "worker",
    {
      ...detachedServer,
      volumeId: null,
      deletedAt: new Date(),
    },
  );
}

async function removeServers(deps: WorkspaceJobDependencies, provider: Provider, id: string) {
  for (const server of await provider.listServers(labelsOf(deps, id))) {
    await provider.deleteServer(server.id);
    await deps.log(`Deleted server ${server.id}.`);
  }
  await deps.dns.deleteRecord(serverNameOf(id));
}

/**
 * A job that ran out of attempts leaves its workspace in `error`, saying why; but only if
 * the workspace is still where the job left it, not if the user has asked for more since.
 */
export async function failWorkspace(
  db: Database,
  id: string,
  jobStates: readonly WorkspaceState[],
  reason: string,
): Promise<void> {
  await transitionWorkspaceIf(db, id, jobStates, "error", reason, "worker");
}
