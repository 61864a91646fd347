import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { ProviderServer, ProviderVolume } from "./provider.ts";

// The one-machine provider's records: a JSON file per "server" and per "volume" under
// DATA_DIR/workspaces/, mode 0600, so a restarted worker finds what an earlier one made,
// exactly as it finds Hetzner servers by label.

export type ServerRecord = ProviderServer & {
  pid: number;
  volumeIds: string[];
  /** The workspace's own OS user, when the provider isolates. */
  uid?: number;
  gid?: number;
};
export type VolumeRecord = ProviderVolume & { folder: string };

export type LocalRecords = ReturnType<typeof createLocalRecords>;

export function createLocalRecords(root: string) {
  const serversDir = path.join(root, "servers");
  const volumesDir = path.join(root, "volumes");
  const serverFile = (id: string) => path.join(serversDir, `${id}.json`);
  const volumeFile = (id: string) => path.join(volumesDir, `${id}.json`);
  const readVolume = (id: string) => readRecord<VolumeRecord>(volumeFile(id));
  return {
    serversDir,
    readServer: (id: string) => readRecord<ServerRecord>(serverFile(id)),
    writeServer: (record: ServerRecord) => writeRecord(serverFile(record.id), record),
    removeServer: (id: string) => rm(serverFile(id), { force: true }),
    listServers: () => readAll<ServerRecord>(serversDir),
    readVolume,
    writeVolume: async (record: VolumeRecord) => {
      await mkdir(volumesDir, { recursive: true, mode: 0o700 });
      await writeRecord(volumeFile(record.id), record);
    },
    async updateVolume(id: string, changes: Partial<VolumeRecord>): Promise<void> {
      const volume = await readVolume(id);
      if (volume) await writeRecord(volumeFile(id), { ...volume, ...changes });
    },
    removeVolume: (id: string) => rm(volumeFile(id), { force: true }),
    listVolumes: () => readAll<VolumeRecord>(volumesDir),
  };
}

const writeRecord = (file: string, record: object) =>
  writeFile(file, JSON.stringify(record), { mode: 0o600 });

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
