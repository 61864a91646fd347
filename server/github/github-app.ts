import { createPrivateKey } from "node:crypto";
import { Octokit } from "@octokit/core";
import { importPKCS8, SignJWT } from "jose";
import { z } from "zod";
import type { GitHubAppSettings, GitHubSettings } from "../env.ts";
import { AppError } from "../errors.ts";

// Talking to GitHub as the App (ADR 0006): a short JWT signed with the App's private key
// proves it is the App; with it the control plane mints installation tokens limited to one
// repository and one permission, for one hour, each time git asks.

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

/** An installation token for `owner/name` only, with contents `permission`, for one hour. */
export async function createInstallationToken(
  github: GitHubSettings,
  repository: string,
  permission: ContentsPermission,
): Promise<InstallationToken> {
  const app = requireApp(github);
  const [owner = "", repo = ""] = repository.split("/");
  const octokit = new Octokit({ baseUrl: github.apiUrl, auth: await createAppJwt(app) });
  const installation = await octokit
    .request("GET /repos/{owner}/{repo}/installation", { owner, repo })
    .then((answer) => installationSchema.parse(answer.data))
    .catch(async (error: unknown) => {
      if (statusOf(error) === 404) throw await notInstalled(github, octokit, repository);
      throw appRefused(github, error);
    });
  const answer = await octokit
    .request("POST /app/installations/{installation_id}/access_tokens", {
      installation_id: installation.id,
      ...installationTokenRequest(repo, permission),
    })
    .catch((error: unknown) => {
      if (statusOf(error) === 422)
        throw new AppError(
          "PRECONDITION_FAILED",
          `The GitHub App's installation does not cover ${repository} with contents ${permission} access. Add the repository to the installation (and grant the App "Contents: read and write"), then try again.`,
        );
      throw appRefused(github, error);
    });
  const token = accessTokenSchema.parse(answer.data);
  return { token: token.token, expiresAt: token.expires_at };
}

function requireApp(github: GitHubSettings): GitHubAppSettings {
  if (github.app) return github.app;
  throw new Error("createInstallationToken needs a GitHub App (GITHUB_APP_ID)");
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

function appRefused(github: GitHubSettings, error: unknown): AppError {
  const status = statusOf(error);
  if (status === 401)
    return new AppError(
      "SERVICE_UNAVAILABLE",
      `GitHub at ${github.apiUrl} refused the App's credentials. Check GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY (the key must be one of the App's current private keys).`,
    );
  return new AppError(
    "SERVICE_UNAVAILABLE",
    `GitHub did not mint a git token for the workspace (${status ?? "no answer"}). Try again in a moment.`,
    { cause: error },
  );
}

const statusOf = (error: unknown) => (error as { status?: number }).status;
