import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminBindings } from "../../db/schema.ts";
import { dataOf, startSignInHarness, type SignInHarness } from "../testing/test-sign-in.ts";

// ADMIN_GITHUB_LOGINS names logins, and GitHub logins can be renamed and then registered by
// someone else. The attack: the listed admin renames, a stranger takes the freed login and
// signs in. Played over real HTTP with renames in the GitHub stand-in.

let harness: SignInHarness;
beforeAll(async () => {
  harness = await startSignInHarness({ ADMIN_GITHUB_LOGINS: ["boss", "legacy"] });
  // The install's first user is an admin anyway; take that seat so it proves nothing here.
  await harness.signIn("founder");
});
afterAll(() => harness?.close());

async function me(login: string) {
  const cookie = await harness.signIn(login);
  return dataOf<{ user: { login: string; role: string } }>(
    (await harness.query("auth.me", { cookie })).body,
  ).user;
}

describe("ADMIN_GITHUB_LOGINS", () => {
  it("binds a listed login to the GitHub account that first signs in with it", async () => {
    expect(await me("boss")).toMatchObject({ login: "boss", role: "admin" });
    const [binding] = await harness.database.db
      .select()
      .from(adminBindings)
      .where(eq(adminBindings.login, "boss"));
    expect(binding?.githubId).toBeGreaterThan(0);
  });

  it("keeps admin for the bound account after it renames itself", async () => {
    await harness.standIn.renameUser("boss", "boss-emeritus");
    expect(await me("boss-emeritus")).toMatchObject({ login: "boss-emeritus", role: "admin" });
  });

  it("makes a different account that took the listed login a member, with a warning", async () => {
    // The stand-in gives the now free login "boss" to a new account with a new id.
    expect(await me("boss")).toMatchObject({ login: "boss", role: "member" });
    const warning = harness.logLines.find((line) => line.includes("bound to another GitHub"));
    expect(warning).toBeDefined();
    expect(JSON.parse(warning!)).toMatchObject({ level: "warn", login: "boss" });
    // Signing in again changes nothing: the login stays bound to the first account.
    expect(await me("boss")).toMatchObject({ role: "member" });
  });

  it("binds a listed admin of an install from before the bindings, not a newcomer with the login", async () => {
    expect(await me("legacy")).toMatchObject({ role: "admin" });
    // As before migration 0004: no binding yet. Then the admin renames on GitHub (we have not
    // seen them since) and a stranger registers the freed login and signs in first.
    await harness.database.db.delete(adminBindings).where(eq(adminBindings.login, "legacy"));
    await harness.standIn.renameUser("legacy", "legacy-renamed");
    expect(await me("legacy")).toMatchObject({ login: "legacy", role: "member" });
    expect(await me("legacy-renamed")).toMatchObject({ role: "admin" });
  });

  it("lets no unlisted login become admin", async () => {
    expect(await me("bystander")).toMatchObject({ role: "member" });
  });
});
