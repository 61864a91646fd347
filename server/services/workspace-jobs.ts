import { eq } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { workspaces, type WorkspaceState } from "../../db/schema.ts";
import type { DnsProvider } from "../dns/dns.ts";
import { managedByLabel, type Provider } from "../providers/provider.ts";
import { issueBootstrapToken } from "./agents.ts";
import { transitionWorkspace } from "./workspaces.ts";

// What the worker does for each workspace job (SPEC §5, §7). Every step is idempotent: the
// server and volume are looked up by label before one is made, so a retried or re-taken job
// never creates a second of either.

export type Workspace = typeof workspaces.$inferSelect;

export type WorkspaceJobDependencies = {
  db: Database;
  /** The provider bound to the workspace owner's account. */
  providerFor: (workspace: Workspace) => Promise<Provider>;
  dns: DnsProvider;
  /** The user data for a new server of this workspace, carrying its bootstrap token. */
  renderUserData: (workspace: Workspace, bootstrapToken: string) => Promise<string>;
  volumeSizeGb: number;
  log: (message: string) => Promise<void>;
};

export const serverNameOf = (workspaceId: string) => `ws-${workspaceId}`;
const labelsOf = (workspaceId: string) => ({ ...managedByLabel, workspace: workspaceId });

async function loadWorkspace(db: Database, id: string): Promise<Workspace | null> {
  const [row] = await db.select().from(workspaces).where(eq(workspaces.id, id));
  return row ?? null;
}

/** Loads the workspace, or null (and says why in the job log) when it has moved on. */
async function workspaceIn(
  deps: WorkspaceJobDependencies,
  id: string,
  expected: WorkspaceState,
): Promise<Workspace | null> {
  const workspace = await loadWorkspace(deps.db, id);
  if (workspace?.state === expected) return workspace;
  await deps.log(`Nothing to do: the workspace is ${workspace?.state ?? "gone"}, not ${expected}.`);
  return null;
}

/** provision (pending volume) and start (kept volume): a volume, a server, a DNS record. */
export async function bringUpWorkspace(
  deps: WorkspaceJobDependencies,
  id: string,
  options: { expected: "provisioning" | "starting"; replaceServer: boolean },
): Promise<void> {
  const workspace = await workspaceIn(deps, id, options.expected);
  if (!workspace) return;
  const provider = await deps.providerFor(workspace);
  const volumeId = workspace.volumeId ?? (await ensureVolume(deps, provider, workspace));
  let [server] = await provider.listServers(labelsOf(id));
  if (server && options.replaceServer) {
    await deps.log(`Replacing server ${server.id} left from before the error.`);
    await provider.deleteServer(server.id);
    server = undefined;
  }
  if (server) await deps.log(`Server ${server.id} exists already (an earlier attempt made it).`);
  else {
    const bootstrapToken = await issueBootstrapToken(deps.db, id);
    await deps.log(
      `Creating server ${serverNameOf(id)} (${workspace.serverType}, ${workspace.location}).`,
    );
    server = await provider.createServer({
      name: serverNameOf(id),
      serverType: workspace.serverType,
      location: workspace.location,
      userData: await deps.renderUserData({ ...workspace, volumeId }, bootstrapToken),
      labels: labelsOf(id),
      volumeIds: [volumeId],
    });
  }
  if (!server.ipv4) throw new Error(`Server ${server.id} has no public IPv4 address yet.`);
  const { hostname } = await deps.dns.upsertRecord({
    name: serverNameOf(id),
    ipv4: server.ipv4,
    port: server.agentPort,
  });
  const agentUrl = server.agentPort ? `http://${hostname}` : `https://${hostname}`;
  await deps.log(
    `Server ${server.id} is up at ${server.ipv4}; waiting for its agent at ${agentUrl}.`,
  );
  await deps.db
    .update(workspaces)
    .set({ serverId: server.id, ipv4: server.ipv4, agentUrl })
    .where(eq(workspaces.id, id));
  // The agent may have reported in already (a fast local one); then it is past booting.
  const now = await loadWorkspace(deps.db, id);
  if (now?.state === options.expected)
    await transitionWorkspace(
      deps.db,
      id,
      "booting",
      "Server created; waiting for the agent",
      "worker",
    );
}

async function ensureVolume(
  deps: WorkspaceJobDependencies,
  provider: Provider,
  workspace: Workspace,
): Promise<string> {
  const [existing] = await provider.listVolumes(labelsOf(workspace.id));
  const volume =
    existing ??
    (await provider.createVolume({
      name: serverNameOf(workspace.id),
      sizeGb: deps.volumeSizeGb,
      location: workspace.location,
      labels: labelsOf(workspace.id),
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
  const workspace = await workspaceIn(deps, id, "stopping");
  if (!workspace) return;
  await removeServers(deps, await deps.providerFor(workspace), id);
  await transitionWorkspace(
    deps.db,
    id,
    "stopped",
    "Server deleted; the volume keeps /workspace",
    "worker",
    detachedServer,
  );
}

/** Deletes server, volume and DNS record; the row stays (soft delete) until the purge. */
export async function deleteWorkspace(deps: WorkspaceJobDependencies, id: string): Promise<void> {
  const workspace = await workspaceIn(deps, id, "deleting");
  if (!workspace) return;
  const provider = await deps.providerFor(workspace);
  await removeServers(deps, provider, id);
  for (const volume of await provider.listVolumes(labelsOf(id))) {
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
  for (const server of await provider.listServers(labelsOf(id))) {
    await provider.deleteServer(server.id);
    await deps.log(`Deleted server ${server.id}.`);
  }
  await deps.dns.deleteRecord(serverNameOf(id));
}

/** A job that ran out of attempts leaves its workspace in `error`, saying why. */
export async function failWorkspace(db: Database, id: string, reason: string): Promise<void> {
  const workspace = await loadWorkspace(db, id);
  if (!workspace || workspace.state === "deleted" || workspace.state === "error") return;
  await transitionWorkspace(db, id, "error", reason, "worker");
}
