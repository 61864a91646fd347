import type { Database } from "../../db/client.ts";
import type { Keyring } from "../crypto/envelope.ts";
import type { Env } from "../env.ts";
import { enqueueJob } from "../jobs/queue.ts";
import { describeFailure } from "../jobs/job-errors.ts";
import type { JobHandler } from "../jobs/runner.ts";
import type { Logger } from "../logger.ts";
import type { Provider } from "../providers/provider.ts";
import {
  enforceMaximumLifetime,
  listCredentialOwners,
  purgeDeletedWorkspaces,
  reconcileStaleWorkspaces,
  sweepOrphanServers,
} from "../services/maintenance.ts";
import { rotateSigningKeys } from "../services/signing-keys.ts";

// The periodic backstops of SPEC §7, run as ordinary jobs so they show on the dashboard and
// only one worker runs each; the rotation of terminal signing keys (SPEC §9) runs the same way.

const minute = 60_000;

export const periodicJobs = {
  "workspaces.reconcile": { everyMs: minute },
  "servers.sweep_orphans": { everyMs: 10 * minute },
  "workspaces.enforce_lifetime": { everyMs: 5 * minute },
  "workspaces.purge": { everyMs: 60 * minute },
  "signing_keys.rotate": { everyMs: 60 * minute },
} as const;

const purgeAfterDays = 30;
const bootTimeoutSeconds = 15 * 60;

export function createPeriodicHandlers(deps: {
  db: Database;
  env: Env;
  keyring: Keyring;
  installId: string;
  hetznerProviderFor: (userId: string) => Promise<Provider>;
}): Record<keyof typeof periodicJobs, JobHandler> {
  const { db, env } = deps;
  return {
    "workspaces.reconcile": async (_job, context) => {
      const count = await reconcileStaleWorkspaces(db, {
        heartbeatTimeoutSeconds: env.HEARTBEAT_TIMEOUT_SECONDS,
        bootTimeoutSeconds,
      });
      if (count > 0)
        await context.log("warn", `${count} workspace(s) stopped reporting; marked error.`);
    },
    "servers.sweep_orphans": async (_job, context) => {
      const log = (message: string) => context.log("warn", message);
      for (const userId of await listCredentialOwners(db)) {
        // One user's revoked token must not stop the sweep of everyone else's account.
        try {
          const provider = await deps.hetznerProviderFor(userId);
          await sweepOrphanServers(db, provider, deps.installId, log);
        } catch (error) {
          await log(`Could not sweep one user's Hetzner account: ${describeFailure(error)}`);
        }
      }
    },
    "workspaces.enforce_lifetime": async (_job, context) => {
      const count = await enforceMaximumLifetime(db, {
        maxLifetimeHours: env.MAX_WORKSPACE_LIFETIME_HOURS,
        maxAttempts: env.JOB_MAX_ATTEMPTS,
      });
      if (count > 0)
        await context.log("info", `Stopping ${count} workspace(s) past their lifetime.`);
    },
    "workspaces.purge": async (_job, context) => {
      const count = await purgeDeletedWorkspaces(db, purgeAfterDays);
      if (count > 0)
        await context.log(
          "info",
          `Purged ${count} workspace(s) deleted ${purgeAfterDays}+ days ago.`,
        );
    },
    "signing_keys.rotate": async (_job, context) => {
      const keys = await rotateSigningKeys(db, deps.keyring);
      if (keys.rotated)
        await context.log(
          "info",
          `Rotated the terminal signing key; ${keys.currentKid} signs now.`,
        );
    },
  };
}

/**
 * Keeps one waiting job of each periodic kind, due at the next multiple of its interval.
 * The unique key makes every worker's scheduler agree, so each runs once per interval.
 */
export async function enqueuePeriodicJobs(db: Database, now = Date.now()): Promise<void> {
  for (const [kind, { everyMs }] of Object.entries(periodicJobs)) {
    const runAt = new Date(Math.ceil(now / everyMs) * everyMs);
    await enqueueJob(db, { kind, runAt, uniqueKey: kind, maxAttempts: 1 });
  }
}

export function schedulePeriodicJobs(db: Database, logger: Logger): { stop: () => void } {
  const tick = () =>
    enqueuePeriodicJobs(db).catch((error: unknown) =>
      logger.warn({ err: error }, "could not schedule periodic jobs; trying again"),
    );
  void tick();
  const timer = setInterval(tick, 30_000);
  return { stop: () => clearInterval(timer) };
}
