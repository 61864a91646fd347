import { rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { GitHubSettings } from "../env.ts";
import { startGitHubStandIn, type GitHubStandIn } from "../github-stand-in/server.ts";
import { createLogger } from "../logger.ts";
import { standInTestPassword } from "../github-stand-in/test-helpers.ts";

// The GitHub that test contexts talk to: one stand-in per test process, started on first use,
// so creating a workspace really asks GitHub whether the user can read the repository.

let shared: Promise<GitHubStandIn> | undefined;

export function sharedGitHubStandIn(): Promise<GitHubStandIn> {
  shared ??= startSharedStandIn();
  return shared;
}

async function startSharedStandIn(): Promise<GitHubStandIn> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-test-github-"));
  // The process ends with the test file; its folder goes with it.
  process.once("exit", () => rmSync(dataDir, { recursive: true, force: true }));
  return startGitHubStandIn({
    dataDir,
    logger: createLogger({ level: "silent", service: "github-stand-in" }),
  });
}

/** The stand-in as the control plane's GitHub settings. */
export const standInSettings = (standIn: GitHubStandIn): GitHubSettings => ({
  webUrl: standIn.url,
  apiUrl: standIn.apiUrl,
  clientId: standIn.clientId,
  clientSecret: standIn.clientSecret,
});

/**
 * What a sign-in gets from GitHub for `login`: an access token (through the stand-in's OAuth
 * flow, without PKCE) and the account's numeric id.
 */
export async function issueGitHubToken(
  github: GitHubSettings,
  login: string,
): Promise<{ accessToken: string; githubId: number }> {
  const redirectUri = "http://127.0.0.1:9/auth/github/callback";
  const form = new URLSearchParams({
    client_id: github.clientId,
    redirect_uri: redirectUri,
    login,
    password: standInTestPassword,
  });
  const granted = await fetch(`${github.webUrl}/login/oauth/authorize`, {
    method: "POST",
    body: form,
    redirect: "manual",
  });
  const code = new URL(granted.headers.get("location") ?? redirectUri).searchParams.get("code");
  if (!code) throw new Error(`the GitHub stand-in at ${github.webUrl} did not sign ${login} in`);
  const exchanged = await fetch(`${github.webUrl}/login/oauth/access_token`, {
    method: "POST",
    headers: { accept: "application/json" },
    body: new URLSearchParams({
      client_id: github.clientId,
      client_secret: github.clientSecret,
      code,
    }),
  });
  const { access_token: accessToken } = (await exchanged.json()) as { access_token: string };
  const user = await fetch(`${github.apiUrl}/user`, {
    headers: { authorization: `token ${accessToken}` },
  });
  return { accessToken, githubId: ((await user.json()) as { id: number }).id };
}
