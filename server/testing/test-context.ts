import { readMigrationJournal } from "../../db/migrate.ts";
import { createKeyring, generateEncryptionKeySetting } from "../crypto/envelope.ts";
import { parseEnv, type Env } from "../env.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { createLogger } from "../logger.ts";
import { createReadinessCheck } from "../services/health.ts";
import type { TestDatabase } from "./test-database.ts";

/** A fresh ENCRYPTION_KEYS value for programs started by tests. */
export const testEncryptionKeys = () => generateEncryptionKeySetting("test");

/**
 * The load context the web program builds, over a test database. `settings` are raw
 * environment values (as a program started by the test would get them), `overrides` parsed.
 */
export async function createTestLoadContext(
  database: TestDatabase,
  overrides: Partial<Env> = {},
  settings: Record<string, string> = {},
): Promise<AppLoadContextValue> {
  const env = {
    ...parseEnv({ ENCRYPTION_KEYS: testEncryptionKeys(), ...settings }),
    ...overrides,
  };
  return {
    env,
    db: database.db,
    logger: createLogger({ level: "silent", service: "test" }),
    requestId: "test",
    version: "1.2.3",
    checkReadiness: createReadinessCheck(database.sql, await readMigrationJournal()),
    keyring: await createKeyring(env.ENCRYPTION_KEYS!),
    github: {
      webUrl: env.GITHUB_URL,
      apiUrl: env.GITHUB_API_URL,
      clientId: "test-client",
      clientSecret: "test-secret",
    },
    secureCookies: true,
  };
}
