import { spawn, type ChildProcess } from "node:child_process";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createDb } from "../db/client.ts";
import { generateEncryptionKeySetting } from "./crypto/envelope.ts";
import { provideDatabase, type ProvidedDatabase } from "./database/provide-database.ts";
import { startGitHubStandIn, type GitHubStandIn } from "./github-stand-in/server.ts";
import { serverNodeFlags } from "./process/node-flags.ts";
import { readOrCreateSecretFile } from "./process/secret-file.ts";
import { childEnvironment, readSettingsOrExit } from "./env.ts";
import { createLogger } from "./logger.ts";
import { takeOverLauncherRecord, type LauncherRecord } from "./process/launcher-record.ts";
import { onShutdownSignal } from "./process/shutdown.ts";
import { isLocalAgentUp } from "./providers/local-agent-probe.ts";
import {
  countUnsettledLocalWorkspaces,
  restartLocalWorkspaces,
} from "./services/local-restarts.ts";

// The launcher behind `npm start` (SPEC §10): provides a database (embedded PostgreSQL when
// DATABASE_URL is unset), migrates it, then runs the web and worker programs as child
// processes and stops everything, database last, when they stop. Before it says Ready (its
// last start-up line) the one-machine workspaces the last run left are running again or
// settled (ADR 0024).
//
//   server/start.ts [web] [worker] [--deno]     (no program named = both)

type Program = "web" | "worker";

const projectRoot = fileURLToPath(new URL("..", import.meta.url));
const entries: Record<Program, string> = {
  web: path.join(projectRoot, "server", "main.ts"),
  worker: path.join(projectRoot, "server", "worker", "main.ts"),
};

const args = process.argv.slice(2);
const useDeno = args.includes("--deno");
const named = args.filter((arg): arg is Program => arg === "web" || arg === "worker");
const programs: Program[] = named.length > 0 ? named : ["web", "worker"];

const env = readSettingsOrExit((env) => env);
const logger = createLogger({ level: env.LOG_LEVEL, service: "launcher" });

let database: ProvidedDatabase | undefined;
let standIn: GitHubStandIn | undefined;
let failed = false;
let stopSignal: NodeJS.Signals | undefined;
let record: LauncherRecord | undefined;
const children = new Map<Program, ChildProcess>();
// Each child's "close" (after "exit"): its last lines, e.g. "worker stopped", are forwarded.
const closed: Promise<void>[] = [];
// The message each program logs once it serves; the launcher reads their output for it.
const readyMessages: Record<Program, string> = {
  web: "web server listening",
  worker: "worker ready",
};
const ready = new Map(programs.map((program) => [program, readySignal()]));
// Unless set: one machine has no load balancer to wait for, and the worker takes a free port
// for its probes (its "worker ready" line names it), so a busy 9464 never stops `npm start`.
const oneMachineDefaults = { WEB_DRAIN_GRACE_SECONDS: "0", WORKER_PORT: "0" };
// A settling workspace clones and boots its agent; past this the launcher says Ready anyway.
const settleTimeoutMs = 3 * 60_000;

onShutdownSignal(
  logger,
  async (signal) => {
    stopSignal = signal as NodeJS.Signals;
    for (const child of children.values()) child.kill(stopSignal);
    return stopWhenChildrenExit();
  },
  // Outlasts the children's own deadlines (their drain grace + 20 s), then the database's stop.
  {
    deadlineMs: (Math.max(env.WORKER_DRAIN_GRACE_SECONDS, env.WEB_DRAIN_GRACE_SECONDS) + 30) * 1000,
  },
);

try {
  record = await takeOverLauncherRecord(env.DATA_DIR, programs.join("+"), logger);
  database = await provideDatabase(env, logger);
  await recordPostgres(record, database);
  const settings = {
    DATABASE_URL: database.url,
    ...(await oneMachineSecrets()),
    ...(await githubSettings()),
  };
  if (programs.includes("worker")) await restartLocalWorkspacesOf(database.url, record);
  for (const program of programs) {
    const child = startProgram(program, settings);
    children.set(program, child);
    if (child.pid) await record.add({ program, pid: child.pid, marker: entries[program] });
  }
  if (programs.includes("web"))
    logger.info({ url: env.PUBLIC_URL }, `Cloud AI Workspaces is starting at ${env.PUBLIC_URL}`);
  await announceReady(database.url);
} catch (error) {
  logger.fatal({ err: error }, "start-up failed");
  process.exit(1);
}

/** Settles true once the program serves, false if it ends first. */
function readySignal() {
  let resolve: (value: boolean) => void = () => {};
  const promise = new Promise<boolean>((settle) => (resolve = settle));
  return { promise, resolve };
}

/** The embedded PostgreSQL's server, so a next start after a crash can stop it. */
async function recordPostgres(record: LauncherRecord, provided: ProvidedDatabase): Promise<void> {
  if (!provided.dataFolder) return;
  // The cluster's folder is ours (DATA_DIR, or where provideDatabase moved it).
  // eslint-disable-next-line security/detect-non-literal-fs-filename
  const pidFile = await readFile(path.join(provided.dataFolder, "postmaster.pid"), "utf8");
  const pid = Number(pidFile.split("\n")[0]);
  if (pid > 0) await record.add({ program: "postgres", pid, marker: provided.dataFolder });
}

/** Before the worker starts: what the last run left of the one-machine workspaces. */
async function restartLocalWorkspacesOf(url: string, record: LauncherRecord): Promise<void> {
  const handle = createDb(url, { max: 2, applicationName: "caw-launcher" });
  try {
    const summary = await restartLocalWorkspaces(handle.db, {
      maxAttempts: env.JOB_MAX_ATTEMPTS,
      previousWorkerIds: record.previousWorkerIds,
      isAgentUp: isLocalAgentUp,
    });
    if (summary.kept + summary.restarted + summary.resumed > 0)
      logger.info(summary, "one-machine workspaces from the last run: kept, restarted, resumed");
  } finally {
    await handle.close();
  }
}

/**
 * The one "Ready" line, last of the start-up: once every program serves and no one-machine
 * workspace is on its way anywhere (a restarted one is running again).
 */
async function announceReady(url: string): Promise<void> {
  const started = await Promise.all(programs.map((program) => ready.get(program)!.promise));
  if (started.includes(false)) return; // one stopped; the exit handler says why
  if (programs.includes("worker") && !(await waitForLocalWorkspaces(url))) return;
  if (stopSignal || failed || !programs.includes("web")) return;
  logger.info({ url: env.PUBLIC_URL }, `Ready: open ${env.PUBLIC_URL}`);
}

/** False when the launcher began stopping meanwhile. */
async function waitForLocalWorkspaces(url: string): Promise<boolean> {
  const handle = createDb(url, { max: 1, applicationName: "caw-launcher" });
  try {
    const deadline = Date.now() + settleTimeoutMs;
    for (;;) {
      if (stopSignal || failed) return false;
      const unsettled = await countUnsettledLocalWorkspaces(handle.db);
      if (unsettled === 0) return true;
      if (Date.now() > deadline) {
        logger.warn({ unsettled }, "some workspaces are still starting; their pages show how far");
        return true;
      }
      await sleep(250);
    }
  } finally {
    await handle.close();
  }
}

/** In the one-machine mode (no DATABASE_URL) the encryption key is generated under DATA_DIR. */
async function oneMachineSecrets(): Promise<Record<string, string>> {
  if (env.ENCRYPTION_KEYS || env.DATABASE_URL) return {};
  const file = path.join(env.DATA_DIR, "secrets", "encryption-keys");
  return {
    ENCRYPTION_KEYS: await readOrCreateSecretFile(file, () =>
      generateEncryptionKeySetting("local1"),
    ),
  };
}

/**
 * Without a GitHub App or OAuth app, the built-in stand-in plays GitHub (SPEC §10), as a
 * GitHub App (the recommended setup, ADR 0006): its private key is generated under DATA_DIR.
 */
async function githubSettings(): Promise<Record<string, string>> {
  if (env.GITHUB_CLIENT_ID || !programs.includes("web")) return {};
  const keyFile = path.join(env.DATA_DIR, "secrets", "github-app-private-key.pem");
  const privateKey = await readOrCreateSecretFile(keyFile, generateAppPrivateKey);
  const publicKey = createPublicKey(privateKey).export({ type: "spki", format: "pem" });
  standIn = await startGitHubStandIn({
    dataDir: env.DATA_DIR,
    logger,
    app: { publicKey: String(publicKey) },
  });
  return {
    GITHUB_URL: standIn.url,
    GITHUB_API_URL: standIn.apiUrl,
    GITHUB_CLIENT_ID: standIn.clientId,
    GITHUB_CLIENT_SECRET: standIn.clientSecret,
    GITHUB_APP_ID: String(standIn.app!.id),
    GITHUB_APP_PRIVATE_KEY_FILE: keyFile,
  };
}

function generateAppPrivateKey(): string {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return privateKey.export({ type: "pkcs1", format: "pem" }).toString();
}

function startProgram(program: Program, settings: Record<string, string>): ChildProcess {
  const [command, commandArgs] =
    useDeno && program === "web"
      ? [
          path.join(projectRoot, "node_modules", ".bin", "deno"),
          ["run", "--allow-all", "--no-lock", entries[program]],
        ]
      : [process.execPath, [...serverNodeFlags, "--import", "tsx", entries[program]]];
  const child = spawn(command, commandArgs, {
    cwd: projectRoot,
    stdio: ["inherit", "pipe", "pipe"],
    env: childEnvironment(settings, oneMachineDefaults),
  });
  forwardOutput(program, child);
  closed.push(
    new Promise((resolve) => {
      child.once("close", () => resolve());
      child.once("error", () => resolve());
    }),
  );
  child.once("exit", (code, signal) => {
    children.delete(program);
    ready.get(program)?.resolve(false);
    // A child still loading when Ctrl-C came has no handler yet and dies of the signal itself.
    if ((signal === null && code === 0) || (signal !== null && signal === stopSignal)) return;
    failed = true;
    logger.error({ program, code, signal }, `${program} stopped unexpectedly; stopping everything`);
    process.kill(process.pid, "SIGTERM");
  });
  return child;
}

/**
 * The children's lines pass through the launcher whole, in order, so its Ready line comes
 * after theirs; the program's ready message is noticed on the way.
 */
function forwardOutput(program: Program, child: ChildProcess): void {
  const forward = (stream: NodeJS.ReadableStream, to: NodeJS.WritableStream) =>
    createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
      to.write(`${line}\n`);
      if (line.includes(`"msg":"${readyMessages[program]}"`)) ready.get(program)?.resolve(true);
    });
  forward(child.stdout!, process.stdout);
  forward(child.stderr!, process.stderr);
}

async function stopWhenChildrenExit(): Promise<number> {
  await Promise.all(closed);
  await standIn?.close();
  await database?.stop();
  // Stopped cleanly: nothing for the next start to clear up.
  await record?.remove();
  return failed ? 1 : 0;
}
