import { spawn, type ChildProcess } from "node:child_process";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generateEncryptionKeySetting } from "./crypto/envelope.ts";
import { provideDatabase, type ProvidedDatabase } from "./database/provide-database.ts";
import { startGitHubStandIn, type GitHubStandIn } from "./github-stand-in/server.ts";
import { readOrCreateSecretFile } from "./process/secret-file.ts";
import { childEnvironment, readSettingsOrExit } from "./env.ts";
import { createLogger } from "./logger.ts";
import { onShutdownSignal } from "./process/shutdown.ts";

// The launcher behind `npm start` (SPEC §10): provides a database (embedded PostgreSQL when
// DATABASE_URL is unset), migrates it, then runs the web and worker programs as child
// processes and stops everything, database last, when they stop.
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
const children = new Map<Program, ChildProcess>();

onShutdownSignal(logger, async (signal) => {
  stopSignal = signal as NodeJS.Signals;
  for (const child of children.values()) child.kill(stopSignal);
  return stopWhenChildrenExit();
});

try {
  database = await provideDatabase(env, logger);
  const settings = {
    DATABASE_URL: database.url,
    ...(await oneMachineSecrets()),
    ...(await githubSettings()),
  };
  for (const program of programs) children.set(program, startProgram(program, settings));
  if (programs.includes("web"))
    logger.info({ url: env.PUBLIC_URL }, `Cloud AI Workspaces is starting at ${env.PUBLIC_URL}`);
} catch (error) {
  logger.fatal({ err: error }, "start-up failed");
  process.exit(1);
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
      : [process.execPath, ["--import", "tsx", entries[program]]];
  const child = spawn(command, commandArgs, {
    cwd: projectRoot,
    stdio: "inherit",
    env: childEnvironment(settings),
  });
  child.once("exit", (code, signal) => {
    children.delete(program);
    // A child still loading when Ctrl-C came has no handler yet and dies of the signal itself.
    if ((signal === null && code === 0) || (signal !== null && signal === stopSignal)) return;
    failed = true;
    logger.error({ program, code, signal }, `${program} stopped unexpectedly; stopping everything`);
    process.kill(process.pid, "SIGTERM");
  });
  return child;
}

async function stopWhenChildrenExit(): Promise<number> {
  await Promise.all(
    [...children.values()].map(
      (child) =>
        new Promise<void>((resolve) =>
          child.exitCode !== null ? resolve() : child.once("exit", () => resolve()),
        ),
    ),
  );
  await standIn?.close();
  await database?.stop();
  return failed ? 1 : 0;
}
