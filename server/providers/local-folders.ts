import { createHash } from "node:crypto";
import { chmod, mkdir } from "node:fs/promises";
import path from "node:path";
import { canAccess } from "../database/postgres-binaries.ts";
import { lockDownDataDir } from "./local-accounts.ts";

// Where the one-machine provider keeps things. Records (server and volume JSON, agent logs)
// stay under DATA_DIR/workspaces, readable by the control plane alone. The folders a
// workspace's own OS user must reach (its volume, agent state, home, the agent binary) sit
// under a root every user can pass through but not list; each of them is 0700 and owned by
// its workspace's user (local-accounts.ts).

export type LocalFolders = {
  records: string;
  agentCache: string;
  states: string;
  volumes: string;
  homes: string;
  scratch: string;
};

// `nobody` stands for "some other user" when checking that a folder can be passed through.
const otherUser = { uid: 65534, gid: 65534 };

export async function prepareLocalFolders(options: {
  dataDir: string;
  isolate: boolean;
  log?: (message: string) => void;
}): Promise<LocalFolders> {
  const records = path.join(options.dataDir, "workspaces");
  const privateMode = options.isolate ? 0o700 : 0o755;
  for (const name of ["servers", "volumes"])
    await mkdir(path.join(records, name), { recursive: true, mode: privateMode });
  if (!options.isolate) return foldersUnder(records, records);
  await lockDownDataDir(options.dataDir);
  await makePassable(records);
  for (const name of ["servers", "volumes"]) await chmod(path.join(records, name), 0o700);
  const root = await choosePassableRoot(records, options.log);
  const folders = foldersUnder(records, root);
  for (const folder of [folders.agentCache, folders.states, folders.volumes, folders.homes])
    await makePassable(folder);
  await makePassable(folders.scratch);
  return folders;
}

function foldersUnder(records: string, root: string): LocalFolders {
  return {
    records,
    agentCache: path.join(root, "agent-cache"),
    states: path.join(root, "state"),
    volumes: path.join(root, "volumes"),
    homes: path.join(root, "homes"),
    scratch: path.join(root, "scratch"),
  };
}

/**
 * DATA_DIR/workspaces when other users can reach it; otherwise (a checkout under /root, say) a
 * folder under /var/lib named after it, as the embedded PostgreSQL does (ADR 0002).
 */
async function choosePassableRoot(
  records: string,
  log?: (message: string) => void,
): Promise<string> {
  if (canAccess(otherUser, "-x", records)) return records;
  const key = createHash("sha256").update(path.resolve(records)).digest("hex").slice(0, 16);
  const root = path.join("/var/lib/cloud-ai-workspaces", key, "workspaces");
  for (const folder of [path.dirname(path.dirname(root)), path.dirname(root), root])
    await makePassable(folder);
  if (!canAccess(otherUser, "-x", root))
    throw new Error(
      `Other OS users can reach neither ${records} nor ${root}, so local workspaces cannot run as their own users. Set DATA_DIR to a folder whose parents others may pass through.`,
    );
  log?.(
    `Other OS users cannot pass through ${records}; the local workspaces' folders live in ${root}.`,
  );
  return root;
}

/** Can be passed through by anyone, listed by its owner only. */
async function makePassable(folder: string): Promise<void> {
  await mkdir(folder, { recursive: true, mode: 0o711 });
  await chmod(folder, 0o711);
}
