import { Octokit } from "@octokit/core";
import type { Database } from "../../db/client.ts";
import type { Keyring } from "../crypto/envelope.ts";
import type { GitHubSettings } from "../env.ts";
import { AppError } from "../errors.ts";
import { readGitHubToken } from "./github-tokens.ts";
import type { Owner } from "./owner.ts";

export type GitHubRepository = {
  fullName: string;
  defaultBranch: string;
  private: boolean;
  description: string | null;
  pushedAt: string | null;
};

/** The repositories the user can reach on GitHub, most recently pushed first (SPEC §5). */
export async function listGitHubRepositories(
  db: Database,
  keyring: Keyring,
  owner: Owner,
  github: GitHubSettings,
): Promise<GitHubRepository[]> {
  // Refreshed first when a GitHub App user token is about to expire.
  const token = await readGitHubToken(db, keyring, github, owner.userId);
  const octokit = new Octokit({ baseUrl: github.apiUrl, auth: token });
  try {
    const { data } = await octokit.request("GET /user/repos", { sort: "pushed", per_page: 100 });
    return data.map((repository) => ({
      fullName: repository.full_name,
      defaultBranch: repository.default_branch ?? "main",
      private: repository.private,
      description: repository.description ?? null,
      pushedAt: repository.pushed_at ?? null,
    }));
  } catch (error) {
    throw unexpectedAnswer(error, "list your repositories");
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
): Promise<void> {
  const [repoOwner = "", repo = ""] = target.repository.split("/");
  const token = await readGitHubToken(db, keyring, github, owner.userId);
  const octokit = new Octokit({ baseUrl: github.apiUrl, auth: token });
  const pick = "Pick one from the list of your repositories (github.repos, or the create form).";
  await askGitHub(
    () => octokit.request("GET /repos/{owner}/{repo}", { owner: repoOwner, repo }),
    `You have no access to ${target.repository} on GitHub: it does not exist, or it is private and your GitHub account cannot read it. ${pick}`,
  );
  await askGitHub(
    () =>
      octokit.request("GET /repos/{owner}/{repo}/git/ref/{ref}", {
        owner: repoOwner,
        repo,
        ref: `heads/${target.branch}`,
      }),
    `${target.repository} has no branch "${target.branch}" on GitHub. Name an existing branch (the repository list shows each default branch), or push the branch first.`,
  );
}

async function askGitHub(request: () => Promise<unknown>, notFound: string): Promise<void> {
  try {
    await request();
  } catch (error) {
    // 409 is GitHub's answer for refs of an empty repository: no branch to start from either.
    const status = (error as { status?: number }).status;
    if (status === 404 || status === 409) throw new AppError("NOT_FOUND", notFound);
    throw unexpectedAnswer(error, "confirm your access to the repository");
  }
}

function unexpectedAnswer(error: unknown, doing: string): AppError {
  const status = (error as { status?: number }).status;
  if (status === 401)
    return new AppError(
      "UNAUTHORIZED",
      "GitHub no longer accepts your sign-in. Sign out and in again.",
    );
  if (status === 403)
    return new AppError(
      "FORBIDDEN",
      `GitHub refused to ${doing} (403: your organisation may require SSO authorisation, or the rate limit is used up). Authorise the app for the organisation on GitHub, or try again later.`,
    );
  return new AppError(
    "SERVICE_UNAVAILABLE",
    `GitHub did not ${doing} (${status ?? "no answer"}). Try again in a moment.`,
  );
}
