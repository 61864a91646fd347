import type { UserAttributes } from "./lucia.ts";

// Who an API token belongs to, kept in the web process for a few seconds (issue #15, ADR 0028):
// a tRPC call then costs no token and user lookup. It is only as good as its invalidation:
// every change that must end a token's use at once (revoked, expired early, deleted; its user's
// attributes changed or the user deleted) sends NOTIFY on `caw_credentials` (migration 0010),
// which the process's one LISTEN connection hears (services/live-updates.ts). Notifications
// sent while that connection is down are lost, so the cache answers nothing unless it is
// listening, and forgets everything when it stops or starts again. The TTL bounds what a
// connection that died without closing could still let through.

export type TokenCredential = {
  tokenId: string;
  user: UserAttributes & { id: string };
  expiresAt: Date | null;
  /** When the token was last recorded as used (services/api-tokens.ts writes it once a minute). */
  lastUsedAt: Date | null;
};

export type CredentialChange =
  | { type: "token" | "user"; id: string }
  /** Changes may have been missed (the feed went down, or is back): forget everything. */
  | { type: "forget-all" };

export type CredentialCache = {
  /** The token's credential while it is held, fresh and the token has not expired. */
  read: (tokenHash: string) => TokenCredential | undefined;
  /** A stamp to take before reading the database: `remember` with it is refused if any
   * invalidation came in between (a revoke heard while our read was under way). */
  epoch: () => number;
  remember: (tokenHash: string, credential: TokenCredential, epoch: number) => void;
  apply: (change: CredentialChange) => void;
};

export type CredentialCacheOptions = {
  /** Whether invalidations are being heard now (the LISTEN connection is up). */
  isListening: () => boolean;
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
};

type Entry = { credential: TokenCredential; heldUntil: number };

export const credentialCacheTtlMs = 10_000;

export function createCredentialCache(options: CredentialCacheOptions): CredentialCache {
  const { isListening, ttlMs = credentialCacheTtlMs, maxEntries = 10_000 } = options;
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  let invalidations = 0;

  const forgetWhere = (matches: (credential: TokenCredential) => boolean) => {
    for (const [hash, entry] of entries) if (matches(entry.credential)) entries.delete(hash);
  };

  return {
    read(tokenHash) {
      const entry = entries.get(tokenHash);
      if (!entry) return undefined;
      const moment = now();
      const expired = entry.credential.expiresAt && entry.credential.expiresAt.getTime() <= moment;
      if (!isListening() || entry.heldUntil <= moment || expired) {
        entries.delete(tokenHash);
        return undefined;
      }
      return entry.credential;
    },
    epoch: () => invalidations,
    remember(tokenHash, credential, epoch) {
      if (epoch !== invalidations || !isListening()) return;
      // Oldest first out: Map keeps insertion order, so the first key is the oldest entry.
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(tokenHash, { credential, heldUntil: now() + ttlMs });
    },
    apply(change) {
      invalidations++;
      if (change.type === "forget-all") entries.clear();
      else if (change.type === "token")
        forgetWhere((credential) => credential.tokenId === change.id);
      else forgetWhere((credential) => credential.user.id === change.id);
    },
  };
}
