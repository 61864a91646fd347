import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workspaces, type WorkspaceState } from "../../db/schema.ts";
import type { GitHubSettings } from "../env.ts";
import { startTestStandIn, type TestStandIn } from "../github-stand-in/test-helpers.ts";
import { readVersion } from "../process/version.ts";
import { askCredential, bootstrapAgent } from "../testing/agent-kit.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createTestUser } from "../testing/test-users.ts";
import { startTestWebServer, type TestWebServer } from "../testing/test-web-server.ts";

// GET /api/agent/git-credential over our real web server, as an OAuth app install: the
// credential is only for the workspace's own repository on GITHUB_URL, only while it is live.
// (The GitHub App mode is in github-app-mode.test.ts.)

let database: TestDatabase;
let web: TestWebServer;
let stand: TestStandIn;
let github: GitHubSettings;
let dataDir: string;
let userId: string;

beforeAll(async () => {
  database = await createTestDatabase();
  stand = await startTestStandIn();
  dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-git-credential-"));
  const context = await createTestLoadContext(database, {}, { GITHUB_URL: stand.standIn.url });
  github = { ...context.github, webUrl: stand.standIn.url, apiUrl: stand.standIn.apiUrl };
  web = await startTestWebServer({ ...context, github, version: await readVersion() });
  userId = (await createTestUser(context, "owner")).id;
});
afterAll(async () => {
  await web?.close();
  await stand?.stop();
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe("git credentials for an OAuth app install", () => {
  it("answers for the workspace's own repository, case-insensitively, with or without .git", async () => {
    const agent = await bootstrapAgent(database.db, web.baseUrl, userId, "stand-in/sample");
    const host = new URL(stand.standIn.url).host;
    for (const repoPath of ["stand-in/sample.git", "Stand-In/Sample", "/stand-in/sample.git/"]) {
      const response = await askCredential(web.baseUrl, agent.agentToken, {
        protocol: "http",
        host,
        path: repoPath,
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        protocol: "http",
        host,
        username: "owner",
        password: expect.stringMatching(/^gho_/),
        expiresAt: null,
      });
    }
  });

  it("refuses every other protocol, host, port or repository with a 403 problem", async () => {
    const agent = await bootstrapAgent(database.db, web.baseUrl, userId, "stand-in/sample");
    const own = new URL(stand.standIn.url);
    const attempts = [
      { protocol: "https", host: own.host, path: "stand-in/sample.git" },
      { protocol: "http", host: `${own.hostname}:9`, path: "stand-in/sample.git" },
      { protocol: "http", host: "evil.example", path: "stand-in/sample.git" },
      { protocol: "http", host: own.host, path: "stand-in/other.git" },
      { protocol: "http", host: own.host, path: "stand-in/sample.git/../other" },
    ];
    for (const asked of attempts) {
      const response = await askCredential(web.baseUrl, agent.agentToken, asked);
      expect(response.status, JSON.stringify(asked)).toBe(403);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      const problem = (await response.json()) as { detail: string };
      expect(problem.detail).toContain("only for this workspace's repository");
      expect(JSON.stringify(problem)).not.toContain("gho_");
    }
    const incomplete = await askCredential(web.baseUrl, agent.agentToken, { protocol: "http" });
    expect(incomplete.status).toBe(400);
  });

  it.each<WorkspaceState>(["stopping", "stopped", "deleting", "error"])(
    "refuses a %s workspace",
    async (state) => {
      const agent = await bootstrapAgent(database.db, web.baseUrl, userId, "stand-in/sample");
      await database.db.update(workspaces).set({ state }).where(eq(workspaces.id, agent.id));
      const response = await askCredential(web.baseUrl, agent.agentToken, {
        protocol: "http",
        host: new URL(stand.standIn.url).host,
        path: "stand-in/sample.git",
      });
      expect(response.status).toBe(403);
      expect(((await response.json()) as { detail: string }).detail).toContain(
        `The workspace is ${state}`,
      );
    },
  );
});
