import { createDb } from "../../db/client.ts";
import { readSettingsOrExit, requireDatabaseUrl } from "../env.ts";
import { createLogger } from "../logger.ts";
import { onShutdownSignal } from "../process/shutdown.ts";

// The worker program (SPEC §3, §7). For now it connects, reports ready and drains on
// SIGTERM; the job queue and its handlers arrive with the provisioning engine.

const { env, databaseUrl } = readSettingsOrExit((env) => ({
  env,
  databaseUrl: requireDatabaseUrl(env),
}));
const logger = createLogger({ level: env.LOG_LEVEL, service: "worker" });
const database = createDb(databaseUrl, { max: 2, applicationName: "caw-worker" });

const checkIntervalMs = 30_000;
let connected = false;
let stopping = false;

async function checkConnection(): Promise<void> {
  try {
    await database.sql`select 1`;
    if (!connected) logger.info("worker ready");
    connected = true;
  } catch (error) {
    if (!stopping)
      logger.warn({ code: (error as { code?: string }).code }, "database unreachable; retrying");
    connected = false;
  }
}

let timer: NodeJS.Timeout | undefined;
// Retry quickly while the database is away; once connected, a slow check notices a loss.
async function watchConnection(): Promise<void> {
  await checkConnection();
  if (!stopping)
    timer = setTimeout(() => void watchConnection(), connected ? checkIntervalMs : 1_000);
}
await watchConnection();

onShutdownSignal(logger, async () => {
  stopping = true;
  clearTimeout(timer);
  await database.close();
  logger.info("worker stopped");
});
