import type { Database } from "../../db/client.ts";
import type { Keyring } from "../crypto/envelope.ts";
import { sourceIpsOf, type CloudflareRangesReader } from "../dns/cloudflare-ranges.ts";
import type { Env } from "../env.ts";
import { enqueueJob } from "../jobs/queue.ts";
import { describeFailure } from "../jobs/job-errors.ts";
import type { JobHandler } from "../jobs/runner.ts";
import type { Logger } from "../logger.ts";
import type { HetznerFirewalls } from "../providers/hetzner-firewall.ts";
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
// only one worker runs each; the rotation of terminal signing keys (SPEC §9) and the refresh
// of the Hetzner firewalls' Cloudflare ranges (hetzner-firewall.ts) run the same way.

const minute = 60_000;

export const periodicJobs = {
  "workspaces.reconcile": { everyMs: minute },
  "servers.sweep_orphans": { everyMs: 10 * minute },
  "workspaces.enforce_lifetime": { everyMs: 5 * minute },
  "workspaces.purge": { everyMs: 60 * minute },
  "signing_keys.rotate": { everyMs: 60 * minute },
  /** FIREWALL_REFRESH_MINUTES sets it (periodicIntervalsOf); not scheduled without Hetzner. */
  "firewalls.refresh_rules": { everyMs: 6 * 60 * minute },
} as const;

export type PeriodicJobKind = keyof typeof periodicJobs;
/** Intervals (ms) that differ from `periodicJobs`; null: not scheduled at all. */
export type PeriodicIntervals = Partial<Record<PeriodicJobKind, number | null>>;

/** The intervals this install's settings ask for. */
export function periodicIntervalsOf(
  env: Pick<Env, "WORKSPACE_PROVIDER" | "FIREWALL_REFRESH_MINUTES">,
): PeriodicIntervals {
  return {
    // One-machine mode has no firewall to refresh.
    "firewalls.refresh_rules":
      env.WORKSPACE_PROVIDER === "hetzner" ? env.FIREWALL_REFRESH_MINUTES * minute : null,
  };
}

const purgeAfterDays = 30;

export function createPeriodicHandlers(deps: {
  db: Database;
  env: Env;
  keyring: Keyring;
  installId: string;
  /** `signal`: the job's, so a drained worker's sweep leaves no request in flight. */
  hetznerProviderFor: (userId: string, signal?: AbortSignal) => Promise<Provider>;
  hetznerFirewallFor: (userId: string, signal?: AbortSignal) => Promise<HetznerFirewalls>;
  cloudflareRanges: CloudflareRangesReader;
}): Record<PeriodicJobKind, JobHandler> {
  const { db, env } = deps;
  return {
    "workspaces.reconcile": async (_job, context) => {
      const count = await reconcileStaleWorkspaces(db, {
        heartbeatTimeoutSeconds: env.HEARTBEAT_TIMEOUT_SECONDS,
        bootTimeoutSeconds: env.AGENT_BOOT_TIMEOUT_SECONDS,
      });
      if (count > 0)
        await context.log("warn", `${count} workspace(s) stopped reporting; marked error.`);
    },
    "servers.sweep_orphans": async (_job, context) => {
      const log = (message: string) => context.log("warn", message);
      for (const userId of await listCredentialOwners(db)) {
        context.signal.throwIfAborted();
        // One user's revoked token must not stop the sweep of everyone else's account.
        try {
          const provider = await deps.hetznerProviderFor(userId, context.signal);
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
    "firewalls.refresh_rules": async (_job, context) => {
      if (env.WORKSPACE_PROVIDER !== "hetzner") return;
      await refreshFirewallRules(
        deps,
        (level, message) => context.log(level, message),
        context.signal,
      );
    },
  };
}

/**
 * Rewrites our firewall's rules in every project we hold a token for, where Cloudflare's
 * ranges changed. Without fresh ranges nothing is touched (the job fails, saying why); one
 * project's failure (a revoked token) is logged and the others go on.
 */
async function refreshFirewallRules(
  deps: Parameters<typeof createPeriodicHandlers>[0],
  log: (level: "info" | "warn", message: string) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  const sourceIps = sourceIpsOf(await deps.cloudflareRanges.readFresh());
  const counts = { updated: 0, unchanged: 0, absent: 0, failed: 0 };
  for (const userId of await listCredentialOwners(deps.db)) {
    signal.throwIfAborted();
    try {
      const firewalls = await deps.hetznerFirewallFor(userId, signal);
      counts[await firewalls.syncRules(sourceIps)] += 1;
    } catch (error) {
      counts.failed += 1;
      await log(
        "warn",
        `Could not update the firewall in the Hetzner project of user ${userId}: ${describeFailure(error)}`,
      );
    }
  }
  if (counts.updated > 0 || counts.failed > 0)
    await log(
      "info",
      `Cloudflare's ranges (${sourceIps.length} CIDRs): firewall rules updated in ${counts.updated} project(s), unchanged in ${counts.unchanged}, failed in ${counts.failed}; ${counts.absent} without a firewall yet.`,
    );
}

/**
 * Keeps one waiting job of each periodic kind, due at the next multiple of its interval.
 * The unique key makes every worker's scheduler agree, so each runs once per interval.
 */
export async function enqueuePeriodicJobs(
  db: Database,
  now = Date.now(),
  intervals: PeriodicIntervals = {},
): Promise<void> {
  for (const [kind, { everyMs: standard }] of Object.entries(periodicJobs)) {
    const everyMs = intervals[kind as PeriodicJobKind] ?? standard;
    if (intervals[kind as PeriodicJobKind] === null) continue;
    const runAt = new Date(Math.ceil(now / everyMs) * everyMs);
    await enqueueJob(db, { kind, runAt, uniqueKey: kind, maxAttempts: 1 });
  }
}

export function schedulePeriodicJobs(
  db: Database,
  logger: Logger,
  intervals: PeriodicIntervals = {},
): { stop: () => void } {
  const tick = () =>
    enqueuePeriodicJobs(db, Date.now(), intervals).catch((error: unknown) =>
      logger.warn({ err: error }, "could not schedule periodic jobs; trying again"),
    );
  void tick();
  const timer = setInterval(tick, 30_000);
  return { stop: () => clearInterval(timer) };
}
