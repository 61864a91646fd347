import { execFile, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { findFreePort } from "../process/free-port.ts";

// A standalone PostgreSQL server from Debian's package (not the embedded one the other tests
// share), for tests that must stop and restart the server under load (ADR 0025). It runs as
// the `postgres` OS user when this process is root (initdb refuses root), with its data in a
// temporary folder that user owns; it listens on a free loopback port only.

const run = promisify(execFile);
export const debianPostgresBin = "/usr/lib/postgresql/15/bin";

/** Why this machine cannot run a Debian PostgreSQL server, or "" when it can. */
export function debianPostgresUnavailable(): string {
  if (!existsSync(path.join(debianPostgresBin, "pg_ctl")))
    return `needs Debian's postgresql-15 package (${debianPostgresBin}/pg_ctl is missing: apt-get install postgresql-15)`;
  if (process.getuid?.() === 0 && !osUserIds("postgres"))
    return "needs the postgres OS user the postgresql package creates";
  return "";
}

export type DebianPostgres = {
  /** postgres://postgres:…@127.0.0.1:port/postgres, a superuser. */
  adminUrl: string;
  port: number;
  /** `pg_ctl restart -m fast`: every session is ended with 57P01, then the server comes back. */
  restart: () => Promise<void>;
  stop: () => Promise<void>;
  start: () => Promise<void>;
  close: () => Promise<void>;
};

export async function startDebianPostgres(): Promise<DebianPostgres> {
  const unavailable = debianPostgresUnavailable();
  if (unavailable) throw new Error(unavailable);
  const root = await mkdtemp(path.join(os.tmpdir(), "caw-debian-pg-"));
  const dataDir = path.join(root, "data");
  const password = "debian-postgres-test";
  const ids = process.getuid?.() === 0 ? osUserIds("postgres") : undefined;
  if (ids) {
    // mkdtemp makes 0700 for root: the postgres user must reach its data folder.
    await chmod(root, 0o755);
    await chown(root, ids.uid, ids.gid);
  }
  const asServerUser = (command: string, args: string[]) =>
    run(path.join(debianPostgresBin, command), args, {
      ...(ids && { uid: ids.uid, gid: ids.gid }),
      cwd: root,
      env: { ...process.env, LC_ALL: "C.UTF-8" },
    });
  const passwordFile = path.join(root, "password");
  await writeFile(passwordFile, password);
  if (ids) await chown(passwordFile, ids.uid, ids.gid);
  await asServerUser("initdb", [
    "-D",
    dataDir,
    "-U",
    "postgres",
    "--auth=scram-sha-256",
    `--pwfile=${passwordFile}`,
    "-E",
    "UTF8",
  ]);
  const port = await findFreePort();
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${root} -c max_connections=200 -c fsync=off`;
  const pgCtl = (action: string, ...extra: string[]) =>
    asServerUser("pg_ctl", [action, "-D", dataDir, "-w", "-t", "60", ...extra]);
  // With a log file: otherwise the server inherits pg_ctl's stdout and pg_ctl never ends.
  const logFile = path.join(root, "server.log");
  const start = async () => {
    await pgCtl("start", "-o", options, "-l", logFile);
  };
  await start();
  return {
    adminUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    restart: async () => {
      await pgCtl("restart", "-m", "fast", "-o", options, "-l", logFile);
    },
    stop: async () => {
      await pgCtl("stop", "-m", "fast");
    },
    start,
    close: async () => {
      await pgCtl("stop", "-m", "immediate").catch(() => {});
      await rm(root, { recursive: true, force: true });
    },
  };
}

function osUserIds(name: string): { uid: number; gid: number } | undefined {
  const id = (flag: string) => spawnSync("id", [flag, name], { encoding: "utf8" });
  const [uid, gid] = [id("-u"), id("-g")];
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}
