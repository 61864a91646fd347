import { readSettingsOrExit } from "../env.ts";
import { createLogger } from "../logger.ts";
import { provideDatabase } from "./provide-database.ts";

// `npm run db:migrate`: migrates DATABASE_URL, or the embedded database when it is unset.

const env = readSettingsOrExit((env) => env);
const logger = createLogger({ level: env.LOG_LEVEL, service: "migrate" });
try {
  const database = await provideDatabase(env, logger);
  await database.stop();
} catch (error) {
  logger.fatal({ err: error }, "migration failed");
  process.exitCode = 1;
}
