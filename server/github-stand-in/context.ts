import type { KeyObject } from "node:crypto";
import type { Logger } from "../logger.ts";
import type { StandInRateLimits } from "./rate-limits.ts";
import type { StandInStore } from "./store.ts";

/** What every request handler of the stand-in needs. */
export type StandInContext = {
  url: string;
  apiUrl: string;
  reposDir: string;
  store: StandInStore;
  logger: Logger;
  /** `login:owner/name` (lower case) where that user may only read (a test switch). */
  readOnly: Set<string>;
  /** The REST rate limits of users (headers on every answer, 403/429 past them). */
  rateLimits: StandInRateLimits;
  /** Set when the stand-in plays a GitHub App (its client is then the App's). */
  app?: StandInApp;
};

export type StandInApp = {
  id: number;
  slug: string;
  name: string;
  /** Verifies the App's JWTs; the control plane holds the private key. */
  publicKey: KeyObject;
  userTokenLifetimeMs: number;
  refreshTokenLifetimeMs: number;
  installationTokenLifetimeMs: number;
  /** Owners (lower case) the App is not installed on; it is installed everywhere else. */
  uninstalledOwners: Set<string>;
};
