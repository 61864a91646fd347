import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { users } from "../../db/schema.ts";
import { decryptSecret, type Keyring } from "../crypto/envelope.ts";
import type { GitHubSettings } from "../env.ts";
import { createRepository } from "../github-stand-in/seed.ts";
import {
  exchangeCode,
  runClientGit,
  startTestStandIn,
  type TestStandIn,
} from "../github-stand-in/test-helpers.ts";
import { readVersion } from "../process/version.ts";
import { githubTokenContext } from "../services/users.ts";
import { askCredential, bootstrapAgent } from "../testing/agent-kit.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { signInOverHttp } from "../testing/test-sign-in.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { startTestWebServer, type TestWebServer } from "../testing/test-web-server.ts";

// The recommended setup, a GitHub App, end to end over our real web server and the stand-in
// playing the App: sign-in with expiring user tokens, refresh before use (once, even when
// asked at the same time), and git credentials that are installation tokens for the
// workspace's one repository, tried with real git.

let database: TestDatabase;
let stand: TestStandIn;
let web: TestWebServer;
let keyring: Keyring;
let workDir: string;
let session: string;
let userId: string;

beforeAll(async () => {
  database = await createTestDatabase();
  stand = await startTestStandIn({ app: {} });
  await createRepository(
    path.join(stand.dataDir, "github", "repos"),
    { owner: "stand-in", name: "other" },
    { description: "Another project", commitSubject: "Other" },
  );
  await createRepository(
    path.join(stand.dataDir, "github", "repos"),
    { owner: "stand-in", name: "secret" },
    { description: "Private", commitSubject: "Secret", private: true },
  );
  workDir = await mkdtemp(path.join(os.tmpdir(), "caw-app-mode-"));
  const context = await createTestLoadContext(database, {}, { GITHUB_URL: stand.standIn.url });
  keyring = context.keyring;
  const github: GitHubSettings = {
    webUrl: stand.standIn.url,
    apiUrl: stand.standIn.apiUrl,
    clientId: stand.standIn.clientId,
    clientSecret: stand.standIn.clientSecret,
    app: { id: String(stand.standIn.app!.id), privateKey: stand.appPrivateKey! },
  };
  web = await startTestWebServer({
    ...context,
    env: { ...context.env, PUBLIC_URL: "http://127.0.0.1" },
    github,
    version: await readVersion(),
  });
  session = await signIn("app-user");
  [{ id: userId }] = (await database.db
    .select({ id: users.id })
    .from(users)
    .where(eq(users.login, "app-user"))) as [{ id: string }];
});
afterAll(async () => {
  await web?.close();
  await stand?.stop();
  await database?.drop();
  await rm(workDir, { recursive: true, force: true });
});

const signIn = (login: string) => signInOverHttp(web.baseUrl, login);

const readRow = async () =>
  (await database.db.select().from(users).where(eq(users.id, userId)))[0]!;

const readTokens = async () => {
  const row = await readRow();
  return {
    row,
    access: await decryptSecret(keyring, row.githubTokenEncrypted!, githubTokenContext(userId)),
    refresh: await decryptSecret(
      keyring,
      row.githubRefreshTokenEncrypted!,
      `users.github_refresh_token:${userId}`,
    ),
  };
};

const listRepositories = () =>
  fetch(`${web.baseUrl}/api/trpc/github.repos`, { headers: { cookie: session } });

const expireSoon = () =>
  database.db.execute(
    sql`update users set github_token_expires_at = now() + interval '1 minute' where id = ${userId}`,
  );

describe("sign-in with the App's user flow", () => {
  it("stores the expiring user token and its refresh token, both encrypted, with their expiry", async () => {
    const { row, access, refresh } = await readTokens();
    expect(access).toMatch(/^ghu_/);
    expect(refresh).toMatch(/^ghr_/);
    expect(row.githubTokenEncrypted).not.toContain("ghu_");
    expect(row.githubRefreshTokenEncrypted).not.toContain("ghr_");
    const hours = (row.githubTokenExpiresAt!.getTime() - Date.now()) / 3600_000;
    expect(hours).toBeGreaterThan(7.9);
    expect(hours).toBeLessThanOrEqual(8);
    expect(row.githubRefreshTokenExpiresAt!.getTime()).toBeGreaterThan(
      Date.now() + 100 * 86400_000,
    );
  });
});

describe("a user token about to expire", () => {
  it("is refreshed once before use, even by requests at the same time", async () => {
    const before = await readTokens();
    await expireSoon();
    await stand.standIn.switches.expireAccessTokens(); // GitHub would refuse the old one now
    const answers = await Promise.all([listRepositories(), listRepositories(), listRepositories()]);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(await answers[0]!.text()).toContain("stand-in/sample");
    const after = await readTokens();
    expect(after.access).not.toBe(before.access);
    expect(after.refresh).not.toBe(before.refresh);
    expect(after.row.githubTokenExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 7 * 3600_000);
    // The old refresh token was spent: GitHub no longer takes it.
    const reuse = await exchangeCode(stand.standIn, {
      grant_type: "refresh_token",
      refresh_token: before.refresh,
    });
    expect(reuse).toMatchObject({ error: "bad_refresh_token" });
  });

  it("asks for a new sign-in when the refresh token is gone too", async () => {
    await expireSoon();
    await database.db.execute(
      sql`update users set github_refresh_token_expires_at = now() - interval '1 second' where id = ${userId}`,
    );
    const answer = await listRepositories();
    expect(answer.status).toBe(401);
    expect(await answer.text()).toContain("Sign out and in again");
    session = await signIn("app-user");
  });
});

describe("git credentials from the App", () => {
  const ask = (agentToken: string, repository: string) =>
    askCredential(web.baseUrl, agentToken, {
      protocol: "http",
      host: new URL(stand.standIn.url).host,
      path: `${repository}.git`,
    });
  const gitUrl = (repository: string, token: string) =>
    `${stand.standIn.url.replace("://", `://x-access-token:${token}@`)}/${repository}.git`;

  it("are an installation token for the workspace's repository only, for at most an hour", async () => {
    const agent = await bootstrapAgent(database.db, web.baseUrl, userId, "stand-in/sample");
    const answer = await ask(agent.agentToken, "stand-in/sample");
    expect(answer.status).toBe(200);
    const credential = (await answer.json()) as {
      username: string;
      password: string;
      expiresAt: string;
    };
    expect(credential.username).toBe("x-access-token");
    expect(credential.password).toMatch(/^ghs_/);
    expect(credential.password).not.toBe((await readTokens()).access);
    const described = stand.standIn.switches.describeInstallationToken(credential.password)!;
    expect(described).toMatchObject({ repositories: ["stand-in/sample"], contents: "write" });
    expect(described.expiresAt - Date.now()).toBeLessThanOrEqual(3600_000);
    expect(Date.parse(credential.expiresAt)).toBeLessThanOrEqual(Date.now() + 3600_000);

    const clone = path.join(workDir, "sample");
    await runClientGit(["clone", "--quiet", gitUrl("stand-in/sample", credential.password), clone]);
    await writeFile(path.join(clone, "FROM-APP.md"), "pushed with an installation token\n");
    await runClientGit(["add", "FROM-APP.md"], clone);
    await runClientGit(["-c", "commit.gpgsign=false", "commit", "-qm", "App push"], clone);
    await runClientGit(["push", "--quiet", "origin", "main:app-push"], clone);
    // The attack: the same token against other repositories. A private one is not there for
    // it; a public one it may read, like anyone, but never push to.
    await expect(
      runClientGit([
        "clone",
        "--quiet",
        gitUrl("stand-in/secret", credential.password),
        path.join(workDir, "secret"),
      ]),
    ).rejects.toThrow(/not found/i);
    await expect(
      runClientGit(
        ["push", "--quiet", gitUrl("stand-in/other", credential.password), "main:x"],
        clone,
      ),
    ).rejects.toThrow(/denied to .*\[bot\]/);
  });

  it("never give more than the owner may do: a reader gets a read-only token", async () => {
    stand.standIn.switches.setReadOnly("app-user", "stand-in/sample", true);
    try {
      const agent = await bootstrapAgent(database.db, web.baseUrl, userId, "stand-in/sample");
      const { password } = (await (await ask(agent.agentToken, "stand-in/sample")).json()) as {
        password: string;
      };
      expect(stand.standIn.switches.describeInstallationToken(password)).toMatchObject({
        contents: "read",
      });
      const clone = path.join(workDir, "reader");
      await runClientGit(["clone", "--quiet", gitUrl("stand-in/sample", password), clone]);
      await expect(runClientGit(["push", "--quiet", "origin", "main:r"], clone)).rejects.toThrow(
        /403/,
      );
    } finally {
      stand.standIn.switches.setReadOnly("app-user", "stand-in/sample", false);
    }
  });

  it("are minted once for git operations in a row, and afresh once GitHub stops taking them", async () => {
    const mints = () => stand.logs().split("minted an installation token").length - 1;
    const agent = await bootstrapAgent(database.db, web.baseUrl, userId, "stand-in/other");
    const gitOperation = async () => {
      const { password } = (await (await ask(agent.agentToken, "stand-in/other")).json()) as {
        password: string;
      };
      await runClientGit(["ls-remote", gitUrl("stand-in/other", password)]);
      return password;
    };
    const before = mints();
    const first = await gitOperation();
    expect(await gitOperation()).toBe(first);
    expect(mints()).toBe(before + 1);
    await expireSoon(); // the owner's token is refreshed, as it must be after the switch
    await stand.standIn.switches.expireAccessTokens();
    const fresh = await gitOperation();
    expect(fresh).not.toBe(first);
    expect(mints()).toBe(before + 2);
  });

  it("say how to install the App when it is not installed on the repository", async () => {
    stand.standIn.switches.setAppInstalled("stand-in", false);
    try {
      const agent = await bootstrapAgent(database.db, web.baseUrl, userId, "stand-in/sample");
      const answer = await ask(agent.agentToken, "stand-in/sample");
      expect(answer.status).toBe(412);
      const { detail } = (await answer.json()) as { detail: string };
      expect(detail).toContain("not installed on stand-in/sample");
      expect(detail).toContain(
        `${stand.standIn.url}/apps/${stand.standIn.app!.slug}/installations/new`,
      );
    } finally {
      stand.standIn.switches.setAppInstalled("stand-in", true);
    }
  });
});
