import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chown, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { childEnvironment } from "../env.ts";
import type { Logger } from "../logger.ts";
import { findFreePort } from "../process/free-port.ts";
import { readOrCreateSecretFile } from "../process/secret-file.ts";
import {
  findPostgresInstall,
  prepareDataFolder,
  resolveRunAs,
  stagePostgresInstall,
  type RunAs,
} from "./postgres-binaries.ts";
import { fileExists } from "../process/file-exists.ts";

export type EmbeddedPostgres = {
  /** Connection URL of the server's maintenance database (`postgres`). */
  adminUrl: string;
  /** Connection URL of `database`, created on first start. */
  url: string;
  dataFolder: string;
  stop: () => Promise<void>;
};

export type EmbeddedPostgresOptions = {
  /** Folder for the cluster; its password is kept beside it. */
  dataDir: string;
  logger: Logger;
  database?: string;
  /** false trades crash safety for speed (fsync off); for throwaway test clusters only. */
  durable?: boolean;
  /** A fixed port, so a restarted cluster keeps its address; a free one when omitted. */
  port?: number;
};

/** Starts (initialising on first use) a PostgreSQL server on a free loopback port. */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const { logger } = options;
  const runAs = await resolveRunAs();
  const install = await findPostgresInstall();
  const { nativeDir, staged } = runAs
    ? await stagePostgresInstall(install, runAs)
    : { nativeDir: install.nativeDir, staged: false };
  if (staged) {
    logger.warn(
      { nativeDir },
      "the postgres user cannot reach node_modules; using a staged copy of PostgreSQL",
    );
  }
  const preferred = path.join(options.dataDir, "pg");
  const { dataFolder, relocated } = await prepareDataFolder(preferred, runAs);
  if (relocated) {
    logger.warn(
      { dataFolder, preferred },
      "the postgres user cannot enter DATA_DIR; the database lives elsewhere",
    );
  }
  const password = await readOrCreateSecretFile(
    path.join(options.dataDir, "secrets", "postgres-password"),
    () => randomBytes(24).toString("base64url"),
  );
  if (!(await fileExists(path.join(dataFolder, "PG_VERSION")))) {
    await initialiseCluster({ nativeDir, dataFolder, password, runAs, logger });
  }
  const port = options.port ?? (await findFreePort());
  const server = await startServer({
    nativeDir,
    dataFolder,
    port,
    runAs,
    logger,
    durable: options.durable ?? true,
  });
  const adminUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  const database = options.database ?? "cloud_ai_workspaces";
  await createDatabaseIfMissing(adminUrl, database);
  logger.info({ port, dataFolder }, "embedded PostgreSQL is running");
  return {
    adminUrl,
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
    dataFolder,
    stop: () => stopServer(server, logger),
  };
}

type ClusterPaths = {
  nativeDir: string;
  dataFolder: string;
  runAs: RunAs | undefined;
  logger: Logger;
};

async function initialiseCluster(options: ClusterPaths & { password: string }): Promise<void> {
  const { nativeDir, dataFolder, runAs, logger } = options;
  // initdb reads the password from a file; it must be readable by the user it runs as.
  const passwordFile = path.join(os.tmpdir(), `caw-pg-${randomBytes(8).toString("hex")}`);
  await writeFile(passwordFile, `${options.password}\n`, { mode: 0o600 });
  if (runAs) await chown(passwordFile, runAs.uid, runAs.gid);
  logger.info({ dataFolder }, "initialising embedded PostgreSQL cluster");
  try {
    const args = [
      `--pgdata=${dataFolder}`,
      "--username=postgres",
      `--pwfile=${passwordFile}`,
      "--auth=scram-sha-256",
      "--encoding=UTF8",
      "--no-locale",
      "--no-instructions",
    ];
    const child = spawnPostgresProgram(path.join(nativeDir, "bin", "initdb"), args, runAs);
    const output = collectOutput(child);
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    if (code !== 0) throw new Error(`initdb failed (exit ${code}):\n${output()}`);
  } finally {
    await rm(passwordFile, { force: true });
  }
}

function spawnPostgresProgram(
  program: string,
  args: string[],
  runAs: RunAs | undefined,
): ChildProcess {
  return spawn(program, args, {
    ...(runAs ?? {}),
    cwd: os.tmpdir(),
    env: childEnvironment({ LC_ALL: "C", LANG: "C" }),
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Keeps the last lines a child printed, for error messages. */
function collectOutput(child: ChildProcess, onLine?: (line: string) => void): () => string {
  const lines: string[] = [];
  const take = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (!line.trim()) continue;
      lines.push(line);
      if (lines.length > 40) lines.shift();
      onLine?.(line);
    }
  };
  child.stdout?.on("data", take);
  child.stderr?.on("data", take);
  return () => lines.join("\n");
}

type StartOptions = ClusterPaths & { port: number; durable: boolean };

async function startServer(options: StartOptions): Promise<ChildProcess> {
  const { nativeDir, dataFolder, port, runAs, logger } = options;
  const settings = [
    "listen_addresses=127.0.0.1",
    "unix_socket_directories=",
    "max_connections=300",
    ...(options.durable ? [] : ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]),
  ];
  const args = [
    "-D",
    dataFolder,
    "-p",
    String(port),
    ...settings.flatMap((setting) => ["-c", setting]),
  ];
  const child = spawnPostgresProgram(path.join(nativeDir, "bin", "postgres"), args, runAs);
  let ready = false;
  const output = collectOutput(child, (line) => {
    if (line.includes("ready to accept connections")) ready = true;
    logger.debug({ postgres: line }, "postgres");
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => ready && done(), 50);
    const timeout = setTimeout(
      () => fail(new Error(`PostgreSQL did not start within 60 s:\n${output()}`)),
      60_000,
    );
    const onExit = (code: number | null) =>
      fail(new Error(explainStartFailure(code, output(), dataFolder)));
    child.once("exit", onExit);
    function done() {
      cleanup();
      resolve();
    }
    function fail(error: Error) {
      cleanup();
      child.kill("SIGKILL");
      reject(error);
    }
    function cleanup() {
      clearInterval(timer);
      clearTimeout(timeout);
      child.off("exit", onExit);
    }
  });
  return child;
}

function explainStartFailure(code: number | null, output: string, dataFolder: string): string {
  const lock = output.match(/is another postmaster \(PID (\d+)\) running/);
  if (lock) {
    return (
      `Another PostgreSQL (pid ${lock[1]}) is using ${dataFolder}. Is \`npm start\` already running? ` +
      `If not, it is left over from a crashed run: stop it with \`kill ${lock[1]}\` and start again.`
    );
  }
  return `PostgreSQL exited during start-up (exit ${code}):\n${output}`;
}

async function stopServer(child: ChildProcess, logger: Logger): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGINT"); // "fast" shutdown: roll back open transactions, checkpoint, exit.
  const timer = setTimeout(() => child.kill("SIGQUIT"), 30_000);
  await exited;
  clearTimeout(timer);
  logger.info("embedded PostgreSQL stopped");
}

async function createDatabaseIfMissing(adminUrl: string, database: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`select 1 from pg_database where datname = ${database}`;
    if (rows.length === 0) await sql`create database ${sql(database)}`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
