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
import { suggestBranches } from "../github/branch-matches.ts";
import { listAllPages } from "../github/github-paging.ts";
import { AppError } from "../errors.ts";
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

/** At most this many pages of 100 branches are searched for close matches to a missing one. */
export const maxBranchPages = 10;

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
 * needs to clone; pushing back later needs write access on GitHub. A branch it lacks is refused
 * as a field error on `branch`, naming the closest ones (ADR 0023), so a workspace is never set
 * up over an empty folder.
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
    const repository = await readRepository(
      octokit,
      target.repository,
      notFound(
        `You have no access to ${target.repository} on GitHub: it does not exist, or it is private and your GitHub account cannot read it. ${pick}`,
      ),
    );
    const found = await octokit
      .request("GET /repos/{owner}/{repo}/git/ref/{ref}", {
        ...repositoryParams(target.repository),
        ref: `heads/${target.branch}`,
      })
      .then(
        () => true,
        (error: unknown) => {
          // 409: GitHub's answer for the refs of an empty repository; 404: no such branch.
          if (statusOf(error) === 404 || statusOf(error) === 409) return false;
          throw toAppError(error, unexpected("confirm the branch"));
        },
      );
    if (!found) await refuseMissingBranch(octokit, target, repository.default_branch);
  });
}

/**
 * The answer for a branch GitHub does not have: the repository's branches (at most
 * `maxBranchPages` pages) give the closest names, or say that the repository is empty.
 */
async function refuseMissingBranch(
  octokit: Octokit,
  target: { repository: string; branch: string },
  defaultBranch: string | undefined,
): Promise<never> {
  const listed = await listAllPages<{ name: string }>(
    octokit,
    "GET /repos/{owner}/{repo}/branches",
    { ...repositoryParams(target.repository), per_page: 100 },
    maxBranchPages,
  ).catch((error: unknown) => {
    throw toAppError(error, unexpected(`list the branches of ${target.repository}`));
  });
  const names = listed.items.map((branch) => branch.name);
  if (names.length === 0)
    throw new AppError(
      "PRECONDITION_FAILED",
      `${target.repository} is empty on GitHub: it has no branch to clone yet. Push a first commit (e.g. git push origin ${target.branch}), then create the workspace.`,
      { field: "branch" },
    );
  const close = suggestBranches(target.branch, names);
  const offer =
    close.length > 0
      ? `Pick one of: ${close.join(", ")}`
      : `Its default branch is ${defaultBranch && names.includes(defaultBranch) ? defaultBranch : names[0]}; pick an existing branch`;
  throw new AppError(
    "NOT_FOUND",
    `${target.repository} has no branch "${target.branch}" on GitHub. ${offer} (or push the branch first).`,
    { field: "branch" },
  );
}

/** GitHub's answers while checking access, with 404's `message`. */
function notFound(message: string): GitHubAnswers {
  const answers = unexpected("confirm your access to the repository");
  return { ...answers, statuses: { ...answers.statuses, 404: ["NOT_FOUND", message] } };
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
