import { once } from "node:events";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { ServerBuild } from "@remix-run/node";
import { createDb } from "../db/client.ts";
import { readMigrationJournal } from "../db/migrate.ts";
import { shouldUseSecureCookies } from "./auth/lucia.ts";
import { createKeyring } from "./crypto/envelope.ts";
import { createCloudflareZone, type CloudflareZone } from "./dns/cloudflare-zone.ts";
import { checkZoneAtStart, createZoneModeCheck } from "./dns/zone-checks.ts";
import {
  type Env,
  readSettingsOrExit,
  requireDatabaseUrl,
  requireEncryptionKeys,
  requireGitHub,
} from "./env.ts";
import { createAppServer } from "./http/app-server.ts";
import { describeTrustProxyRisk } from "./http/client-address.ts";
import { createHttpMetrics, registerEngineMetrics } from "./http/metrics.ts";
import { createApiRateLimiter, createAuthRateLimiter } from "./http/request-guards.ts";
import { createLogger } from "./logger.ts";
import { describeWorkspaceAccess } from "./providers/local-isolation.ts";
import { installRoot, readVersion } from "./process/version.ts";
import { readEngineStats } from "./services/engine-stats.ts";
import { createLiveUpdates } from "./services/live-updates.ts";
import { createCredentialCache } from "./auth/credential-cache.ts";
import { ensureSigningKeys } from "./services/signing-keys.ts";
import { createDrainSwitch } from "./process/draining.ts";
import { onShutdownSignal } from "./process/shutdown.ts";
import { createReadinessCheck, reuseRecentReadiness } from "./services/health.ts";

// The web program (SPEC §3): Remix pages, /api/trpc, probes and metrics on one node:http server.

const { env, databaseUrl, encryptionKeys, github } = readSettingsOrExit((env) => ({
  env,
  databaseUrl: requireDatabaseUrl(env),
  encryptionKeys: requireEncryptionKeys(env),
  github: requireGitHub(env),
}));
const logger = createLogger({ level: env.LOG_LEVEL, service: "web" });
const metrics = createHttpMetrics();
const zone = await checkCloudflareZoneOrExit(env);

const version = await readVersion();
const build = await loadRemixBuild();
const database = createDb(databaseUrl, {
  max: env.DATABASE_POOL_SIZE ?? 10,
  applicationName: "caw-web",
});
const drainSwitch = createDrainSwitch(
  reuseRecentReadiness(
    createReadinessCheck(
      database.sql,
      await readMigrationJournal(),
      zone ? createZoneModeCheck(zone) : undefined,
    ),
  ),
  "This web server is draining (it was asked to stop): send requests to another one.",
);
const keyring = await createKeyring(encryptionKeys);
// Agents fetch the JWKS before any terminal opens; a failure here is retried by the hourly
// rotation job and by the first terminal token.
await ensureSigningKeys(database.db, keyring).catch((error: unknown) =>
  logger.warn({ err: error }, "could not make the terminal signing keys yet"),
);
// One LISTEN connection for the whole process, outside the pool (ADR 0021).
const liveUpdates = createLiveUpdates({ databaseUrl, logger });
// Trusted only while that connection hears the invalidations (ADR 0028).
const credentials = createCredentialCache({ isListening: liveUpdates.isListening });
liveUpdates.onCredentialChange(credentials.apply);
registerEngineMetrics(metrics.registry, () => readEngineStats(database.db));
const server = createAppServer({
  context: {
    env,
    db: database.db,
    version,
    checkReadiness: drainSwitch.checkReadiness,
    keyring,
    github: { ...github, observe: metrics.observeOutboundRequest },
    observeOutboundRequest: metrics.observeOutboundRequest,
    secureCookies: shouldUseSecureCookies(env.PUBLIC_URL),
    liveUpdates,
    credentials,
    limitApiRequests: createApiRateLimiter(database.db, {
      perCaller: env.API_RATE_LIMIT_PER_MINUTE,
      perUser: env.API_USER_RATE_LIMIT_PER_MINUTE,
    }),
  },
  logger,
  build,
  publicDir: path.join(installRoot, "public"),
  metrics,
  limitAuthRequests: createAuthRateLimiter(database.db),
  isDraining: () => drainSwitch.draining,
});

server.listen(env.PORT, env.HOST, () => {
  const { port } = server.address() as AddressInfo;
  const runtime = process.versions.deno
    ? `deno ${process.versions.deno}`
    : `node ${process.versions.node}`;
  logger.info(
    { port, host: env.HOST, url: env.PUBLIC_URL, version, runtime },
    "web server listening",
  );
  const access = describeWorkspaceAccess(env.WORKSPACE_PROVIDER);
  if (access.notice) logger.warn(access.notice);
  const trustProxyRisk = describeTrustProxyRisk(env);
  if (trustProxyRisk) logger.warn(trustProxyRisk);
});

onShutdownSignal(
  logger,
  async () => {
    // /readyz says 503 first; load balancers take the grace to notice and send elsewhere.
    drainSwitch.begin();
    if (env.WEB_DRAIN_GRACE_SECONDS > 0) {
      logger.info({ graceSeconds: env.WEB_DRAIN_GRACE_SECONDS }, "draining: /readyz answers 503");
      await new Promise((resolve) => setTimeout(resolve, env.WEB_DRAIN_GRACE_SECONDS * 1000));
    }
    await closeServer();
    logger.info("web server stopped");
  },
  // The grace, then 10 s for requests still running and the database's close.
  { deadlineMs: (env.WEB_DRAIN_GRACE_SECONDS + 20) * 1000 },
);

async function closeServer(): Promise<void> {
  server.close();
  // Listened for at once: with no connection open, "close" comes before any await below ends.
  const closed = once(server, "close");
  // Requests still running get a grace period, then their connections are cut.
  const cut = setTimeout(() => server.closeAllConnections(), 10_000);
  // Open live streams end first (browsers fall back to polling, then reconnect elsewhere);
  // their connections go idle a moment later and are closed then, not after the grace.
  await Promise.race([liveUpdates.close(), new Promise((resolve) => setTimeout(resolve, 3_000))]);
  server.closeIdleConnections();
  const closeIdle = setInterval(() => server.closeIdleConnections(), 200);
  await closed;
  clearTimeout(cut);
  clearInterval(closeIdle);
  await database.close();
}

/**
 * With Cloudflare: BASE_DOMAIN's place in the zone and the zone's SSL/TLS mode (ADR 0010). A
 * BASE_DOMAIN whose workspace names no edge certificate covers stops the start (status 78).
 */
async function checkCloudflareZoneOrExit(settings: Env): Promise<CloudflareZone | null> {
  const { CLOUDFLARE_API_TOKEN: apiToken, CLOUDFLARE_ZONE_ID: zoneId, BASE_DOMAIN } = settings;
  if (settings.DNS_PROVIDER !== "cloudflare" || !apiToken || !zoneId || !BASE_DOMAIN) return null;
  const cloudflare = createCloudflareZone({
    apiToken,
    zoneId,
    apiUrl: settings.CLOUDFLARE_API_URL,
    logger,
    observe: metrics.observeOutboundRequest,
  });
  const { refusal, warnings } = await checkZoneAtStart(cloudflare, BASE_DOMAIN);
  for (const warning of warnings) logger.warn(warning);
  if (!refusal) return cloudflare;
  logger.fatal(refusal);
  process.stderr.write(`${refusal}\n`);
  process.exit(78);
}

async function loadRemixBuild(): Promise<ServerBuild> {
  const file = path.join(installRoot, "build", "index.js");
  try {
    return (await import(pathToFileURL(file).href)) as ServerBuild;
  } catch (error) {
    logger.fatal(
      { err: error, file },
      "cannot load the Remix build: run `npm run build` first (npm start does)",
    );
    process.exit(1);
  }
}
