import type { Database } from "../../db/client.ts";
import {
  repositoryOfGitPath,
  type GitCredential,
  type GitCredentialRequest,
} from "../../protocol/agent-protocol.ts";
import type { Keyring } from "../crypto/envelope.ts";
import type { GitHubSettings } from "../env.ts";
import { AppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { githubClient, readRepository, type GitHubRefusal } from "../github/github-api.ts";
import type { ContentsPermission } from "../github/github-app.ts";
import { obtainInstallationToken } from "../github/installation-tokens.ts";
import { readGitHubToken } from "./github-tokens.ts";

// The credential git gets in a workspace (SPEC §6, ADR 0006), only for that workspace's own
// repository on GITHUB_URL. With a GitHub App: an installation token for that one repository
// (contents, 1 hour, reused while it lives), never more than the owner may do there. With an
// OAuth app: the owner's own token, which reaches everything they can (the guide says so).

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
  logger: Logger,
): Promise<GitCredential> {
  const url = new URL(github.webUrl);
  const origin = { protocol: url.protocol.slice(0, -1), host: url.host };
  const userToken = await readGitHubToken(db, keyring, github, workspace.userId, { logger });
  if (!github.app)
    return { ...origin, username: workspace.ownerLogin, password: userToken, expiresAt: null };
  const permission = await readOwnerPermission(github, userToken, workspace.repository);
  const token = await obtainInstallationToken(github, workspace.repository, permission);
  return {
    ...origin,
    username: "x-access-token",
    password: token.token,
    expiresAt: token.expiresAt,
  };
}

/** What the owner may do in the repository; an App token never gets more than that. */
async function readOwnerPermission(
  github: GitHubSettings,
  userToken: string,
  repository: string,
): Promise<ContentsPermission> {
  const noAccess: GitHubRefusal = [
    "FORBIDDEN",
    `The workspace's owner can no longer reach ${repository} on GitHub, so git gets no token for it. Ask for access to the repository.`,
  ];
  const { permissions } = await readRepository(githubClient(github, userToken), repository, {
    statuses: {
      401: [
        "UNAUTHORIZED",
        "GitHub no longer accepts the owner's sign-in. They should sign out and in again.",
      ],
      403: noAccess,
      404: noAccess,
    },
    otherwise: `GitHub did not answer about ${repository}`,
  });
  return permissions?.push ? "write" : "read";
}
