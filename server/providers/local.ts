import { spawn } from "node:child_process";
import { mkdir, open, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { agentEnvironment } from "../env.ts";
import { downloadAgent, localUserDataSchema } from "./local-agent.ts";
import {
  ensureWorkspaceAccount,
  giveFolderTo,
  killProcessesOf,
  removeWorkspaceAccount,
  workspaceAccountName,
  type WorkspaceAccount,
} from "./local-accounts.ts";
import { prepareLocalFolders, type LocalFolders } from "./local-folders.ts";
import { findFreePort } from "../process/free-port.ts";
import {
  hasLabels,
  type CreateServerInput,
  type CreateVolumeInput,
  type Provider,
  type ProviderServer,
  type ProviderVolume,
} from "./provider.ts";

// The one-machine provider (SPEC §10). A "server" is an agent process on a loopback port; a
// "volume" is a folder. Records are JSON files under DATA_DIR/workspaces/, so a restarted
// worker finds what an earlier one made, exactly as it finds Hetzner servers by label.
// When the control plane runs as root, each workspace's agent and shells run as an OS user of
// their own (local-accounts.ts) that owns only its folders; otherwise as the control plane's
// own user, which is why only admins may then create local workspaces (local-isolation.ts).

type ServerRecord = ProviderServer & {
  pid: number;
  volumeIds: string[];
  uid?: number;
  gid?: number;
};
type VolumeRecord = ProviderVolume & { folder: string };

export type LocalProviderOptions = {
  dataDir: string;
  /** Overrides the workspaces' idle timeout (LOCAL_AGENT_IDLE_TIMEOUT_SECONDS). */
  idleTimeoutSeconds?: number;
  /** One OS user per workspace; defaults to "when running as root". */
  isolate?: boolean;
  log?: (message: string) => void;
};

export function createLocalProvider(options: LocalProviderOptions): Provider {
  const isolate = options.isolate ?? process.getuid?.() === 0;
  const root = path.join(options.dataDir, "workspaces");
  const serversDir = path.join(root, "servers");
  const volumesDir = path.join(root, "volumes");
  const serverFile = (id: string) => path.join(serversDir, `${id}.json`);
  const volumeFile = (id: string) => path.join(volumesDir, `${id}.json`);
  const readServer = (id: string) => readRecord<ServerRecord>(serverFile(id));
  const readVolume = (id: string) => readRecord<VolumeRecord>(volumeFile(id));
  let prepared: Promise<LocalFolders> | undefined;
  const folders = () =>
    (prepared ??= prepareLocalFolders({ dataDir: options.dataDir, isolate, log: options.log }));

  /** The OS user a workspace's processes run as, or null when not isolating. */
  async function accountFor(labels: Record<string, string>): Promise<WorkspaceAccount | null> {
    if (!isolate) return null;
    const workspaceId = labels.workspace;
    if (!workspaceId) throw new Error("A local server needs its workspace label.");
    const name = workspaceAccountName(workspaceId);
    const account = await ensureWorkspaceAccount(name, path.join((await folders()).homes, name));
    await giveFolderTo(account.home, account);
    return account;
  }

  async function createServer(input: CreateServerInput): Promise<ProviderServer> {
    const id = `local-${input.name}`;
    const existing = await readServer(id);
    if (existing && isAlive(existing.pid)) return publicServer(existing);
    const { agentCache, states, scratch } = await folders();
    const userData = localUserDataSchema.parse(JSON.parse(input.userData));
    const binary = await downloadAgent(userData, agentCache);
    const volume = input.volumeIds[0] ? await readVolume(input.volumeIds[0]) : null;
    const workspaceFolder = volume?.folder ?? path.join(scratch, input.name);
    const account = await accountFor(input.labels);
    // A new server starts with no agent state, as a new VM would.
    const stateDir = path.join(states, id);
    await rm(stateDir, { recursive: true, force: true });
    if (account) {
      await giveFolderTo(workspaceFolder, account);
      await giveFolderTo(stateDir, account);
    } else await mkdir(workspaceFolder, { recursive: true });
    const port = await findFreePort();
    const log = await open(path.join(serversDir, `${id}.log`), "a", 0o600);
    const child = spawn(binary, [], {
      env: agentEnvironment({
        CONTROL_PLANE_URL: userData.controlPlaneUrl,
        WORKSPACE_ID: userData.workspaceId,
        BOOTSTRAP_TOKEN: userData.bootstrapToken,
        AGENT_HOST: "127.0.0.1",
        AGENT_PORT: String(port),
        WORKSPACE_DIR: workspaceFolder,
        STATE_DIR: stateDir,
        ...(account ? accountEnvironment(account) : {}),
        ...(options.idleTimeoutSeconds
          ? { AGENT_IDLE_TIMEOUT_SECONDS: String(options.idleTimeoutSeconds) }
          : {}),
      }),
      cwd: workspaceFolder,
      stdio: ["ignore", log.fd, log.fd],
      // libuv drops root's supplementary groups along with the uid change.
      ...(account ? { uid: account.uid, gid: account.gid } : {}),
    });
    await log.close();
    child.once("error", () => {}); // reported below through the missing pid
    if (child.pid === undefined) throw new Error(`Could not start the agent ${binary}.`);
    child.unref();
    const record: ServerRecord = {
      id,
      name: input.name,
      status: "running",
      ipv4: "127.0.0.1",
      labels: input.labels,
      agentPort: port,
      pid: child.pid!,
      volumeIds: input.volumeIds,
      ...(account ? { uid: account.uid, gid: account.gid } : {}),
    };
    await writeFile(serverFile(id), JSON.stringify(record), { mode: 0o600 });
    for (const volumeId of input.volumeIds) await updateVolume(volumeId, { serverId: id });
    return publicServer(record);
  }

  async function deleteServer(id: string): Promise<void> {
    const record = await readServer(id);
    if (!record) return;
    await stopProcess(record.pid);
    // Whatever the workspace's user left running (a `nohup`, a daemon) dies with its "server".
    if (record.uid) await killProcessesOf(record.uid, record.gid ?? record.uid);
    for (const volumeId of record.volumeIds) await updateVolume(volumeId, { serverId: null });
    await rm(serverFile(id), { force: true });
    await rm(path.join((await folders()).states, id), { recursive: true, force: true });
    await rm(path.join(serversDir, `${id}.state`), { recursive: true, force: true });
  }

  async function updateVolume(id: string, changes: Partial<VolumeRecord>) {
    const volume = await readVolume(id);
    if (volume)
      await writeFile(volumeFile(id), JSON.stringify({ ...volume, ...changes }), { mode: 0o600 });
  }

  async function createVolume(input: CreateVolumeInput): Promise<ProviderVolume> {
    const id = `local-${input.name}`;
    const existing = await readVolume(id);
    if (existing) return publicVolume(existing);
    const folder = path.join((await folders()).volumes, input.name);
    await mkdir(folder, { recursive: true, mode: 0o700 });
    const record: VolumeRecord = { ...input, id, serverId: null, folder };
    await mkdir(volumesDir, { recursive: true, mode: 0o700 });
    await writeFile(volumeFile(id), JSON.stringify(record), { mode: 0o600 });
    return publicVolume(record);
  }

  async function deleteVolume(id: string): Promise<void> {
    const record = await readVolume(id);
    if (!record) return;
    // The workspace is gone for good: so are its OS user and that user's home. The user and
    // its processes go first, so nothing of theirs can swap a folder for a symlink while root
    // deletes the tree.
    if (isolate && record.labels.workspace) {
      const name = workspaceAccountName(record.labels.workspace);
      await removeWorkspaceAccount(name);
      await rm(path.join((await folders()).homes, name), { recursive: true, force: true });
    }
    await rm(record.folder, { recursive: true, force: true });
    await rm(volumeFile(id), { force: true });
  }

  return {
    validateToken: async () => {},
    listServerTypes: async () => [{ name: "local", cores: 1, memoryGb: 1, diskGb: 1 }],
    listLocations: async () => [{ name: "local", city: "This machine", country: "—" }],
    createServer,
    getServer: async (id) => {
      const record = await readServer(id);
      return record ? publicServer(record) : null;
    },
    deleteServer,
    listServers: async (labels) =>
      (await readAll<ServerRecord>(serversDir))
        .filter((record) => hasLabels(record.labels, labels))
        .map(publicServer),
    createVolume,
    getVolume: async (id) => {
      const record = await readVolume(id);
      return record ? publicVolume(record) : null;
    },
    listVolumes: async (labels) =>
      (await readAll<VolumeRecord>(volumesDir))
        .filter((record) => hasLabels(record.labels, labels))
        .map(publicVolume),
    detachVolume: (id) => updateVolume(id, { serverId: null }),
    deleteVolume,
  };
}

/** What a login shell of the account expects: its own HOME, USER and shell. */
function accountEnvironment(account: WorkspaceAccount): Record<string, string> {
  return {
    HOME: account.home,
    USER: account.name,
    LOGNAME: account.name,
    SHELL: "/bin/bash",
  };
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

async function readRecord<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

async function readAll<T>(folder: string): Promise<T[]> {
  const names = await readdir(folder).catch(() => [] as string[]);
  const records = await Promise.all(
    names
      .filter((name) => name.endsWith(".json"))
      .map((name) => readRecord<T>(path.join(folder, name))),
  );
  return records.filter((record): record is Awaited<T> => record !== null) as T[];
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL if the process is still there after a few seconds. */
async function stopProcess(pid: number): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, "SIGTERM");
  for (let waited = 0; waited < 5000 && isAlive(pid); waited += 50)
    await new Promise((resolve) => setTimeout(resolve, 50));
  if (isAlive(pid)) process.kill(pid, "SIGKILL");
}
