import { createPublicKey } from "node:crypto";
import type { StandInApp, StandInContext } from "./context.ts";
import type { StandInRateLimits } from "./rate-limits.ts";

// The stand-in's GitHub App (one per stand-in; its client is the stand-in's client) and the
// switches tests use to make tokens expire, uninstall the App, take away push access or
// use up the rate limit.

export type StandInAppOptions = {
  /** The App's public key (PEM); the control plane signs its JWTs with the private key. */
  publicKey: string;
  /** Default 8 hours, as on GitHub. */
  userTokenLifetimeSeconds?: number;
  /** Default 6 months, as on GitHub. */
  refreshTokenLifetimeSeconds?: number;
  /** Default 1 hour, as on GitHub. */
  installationTokenLifetimeSeconds?: number;
};

/** The App ID of the stand-in's App: fixed, so GITHUB_APP_ID survives restarts. */
export const standInAppId = 100_001;

export function createStandInApp(options: StandInAppOptions): StandInApp {
  return {
    id: standInAppId,
    slug: "cloud-ai-workspaces-stand-in",
    name: "Cloud AI Workspaces (stand-in)",
    publicKey: createPublicKey(options.publicKey),
    userTokenLifetimeMs: (options.userTokenLifetimeSeconds ?? 8 * 3600) * 1000,
    refreshTokenLifetimeMs: (options.refreshTokenLifetimeSeconds ?? 184 * 24 * 3600) * 1000,
    installationTokenLifetimeMs: (options.installationTokenLifetimeSeconds ?? 3600) * 1000,
    uninstalledOwners: new Set(),
  };
}

export type StandInSwitches = {
  /** Every access token issued so far (user and installation) stops working now. */
  expireAccessTokens: () => Promise<void>;
  /** Installs or uninstalls the App on every repository of `owner`. */
  setAppInstalled: (owner: string, installed: boolean) => void;
  /** Makes `login` a reader only (or a writer again) of `owner/name`. */
  setReadOnly: (login: string, repository: string, readOnly: boolean) => void;
  /** Sets a user's remaining primary rate limit budget (rate-limits.ts). */
  setRateLimitBudget: StandInRateLimits["setBudget"];
  /** Makes the next REST requests hit a secondary rate limit (rate-limits.ts). */
  addSecondaryRateLimit: StandInRateLimits["addSecondaryLimit"];
  /** What an installation token reaches and until when (epoch ms); undefined if dead. */
  describeInstallationToken: (
    token: string,
  ) => { repositories: string[]; contents: string; expiresAt: number } | undefined;
};

export function createSwitches(context: StandInContext): StandInSwitches {
  return {
    expireAccessTokens: () => context.store.expireAccessTokens(),
    setAppInstalled: (owner, installed) => {
      const set = context.app?.uninstalledOwners;
      if (!set) throw new Error("the stand-in was started without `app`");
      if (installed) set.delete(owner.toLowerCase());
      else set.add(owner.toLowerCase());
    },
    setReadOnly: (login, repository, readOnly) => {
      const key = `${login}:${repository}`.toLowerCase();
      if (readOnly) context.readOnly.add(key);
      else context.readOnly.delete(key);
    },
    setRateLimitBudget: (login, budget) => context.rateLimits.setBudget(login, budget),
    addSecondaryRateLimit: (limit) => context.rateLimits.addSecondaryLimit(limit),
    describeInstallationToken: (token) => {
      const grant = context.store.findInstallationToken(token);
      return grant && { ...grant };
    },
  };
}
