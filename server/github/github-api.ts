import { Octokit } from "@octokit/core";
import { z } from "zod";
import type { GitHubSettings } from "../env.ts";
import { AppError, type AppErrorCode } from "../errors.ts";
import type { OutboundRequestObserver } from "../process/outbound-requests.ts";
import { handleRateLimits, type GitHubRateLimitOptions } from "./github-rate-limit.ts";

// The one place that turns GitHub's HTTP answers into our AppError, and the one call of
// `GET /repos/{owner}/{repo}` (the create check and the git credential's owner permission).
// Each caller says what each status means for what it was doing, so the message says what
// went wrong and how to fix it; every other answer is a "try again" 503.

/** The HTTP status of a failed Octokit request; undefined when GitHub never answered. */
export function statusOf(error: unknown): number | undefined {
  const failure = error as { status?: unknown; request?: unknown; response?: unknown } | null;
  // Octokit reports a request that got no answer (refused, reset, DNS) as a 500 without a
  // response: say "no answer" rather than blame GitHub for an error it never sent.
  if (failure?.request !== undefined && failure.response === undefined) return undefined;
  return typeof failure?.status === "number" ? failure.status : undefined;
}

/** What to answer for a status: our error code and a message saying how to fix it. */
export type GitHubRefusal = readonly [code: AppErrorCode, message: string];

export type GitHubAnswers = {
  /** The refusals this caller knows how to explain, by GitHub's HTTP status. */
  statuses: Partial<Record<number, GitHubRefusal>>;
  /** Completes "… (<status>). Try again in a moment." for any other answer, or none. */
  otherwise: string;
};

/** GitHub's failure as our AppError (an AppError thrown along the way passes unchanged). */
export function toAppError(error: unknown, answers: GitHubAnswers): AppError {
  if (error instanceof AppError) return error;
  const status = statusOf(error);
  const refusal = status === undefined ? undefined : answers.statuses[status];
  if (refusal) return new AppError(refusal[0], refusal[1], { cause: error });
  return new AppError(
    "SERVICE_UNAVAILABLE",
    `${answers.otherwise} (${status ?? "no answer"}). Try again in a moment.`,
    { cause: error },
  );
}

/**
 * An Octokit for GITHUB_API_URL speaking as `token` (a user's, or the App's JWT), waiting out
 * short rate limits and refusing long ones with the time to try again (github-rate-limit.ts).
 */
export function githubClient(
  github: GitHubSettings,
  token: string,
  options: GitHubRateLimitOptions = {},
): Octokit {
  const octokit = new Octokit({
    baseUrl: github.apiUrl,
    auth: token,
    ...(options.signal ? { request: { signal: options.signal } } : {}),
  });
  if (github.observe) observeRequests(octokit, github.observe);
  handleRateLimits(octokit, options);
  return octokit;
}

/**
 * Reports each try's status to `observe` (metrics). Wrapped before the rate-limit handling,
 * so it sits inside it: a request waited out and sent again counts twice, as it was sent.
 */
function observeRequests(octokit: Octokit, observe: OutboundRequestObserver): void {
  octokit.hook.wrap("request", async (request, parameters) => {
    try {
      const response = await request(parameters);
      observe({ provider: "github", status: response.status });
      return response;
    } catch (error) {
      observe({ provider: "github", status: statusOf(error) });
      throw error;
    }
  });
}

/** `owner/name` as the owner and repo path parameters of GitHub's REST API. */
export function repositoryParams(repository: string): { owner: string; repo: string } {
  const [owner = "", repo = ""] = repository.split("/");
  return { owner, repo };
}

const repositorySchema = z.object({
  default_branch: z.string().optional(),
  permissions: z.object({ push: z.boolean(), pull: z.boolean() }).optional(),
});

export type RepositoryView = z.output<typeof repositorySchema>;

/** `GET /repos/{owner}/{repo}` as the client's token sees it (200: it may at least read). */
export async function readRepository(
  client: Octokit,
  repository: string,
  answers: GitHubAnswers,
): Promise<RepositoryView> {
  try {
    const answer = await client.request("GET /repos/{owner}/{repo}", repositoryParams(repository));
    return repositorySchema.parse(answer.data);
  } catch (error) {
    throw toAppError(error, answers);
  }
}
