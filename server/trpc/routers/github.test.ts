import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleRepository } from "../../github-stand-in/seed.ts";
import { signIn, startTestStandIn, type TestStandIn } from "../../github-stand-in/test-helpers.ts";
import type { AppLoadContextValue } from "../../http/load-context.ts";
import { upsertGitHubUser } from "../../services/users.ts";
import { createTestLoadContext } from "../../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../../testing/test-database.ts";
import { callerFor } from "../../testing/test-users.ts";

let database: TestDatabase;
let stand: TestStandIn;
let context: AppLoadContextValue;

beforeAll(async () => {
  [database, stand] = await Promise.all([createTestDatabase(), startTestStandIn()]);
  const base = await createTestLoadContext(database);
  context = { ...base, github: { ...base.github, apiUrl: stand.standIn.apiUrl } };
});
afterAll(async () => {
  await stand?.stop();
  await database?.drop();
});

async function userWithToken(login: string, accessToken: string) {
  const user = await upsertGitHubUser(context.db, context.keyring, {
    profile: { id: login.length * 1000 + 7, login, name: null, email: null, avatarUrl: null },
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

  it("asks to sign in again when GitHub refuses the stored token", async () => {
    const user = await userWithToken("bob", "gho_revoked");
    await expect(callerFor(context, user).github.repos()).rejects.toMatchObject({
      code: "UNAUTHORIZED",
      message: expect.stringContaining("Sign out and in again"),
    });
  });
});
