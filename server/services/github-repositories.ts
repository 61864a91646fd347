import { Octokit } from "@octokit/core";
import { eq } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { users } from "../../db/schema.ts";
import { decryptSecret, type Keyring } from "../crypto/envelope.ts";
import { AppError } from "../errors.ts";
import type { Owner } from "./owner.ts";
import { githubTokenContext } from "./users.ts";

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
  apiUrl: string,
): Promise<GitHubRepository[]> {
  const [row] = await db
    .select({ token: users.githubTokenEncrypted })
    .from(users)
    .where(eq(users.id, owner.userId));
  if (!row?.token)
    throw new AppError("PRECONDITION_FAILED", "No GitHub token on file. Sign out and in again.");
  const token = await decryptSecret(keyring, row.token, githubTokenContext(owner.userId));
  const octokit = new Octokit({ baseUrl: apiUrl, auth: token });
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
    const status = (error as { status?: number }).status;
    if (status === 401)
      throw new AppError(
        "UNAUTHORIZED",
        "GitHub no longer accepts your sign-in. Sign out and in again.",
      );
    throw new AppError(
      "SERVICE_UNAVAILABLE",
      `GitHub did not list your repositories (${status ?? "no answer"}). Try again in a moment.`,
    );
  }
}
