import type { GitHubSettings } from "../env.ts";
import {
  createAppClient,
  findInstallation,
  mintInstallationToken,
  type ContentsPermission,
  type InstallationToken,
} from "./github-app.ts";

// Installation tokens for git, kept in this web process's memory and reused until five
// minutes before they expire (ADR 0006): git asks for a password on every fetch and push,
// and minting one each time costs an App JWT, two GitHub calls and another live token.
// The installation is looked up on every request (an uninstalled App is refused at once, a
// reinstalled one has a new id, so a new key), and a cached token is tried against git
// before it is handed out, so a token GitHub revoked early is never served.

/** A cached token is served only while it lives at least this long. */
const reuseMarginMs = 5 * 60_000;
/** How long the liveness check may take before a fresh token is minted instead. */
const probeTimeoutMs = 10_000;
/** Far more than one web process serves; the oldest go first beyond it. */
const maxEntries = 10_000;

const cache = new Map<string, InstallationToken>();

/** An installation token for `owner/name` with contents `permission`, reused while it lives. */
export async function obtainInstallationToken(
  github: GitHubSettings,
  repository: string,
  permission: ContentsPermission,
): Promise<InstallationToken> {
  const app = await createAppClient(github);
  const installationId = await findInstallation(github, app, repository);
  const key = [github.apiUrl, installationId, repository.toLowerCase(), permission].join("\n");
  const cached = cache.get(key);
  if (cached && isFresh(cached) && (await worksForGit(github, repository, cached.token)))
    return cached;
  cache.delete(key);
  const minted = await mintInstallationToken(github, app, installationId, repository, permission);
  remember(key, minted);
  return minted;
}

/** Forgets every cached token (tests; a process restart does the same). */
export function forgetInstallationTokens(): void {
  cache.clear();
}

const isFresh = (token: InstallationToken) =>
  Date.parse(token.expiresAt) - reuseMarginMs > Date.now();

function remember(key: string, token: InstallationToken): void {
  for (const [other, entry] of cache) if (!isFresh(entry)) cache.delete(other);
  if (!isFresh(token)) return;
  cache.set(key, token);
  if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
}

/**
 * Whether git at GITHUB_URL still takes the token for the repository: a protocol-v2
 * capability advertisement (a few hundred bytes, no refs, outside the REST rate limit).
 * 401 (revoked, expired) or 403/404 (repository no longer covered) means mint a new one.
 */
async function worksForGit(
  github: GitHubSettings,
  repository: string,
  token: string,
): Promise<boolean> {
  const url = `${github.webUrl}/${repository}.git/info/refs?service=git-upload-pack`;
  try {
    const answer = await fetch(url, {
      headers: {
        authorization: `Basic ${Buffer.from(`x-access-token:${token}`).toString("base64")}`,
        "git-protocol": "version=2",
      },
      redirect: "manual",
      signal: AbortSignal.timeout(probeTimeoutMs),
    });
    await answer.body?.cancel();
    return answer.status === 200;
  } catch {
    return false;
  }
}
