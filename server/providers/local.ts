import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { findFreePort } from "../process/free-port.ts";
import { downloadAgent, localUserDataSchema } from "./local-agent.ts";
import {
  isAlive,
  startAgentProcess,
  stopProcess,
  stopSessionServer,
} from "./local-agent-process.ts";
import {
  ensureWorkspaceAccount,
  giveFolderTo,
  killProcessesOf,
  removeWorkspaceAccount,
  workspaceAccountName,
  type WorkspaceAccount,
} from "./local-accounts.ts";
import { localCatalogue } from "./local-catalogue.ts";
import { prepareLocalFolders, type LocalFolders } from "./local-folders.ts";
import {
  createLocalRecords,
  type LocalRecords,
  type ServerRecord,
  type VolumeRecord,
} from "./local-records.ts";
import {
  hasLabels,
  type CreateServerInput,
  type CreateVolumeInput,
  type Provider,
  type ProviderServer,
  type ProviderVolume,
} from "./provider.ts";

// The one-machine provider (SPEC §10). A "server" is an agent process on a loopback port; a
// "volume" is a folder; both are recorded as JSON files (local-records.ts). When the control
// plane runs as root, each workspace's agent and shells run as an OS user of their own
// (local-accounts.ts) that owns only its folders (local-folders.ts); otherwise as the control
// plane's own user, which is why only admins may then have local workspaces
// (local-isolation.ts).

export type LocalProviderOptions = {
  dataDir: string;
  /** Overrides the workspaces' idle timeout (LOCAL_AGENT_IDLE_TIMEOUT_SECONDS). */
  idleTimeoutSeconds?: number;
  /** One OS user per workspace; defaults to "when running as root". */
  isolate?: boolean;
  log?: (message: string) => void;
};

type Local = {
  options: LocalProviderOptions;
  isolate: boolean;
  records: LocalRecords;
  folders: () => Promise<LocalFolders>;
};

export function createLocalProvider(options: LocalProviderOptions): Provider {
  const isolate = options.isolate ?? process.getuid?.() === 0;
  const records = createLocalRecords(path.join(options.dataDir, "workspaces"));
  let prepared: Promise<LocalFolders> | undefined;
  const folders = () =>
    (prepared ??= prepareLocalFolders({ dataDir: options.dataDir, isolate, log: options.log }));
  const local: Local = { options, isolate, records, folders };
  return {
    validateToken: async () => {},
    getCatalogue: async () => localCatalogue,
    createServer: (input) => createServer(local, input),
    getServer: async (id) => {
      const record = await records.readServer(id);
      return record ? publicServer(record) : null;
    },
    deleteServer: (id) => deleteServer(local, id),
    listServers: async (labels) =>
      (await records.listServers())
        .filter((record) => hasLabels(record.labels, labels))
        .map(publicServer),
    createVolume: (input) => createVolume(local, input),
    getVolume: async (id) => {
      const record = await records.readVolume(id);
      return record ? publicVolume(record) : null;
    },
    listVolumes: async (labels) =>
      (await records.listVolumes())
        .filter((record) => hasLabels(record.labels, labels))
        .map(publicVolume),
    detachVolume: (id) => records.updateVolume(id, { serverId: null }),
    deleteVolume: (id) => deleteVolume(local, id),
  };
}

async function createServer(local: Local, input: CreateServerInput): Promise<ProviderServer> {
  const id = `local-${input.name}`;
  const existing = await local.records.readServer(id);
  if (existing && isAlive(existing.pid)) return publicServer(existing);
  const { agentCache, states, scratch } = await local.folders();
  const userData = localUserDataSchema.parse(JSON.parse(input.userData));
  const binary = await downloadAgent(userData, agentCache);
  const volume = input.volumeIds[0] ? await local.records.readVolume(input.volumeIds[0]) : null;
  const workspaceFolder = volume?.folder ?? path.join(scratch, input.name);
  const account = await accountFor(local, input.labels);
  // A new server starts with no agent state, as a new VM would.
  const stateDir = path.join(states, id);
  await rm(stateDir, { recursive: true, force: true });
  if (account) {
    await giveFolderTo(workspaceFolder, account);
    await giveFolderTo(stateDir, account);
  } else await mkdir(workspaceFolder, { recursive: true });
  const port = await findFreePort();
  const pid = await startAgentProcess({
    binary,
    userData,
    port,
    workspaceFolder,
    stateDir,
    logFile: path.join(local.records.serversDir, `${id}.log`),
    account,
    idleTimeoutSeconds: local.options.idleTimeoutSeconds,
  });
  const record: ServerRecord = {
    id,
    name: input.name,
    status: "running",
    ipv4: "127.0.0.1",
    labels: input.labels,
    agentPort: port,
    pid,
    volumeIds: input.volumeIds,
    ...(account ? { uid: account.uid, gid: account.gid } : {}),
  };
  await local.records.writeServer(record);
  for (const volumeId of input.volumeIds)
    await local.records.updateVolume(volumeId, { serverId: id });
  return publicServer(record);
}

/** The OS user a workspace's processes run as (made on first use), or null when not isolating. */
async function accountFor(
  local: Local,
  labels: Record<string, string>,
): Promise<WorkspaceAccount | null> {
  if (!local.isolate) return null;
  const workspaceId = labels.workspace;
  if (!workspaceId) throw new Error("A local server needs its workspace label.");
  const name = workspaceAccountName(workspaceId);
  const home = path.join((await local.folders()).homes, name);
  const account = await ensureWorkspaceAccount(name, home);
  await giveFolderTo(account.home, account);
  return account;
}

async function deleteServer(local: Local, id: string): Promise<void> {
  const record = await local.records.readServer(id);
  if (!record) return;
  await stopProcess(record.pid);
  const stateDir = path.join((await local.folders()).states, id);
  // The sessions' tmux server outlives agent restarts, not its "server".
  const account = record.uid ? { uid: record.uid, gid: record.gid ?? record.uid } : null;
  await stopSessionServer(stateDir, account);
  // Whatever the workspace's user left running (a `nohup`, a daemon) dies with its "server".
  if (account) await killProcessesOf(account.uid, account.gid);
  for (const volumeId of record.volumeIds)
    await local.records.updateVolume(volumeId, { serverId: null });
  await local.records.removeServer(id);
  await rm(stateDir, { recursive: true, force: true });
  // Where agent state lived before it moved to the folders' root.
  await rm(path.join(local.records.serversDir, `${id}.state`), { recursive: true, force: true });
}

async function createVolume(local: Local, input: CreateVolumeInput): Promise<ProviderVolume> {
  const id = `local-${input.name}`;
  const existing = await local.records.readVolume(id);
  if (existing) return publicVolume(existing);
  const folder = path.join((await local.folders()).volumes, input.name);
  await mkdir(folder, { recursive: true, mode: 0o700 });
  const record: VolumeRecord = { ...input, id, serverId: null, folder };
  await local.records.writeVolume(record);
  return publicVolume(record);
}

async function deleteVolume(local: Local, id: string): Promise<void> {
  const record = await local.records.readVolume(id);
  if (!record) return;
  // The workspace is gone for good: so are its OS user and that user's home. The user and its
  // processes go first, so nothing of theirs can swap a folder for a symlink while root
  // deletes the tree.
  if (local.isolate && record.labels.workspace) {
    const name = workspaceAccountName(record.labels.workspace);
    await removeWorkspaceAccount(name);
    await rm(path.join((await local.folders()).homes, name), { recursive: true, force: true });
  }
  await rm(record.folder, { recursive: true, force: true });
  await local.records.removeVolume(id);
}

function publicServer({
  pid,
  volumeIds: _volumeIds,
  uid: _uid,
  gid: _gid,
  ...server
}: ServerRecord): ProviderServer {
  return { ...server, status: isAlive(pid) ? "running" : "off" };
}

function publicVolume({ folder: _folder, ...volume }: VolumeRecord): ProviderVolume {
  return volume;
}
