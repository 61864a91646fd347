import { readFileSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import type { Logger } from "../logger.ts";

// What a running `npm start` has started (ADR 0024), in DATA_DIR/run/launcher-<programs>.json: a launcher
// that was killed outright (SIGKILL, out of memory) leaves its web, worker and PostgreSQL
// running, holding the port and the database's lock. The next start stops them first.

export type LaunchedProcess = {
  program: "web" | "worker" | "postgres";
  pid: number;
  /** Part of its command line, so a pid reused by another process is left alone. */
  marker: string;
};
type Record = { launcherPid: number; hostname: string; processes: LaunchedProcess[] };

export type LauncherRecord = {
  /** The worker ids (`host:pid`) of the last run, whose jobs may still be marked running. */
  previousWorkerIds: string[];
  add: (launched: LaunchedProcess) => Promise<void>;
  /** A clean stop: nothing is left over. */
  remove: () => Promise<void>;
};

const stopGraceMs = 20_000;

/** Stops what a dead earlier launcher left running, then starts this run's record. */
export async function takeOverLauncherRecord(
  dataDir: string,
  /**
   * Which programs this launcher runs: `npm start` (web and worker) and
   * `server/start.ts worker` (the worker alone) keep separate records.
   */
  name: string,
  logger: Logger,
): Promise<LauncherRecord> {
  const file = path.join(dataDir, "run", `launcher-${name}.json`);
  const previous = await readRecord(file);
  if (previous && isRunning(previous.launcherPid, "start.ts"))
    throw new Error(
      `\`npm start\` is already running on ${dataDir} (pid ${previous.launcherPid}). Stop it (Ctrl-C), or give this one another DATA_DIR.`,
    );
  if (previous) await stopLeftovers(previous, logger);
  const record: Record = { launcherPid: process.pid, hostname: hostname(), processes: [] };
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, JSON.stringify(record), { mode: 0o600 });
  return {
    previousWorkerIds: (previous?.processes ?? [])
      .filter((launched) => launched.program === "worker")
      .map((launched) => `${previous!.hostname}:${launched.pid}`),
    add: async (launched) => {
      record.processes.push(launched);
      await writeFile(file, JSON.stringify(record), { mode: 0o600 });
    },
    remove: () => rm(file, { force: true }),
  };
}

async function readRecord(file: string): Promise<Record | null> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as Record;
  } catch {
    return null; // none (the last run stopped cleanly), or unreadable: nothing to go on
  }
}

/** Workers and the web drain on SIGTERM; PostgreSQL's fast shutdown is SIGINT. */
async function stopLeftovers(previous: Record, logger: Logger): Promise<void> {
  const left = previous.processes.filter((launched) => isRunning(launched.pid, launched.marker));
  if (left.length === 0) return;
  logger.warn(
    { processes: left.map(({ program, pid }) => ({ program, pid })) },
    "the last `npm start` did not stop cleanly; stopping what it left running",
  );
  const servers = left.filter((launched) => launched.program !== "postgres");
  await Promise.all(servers.map((launched) => stopAndWait(launched, "SIGTERM")));
  // The database last: the web and the worker finish their work with it.
  const database = left.filter((launched) => launched.program === "postgres");
  await Promise.all(database.map((launched) => stopAndWait(launched, "SIGINT")));
}

async function stopAndWait(launched: LaunchedProcess, signal: NodeJS.Signals): Promise<void> {
  process.kill(launched.pid, signal);
  for (let waited = 0; waited < stopGraceMs; waited += 100) {
    if (!isRunning(launched.pid, launched.marker)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  process.kill(launched.pid, "SIGKILL");
}

function isRunning(pid: number, marker: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker);
  } catch {
    return true; // no /proc (macOS): the signal test is all there is
  }
}
