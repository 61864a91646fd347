import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleRepository, createRepositories } from "../../github-stand-in/seed.ts";
import {
  authorize,
  exchangeCode,
  signIn,
  startTestStandIn,
  type TestStandIn,
} from "../../github-stand-in/test-helpers.ts";
import { githubClient } from "../../github/github-api.ts";
import { listAllPages } from "../../github/github-paging.ts";
import type { AppLoadContextValue } from "../../http/load-context.ts";
import { saveGitHubTokens } from "../../services/github-tokens.ts";
import { upsertGitHubUser } from "../../services/users.ts";
import { createTestLoadContext } from "../../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../../testing/test-database.ts";
import { callerFor } from "../../testing/test-users.ts";

// github.repos, the create form's repository picker, against the GitHub stand-in: every page
// (more than 100 repositories), most recently pushed first; GitHub's rate limit as a clear
// "try again then"; a user token GitHub refused early renewed once with its refresh token.

let database: TestDatabase;
let stand: TestStandIn;
let appStand: TestStandIn;
let context: AppLoadContextValue;
let appContext: AppLoadContextValue;
const many = 230;

beforeAll(async () => {
  [database, stand, appStand] = await Promise.all([
    createTestDatabase(),
    startTestStandIn(),
    startTestStandIn({ app: {} }),
  ]);
  const base = await createTestLoadContext(database);
  context = { ...base, github: { ...base.github, apiUrl: stand.standIn.apiUrl } };
  appContext = {
    ...base,
    github: {
      webUrl: appStand.standIn.url,
      apiUrl: appStand.standIn.apiUrl,
      clientId: appStand.standIn.clientId,
      clientSecret: appStand.standIn.clientSecret,
    },
  };
  await createRepositories(
    stand.standIn.reposDir,
    "carol",
    Array.from({ length: many }, (_, index) => ({
      name: `project-${index}`,
      description: `Project ${index}`,
      // project-0 was pushed last: the picker must start with it.
      pushedAt: new Date(Date.UTC(2025, 0, 1) - index * 3600_000),
    })),
  );
}, 180_000);
afterAll(async () => {
  await Promise.all([stand?.stop(), appStand?.stop()]);
  await database?.drop();
});

let nextId = 7;
async function userWithToken(login: string, accessToken: string, ctx = context) {
  const user = await upsertGitHubUser(ctx.db, ctx.keyring, {
    profile: { id: (nextId += 1000), login, name: null, email: null, avatarUrl: null },
    accessToken,
    adminLogins: [],
  });
  return { ...user, githubTokenEncrypted: undefined };
}

describe("github.repos", () => {
  it("lists the user's repositories through GitHub's API, with their default branch", async () => {
    const user = await userWithToken("alice", await signIn(stand.standIn, "alice"));
    const repos = await callerFor(context, user).github.repos();
    expect(repos).toContainEqual(
      expect.objectContaining({
        fullName: `${sampleRepository.owner}/${sampleRepository.name}`,
        defaultBranch: "main",
        private: false,
      }),
    );
  });

  it("reads every page of more than 100 repositories, most recently pushed first", async () => {
    const user = await userWithToken("carol", await signIn(stand.standIn, "carol"));
    const repos = await callerFor(context, user).github.repos();
    const own = repos.filter((repo) => repo.fullName.startsWith("carol/"));
    expect(own).toHaveLength(many);
    expect(own.slice(0, 3).map((repo) => repo.fullName)).toEqual([
      "carol/project-0",
      "carol/project-1",
      "carol/project-2",
    ]);
    expect(own.at(-1)?.fullName).toBe(`carol/project-${many - 1}`);
    const pushed = repos.map((repo) => Date.parse(repo.pushedAt!));
    expect(pushed).toEqual([...pushed].sort((a, b) => b - a));
  });

  it("stops after the page cap and says so", async () => {
    const token = await signIn(stand.standIn, "carol");
    const client = githubClient(context.github, token);
    const listed = await listAllPages(client, "GET /user/repos", { per_page: 100 }, 2);
    expect(listed).toMatchObject({ truncated: true });
    expect(listed.items).toHaveLength(200);
    const all = await listAllPages(client, "GET /user/repos", { per_page: 100 }, 3);
    expect(all.truncated).toBe(false);
  });

  it("asks to sign in again when GitHub refuses the stored token", async () => {
    const user = await userWithToken("bob", "gho_revoked");
    await expect(callerFor(context, user).github.repos()).rejects.toMatchObject({
      code: "UNAUTHORIZED",
      message: expect.stringContaining("Sign out and in again"),
    });
  });

  it("says when to try again once GitHub's rate limit is used up", async () => {
    const user = await userWithToken("dave", await signIn(stand.standIn, "dave"));
    stand.standIn.switches.setRateLimitBudget("dave", { remaining: 0, resetInSeconds: 1800 });
    await expect(callerFor(context, user).github.repos()).rejects.toMatchObject({
      code: "TOO_MANY_REQUESTS",
      message: expect.stringContaining("resets in 30 min. Try again then."),
    });
  });
});

describe("github.repos with a GitHub App's expiring user token", () => {
  async function appUser(login: string) {
    const code = await authorize(appStand.standIn, { login });
    const tokens = await exchangeCode(appStand.standIn, { code });
    const user = await userWithToken(login, tokens.access_token!, appContext);
    await saveGitHubTokens(appContext.db, appContext.keyring, user.id, {
      accessToken: tokens.access_token!,
      expiresAt: new Date(Date.now() + 8 * 3600_000),
      refreshToken: tokens.refresh_token!,
      refreshTokenExpiresAt: new Date(Date.now() + 180 * 86400_000),
    });
    return user;
  }

  it("renews a token GitHub refused before its recorded expiry, once, and lists", async () => {
    const user = await appUser("erin");
    // GitHub ends the token early (revoked, clocks apart): our record still says 8 hours.
    await appStand.standIn.switches.expireAccessTokens();
    const repos = await callerFor(appContext, user).github.repos();
    expect(repos.map((repo) => repo.fullName)).toContain("stand-in/sample");
    expect(await callerFor(appContext, user).github.repos()).toHaveLength(repos.length);
  });

  it("asks to sign in again when the refresh token is refused as well", async () => {
    const user = await appUser("frank");
    await appStand.standIn.switches.expireAccessTokens();
    await saveGitHubTokens(appContext.db, appContext.keyring, user.id, {
      accessToken: "ghu_dead",
      expiresAt: new Date(Date.now() + 8 * 3600_000),
      refreshToken: "ghr_spent",
      refreshTokenExpiresAt: new Date(Date.now() + 180 * 86400_000),
    });
    await expect(callerFor(appContext, user).github.repos()).rejects.toMatchObject({
      code: "UNAUTHORIZED",
      message: expect.stringContaining("Sign out and in again"),
    });
  });
});
