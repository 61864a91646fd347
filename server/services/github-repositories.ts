import type { Octokit } from "@octokit/core";
import type { Database } from "../../db/client.ts";
import type { Keyring } from "../crypto/envelope.ts";
import type { GitHubSettings } from "../env.ts";
import {
  githubClient,
  readRepository,
  repositoryParams,
  statusOf,
  toAppError,
  type GitHubAnswers,
} from "../github/github-api.ts";
import { listAllPages } from "../github/github-paging.ts";
import { readGitHubToken, renewRejectedGitHubToken } from "./github-tokens.ts";
import type { Owner } from "./owner.ts";
import type { Logger } from "../logger.ts";

export type GitHubRepository = {
  fullName: string;
  defaultBranch: string;
  private: boolean;
  description: string | null;
  pushedAt: string | null;
};

/**
 * At most this many pages of 100 for the picker: ten requests, one after another, keep the
 * form quick; past a thousand, the most recently pushed ones are the ones worth offering.
 */
export const maxRepositoryPages = 10;

type ListedRepository = {
  full_name: string;
  default_branch?: string;
  private: boolean;
  description: string | null;
  pushed_at: string | null;
};

/** The repositories the user can reach on GitHub, most recently pushed first (SPEC §5). */
export async function listGitHubRepositories(
  db: Database,
  keyring: Keyring,
  owner: Owner,
  github: GitHubSettings,
  logger: Logger,
): Promise<GitHubRepository[]> {
  const listed = await asGitHubUser({ db, keyring, github, owner, logger }, (octokit) =>
    listAllPages<ListedRepository>(
      octokit,
      "GET /user/repos",
      { sort: "pushed", direction: "desc", per_page: 100 },
      maxRepositoryPages,
    ).catch((error: unknown) => {
      throw toAppError(error, unexpected("list your repositories"));
    }),
  );
  if (listed.truncated)
    logger.warn(
      { userId: owner.userId, listed: listed.items.length },
      "the user has more GitHub repositories than the picker lists; it offers the most recently pushed",
    );
  return listed.items.map((repository) => ({
    fullName: repository.full_name,
    defaultBranch: repository.default_branch ?? "main",
    private: repository.private,
    description: repository.description ?? null,
    pushedAt: repository.pushed_at ?? null,
  }));
}

type GitHubUserDeps = {
  db: Database;
  keyring: Keyring;
  github: GitHubSettings;
  owner: Owner;
  logger: Logger;
};

/**
 * Runs `work` with a client speaking as the user. When GitHub refuses the token (401) before
 * its recorded expiry, it is renewed once with the refresh token and `work` runs again; a
 * token that cannot be renewed asks the user to sign in again.
 */
async function asGitHubUser<T>(
  deps: GitHubUserDeps,
  work: (octokit: Octokit) => Promise<T>,
): Promise<T> {
  const { db, keyring, github, owner, logger } = deps;
  // Refreshed first when a GitHub App user token is about to expire.
  const token = await readGitHubToken(db, keyring, github, owner.userId, { logger });
  try {
    return await work(githubClient(github, token, { logger }));
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    if (statusOf(cause ?? error) !== 401) throw error;
    logger.info({ userId: owner.userId }, "GitHub refused a live user token; renewing it once");
    const renewed = await renewRejectedGitHubToken(db, keyring, github, owner.userId, token, {
      logger,
    });
    return work(githubClient(github, renewed, { logger }));
  }
}

/**
 * Refuses a repository (or branch) the user cannot read on GitHub, before a workspace is made
 * for it: otherwise a workspace would be set up for someone else's code. GitHub answers 404 for
 * a private repository the token cannot see, so 200 means read access, which is all a workspace
 * needs to clone; pushing back later needs write access on GitHub.
 */
export async function checkRepositoryAccess(
  db: Database,
  keyring: Keyring,
  github: GitHubSettings,
  owner: Owner,
  target: { repository: string; branch: string },
  logger: Logger,
): Promise<void> {
  const pick = "Pick one from the list of your repositories (github.repos, or the create form).";
  await asGitHubUser({ db, keyring, github, owner, logger }, async (octokit) => {
    await readRepository(
      octokit,
      target.repository,
      notFound(
        `You have no access to ${target.repository} on GitHub: it does not exist, or it is private and your GitHub account cannot read it. ${pick}`,
      ),
    );
    await octokit
      .request("GET /repos/{owner}/{repo}/git/ref/{ref}", {
        ...repositoryParams(target.repository),
        ref: `heads/${target.branch}`,
      })
      .catch((error: unknown) => {
        throw toAppError(
          error,
          notFound(
            `${target.repository} has no branch "${target.branch}" on GitHub. Name an existing branch (the repository list shows each default branch), or push the branch first.`,
          ),
        );
      });
  });
}

/** GitHub's answers while checking access, with 404 (and 409, an empty repository) `message`. */
function notFound(message: string): GitHubAnswers {
  const answers = unexpected("confirm your access to the repository");
  // 409 is GitHub's answer for refs of an empty repository: no branch to start from either.
  const missing = ["NOT_FOUND", message] as const;
  return { ...answers, statuses: { ...answers.statuses, 404: missing, 409: missing } };
}

function unexpected(doing: string): GitHubAnswers {
  return {
    statuses: {
      401: ["UNAUTHORIZED", "GitHub no longer accepts your sign-in. Sign out and in again."],
      403: [
        "FORBIDDEN",
        `GitHub refused to ${doing} (403: your organisation may require SSO authorisation). Authorise the app for the organisation on GitHub, then try again.`,
      ],
    },
    otherwise: `GitHub did not ${doing}`,
  };
}
