import { Octokit } from "@octokit/core";
import { z } from "zod";
import type { Database } from "../../db/client.ts";
import {
  repositoryOfGitPath,
  type GitCredential,
  type GitCredentialRequest,
} from "../../protocol/agent-protocol.ts";
import type { Keyring } from "../crypto/envelope.ts";
import type { GitHubSettings } from "../env.ts";
import { AppError } from "../errors.ts";
import { createInstallationToken, type ContentsPermission } from "../github/github-app.ts";
import { readGitHubToken } from "./github-tokens.ts";

// The credential git gets in a workspace (SPEC §6, ADR 0006), only for that workspace's own
// repository on GITHUB_URL. With a GitHub App: an installation token for that one repository
// (contents, 1 hour), never more than the owner may do there. With an OAuth app: the owner's
// own token, which reaches everything they can (the wider blast radius the guide states).

export type CredentialWorkspace = { userId: string; repository: string };

/** Refuses (403) anything but the workspace's repository on GITHUB_URL. */
export function checkCredentialRequest(
  request: GitCredentialRequest,
  workspace: CredentialWorkspace,
  githubUrl: string,
): void {
  const github = new URL(githubUrl);
  const asked = `${request.protocol}://${request.host}/${request.path.replace(/^\/+/, "")}`;
  const ownOrigin =
    request.protocol === github.protocol.slice(0, -1) &&
    request.host.toLowerCase() === github.host.toLowerCase();
  if (!ownOrigin || repositoryOfGitPath(request.path) !== workspace.repository.toLowerCase())
    throw new AppError(
      "FORBIDDEN",
      `Git credentials are handed out only for this workspace's repository, ${githubUrl}/${workspace.repository}.git; git asked about ${asked}. Use your own credentials for other repositories.`,
    );
}

export async function mintGitCredential(
  db: Database,
  keyring: Keyring,
  github: GitHubSettings,
  workspace: CredentialWorkspace & { ownerLogin: string },
): Promise<GitCredential> {
  const url = new URL(github.webUrl);
  const origin = { protocol: url.protocol.slice(0, -1), host: url.host };
  const userToken = await readGitHubToken(db, keyring, github, workspace.userId);
  if (!github.app)
    return { ...origin, username: workspace.ownerLogin, password: userToken, expiresAt: null };
  const permission = await readOwnerPermission(github, userToken, workspace.repository);
  const token = await createInstallationToken(github, workspace.repository, permission);
  return {
    ...origin,
    username: "x-access-token",
    password: token.token,
    expiresAt: token.expiresAt,
  };
}

const repositorySchema = z.object({
  permissions: z.object({ push: z.boolean(), pull: z.boolean() }).optional(),
});

/** What the owner may do in the repository; an App token never gets more than that. */
async function readOwnerPermission(
  github: GitHubSettings,
  userToken: string,
  repository: string,
): Promise<ContentsPermission> {
  const [owner = "", repo = ""] = repository.split("/");
  const octokit = new Octokit({ baseUrl: github.apiUrl, auth: userToken });
  const answer = await octokit
    .request("GET /repos/{owner}/{repo}", { owner, repo })
    .catch((error: unknown) => {
      const status = (error as { status?: number }).status;
      if (status === 404 || status === 403)
        throw new AppError(
          "FORBIDDEN",
          `The workspace's owner can no longer reach ${repository} on GitHub, so git gets no token for it. Ask for access to the repository.`,
        );
      if (status === 401)
        throw new AppError(
          "UNAUTHORIZED",
          "GitHub no longer accepts the owner's sign-in. They should sign out and in again.",
        );
      throw new AppError(
        "SERVICE_UNAVAILABLE",
        `GitHub did not answer about ${repository} (${status ?? "no answer"}). Try again in a moment.`,
      );
    });
  const { permissions } = repositorySchema.parse(answer.data);
  return permissions?.push ? "write" : "read";
}
