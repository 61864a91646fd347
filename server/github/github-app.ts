import { createPrivateKey } from "node:crypto";
import type { Octokit } from "@octokit/core";
import { importPKCS8, SignJWT } from "jose";
import { z } from "zod";
import type { GitHubAppSettings, GitHubSettings } from "../env.ts";
import { AppError } from "../errors.ts";
import {
  githubClient,
  repositoryParams,
  statusOf,
  toAppError,
  type GitHubAnswers,
} from "./github-api.ts";

// Talking to GitHub as the App (ADR 0006): a short JWT signed with the App's private key
// proves it is the App; with it the control plane mints installation tokens limited to one
// repository and one permission, for one hour (kept for reuse in installation-tokens.ts).

export type ContentsPermission = "read" | "write";

export type InstallationToken = { token: string; expiresAt: string };

/** The App's JWT: RS256, `iss` the App ID, issued 60 s in the past against clock drift. */
export async function createAppJwt(app: GitHubAppSettings, now = Date.now()): Promise<string> {
  // GitHub hands out PKCS#1 keys; jose imports PKCS#8, which node:crypto converts to.
  const pkcs8 = createPrivateKey(app.privateKey).export({ type: "pkcs8", format: "pem" });
  const key = await importPKCS8(pkcs8.toString(), "RS256");
  const seconds = Math.floor(now / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "RS256", typ: "JWT" })
    .setIssuer(app.id)
    .setIssuedAt(seconds - 60)
    .setExpirationTime(seconds + 9 * 60)
    .sign(key);
}

/** The body of `POST /app/installations/{id}/access_tokens` for one repository's contents. */
export function installationTokenRequest(repositoryName: string, contents: ContentsPermission) {
  return { repositories: [repositoryName], permissions: { contents } };
}

const installationSchema = z.object({ id: z.number().int() });
const accessTokenSchema = z.object({ token: z.string().min(1), expires_at: z.string() });
const appSchema = z.object({ slug: z.string().optional() });

/** An App client (its JWT lasts nine minutes: one per credential request). */
export async function createAppClient(github: GitHubSettings): Promise<Octokit> {
  return githubClient(github, await createAppJwt(requireApp(github)));
}

/** The id of the App's installation covering `owner/name`; says how to install it if none. */
export async function findInstallation(
  github: GitHubSettings,
  app: Octokit,
  repository: string,
): Promise<number> {
  return app
    .request("GET /repos/{owner}/{repo}/installation", repositoryParams(repository))
    .then((answer) => installationSchema.parse(answer.data).id)
    .catch(async (error: unknown) => {
      if (statusOf(error) === 404) throw await notInstalled(github, app, repository);
      throw toAppError(error, appRefused(github));
    });
}

/** A new installation token for `owner/name` only, with contents `permission`, for one hour. */
export async function mintInstallationToken(
  github: GitHubSettings,
  app: Octokit,
  installationId: number,
  repository: string,
  permission: ContentsPermission,
): Promise<InstallationToken> {
  const answer = await app
    .request("POST /app/installations/{installation_id}/access_tokens", {
      installation_id: installationId,
      ...installationTokenRequest(repositoryParams(repository).repo, permission),
    })
    .catch((error: unknown) => {
      const refused = appRefused(github);
      const uncovered = `The GitHub App's installation does not cover ${repository} with contents ${permission} access. Add the repository to the installation (and grant the App "Contents: read and write"), then try again.`;
      refused.statuses[422] = ["PRECONDITION_FAILED", uncovered];
      throw toAppError(error, refused);
    });
  const token = accessTokenSchema.parse(answer.data);
  return { token: token.token, expiresAt: token.expires_at };
}

function requireApp(github: GitHubSettings): GitHubAppSettings {
  if (github.app) return github.app;
  throw new Error("installation tokens need a GitHub App (GITHUB_APP_ID)");
}

async function notInstalled(
  github: GitHubSettings,
  octokit: Octokit,
  repository: string,
): Promise<AppError> {
  // The slug names the install page; without it, point at the App settings in general.
  const slug = await octokit
    .request("GET /app")
    .then((answer) => appSchema.parse(answer.data).slug)
    .catch(() => undefined);
  const where = slug
    ? `${github.webUrl}/apps/${slug}/installations/new`
    : `the App's public page on ${github.webUrl}`;
  return new AppError(
    "PRECONDITION_FAILED",
    `The GitHub App is not installed on ${repository}. Install it on that repository (${where}), then run the git command again.`,
  );
}

function appRefused(github: GitHubSettings): GitHubAnswers {
  return {
    statuses: {
      401: [
        "SERVICE_UNAVAILABLE",
        `GitHub at ${github.apiUrl} refused the App's credentials. Check GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY (the key must be one of the App's current private keys).`,
      ],
    },
    otherwise: "GitHub did not mint a git token for the workspace",
  };
}
