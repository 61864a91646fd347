import { readMigrationJournal } from "../../db/migrate.ts";
import { createKeyring, generateEncryptionKeySetting } from "../crypto/envelope.ts";
import { parseEnv, type Env } from "../env.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { createApiRateLimiter } from "../http/request-guards.ts";
import { createLogger } from "../logger.ts";
import { createReadinessCheck } from "../services/health.ts";
import type { TestDatabase } from "./test-database.ts";
import { sharedGitHubStandIn, standInSettings } from "./test-github.ts";

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
  // GitHub is the process's shared stand-in unless the test names another one.
  const github = settings.GITHUB_API_URL ? undefined : standInSettings(await sharedGitHubStandIn());
  const env = {
    ...parseEnv({
      ENCRYPTION_KEYS: testEncryptionKeys(),
      ...(github && { GITHUB_URL: github.webUrl, GITHUB_API_URL: github.apiUrl }),
      ...settings,
    }),
    ...overrides,
  };
  return {
    env,
    db: database.db,
    logger: createLogger({ level: "silent", service: "test" }),
    requestId: "test",
    clientAddress: "127.0.0.1",
    cspNonce: "test",
    limitApiRequests: createApiRateLimiter(database.db, {
      perCaller: env.API_RATE_LIMIT_PER_MINUTE,
      perUser: env.API_USER_RATE_LIMIT_PER_MINUTE,
    }),
    version: "1.2.3",
    checkReadiness: createReadinessCheck(database.sql, await readMigrationJournal()),
    keyring: await createKeyring(env.ENCRYPTION_KEYS!),
    github: github ?? {
      webUrl: env.GITHUB_URL,
      apiUrl: env.GITHUB_API_URL,
      clientId: "test-client",
      clientSecret: "test-secret",
    },
    secureCookies: true,
  };
}
