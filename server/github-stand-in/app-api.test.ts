import { createPrivateKey } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAppJwt } from "../github/github-app.ts";
import { createRepository, sampleRepository } from "./seed.ts";
import {
  authorize,
  exchangeCode,
  generateAppKeyPair,
  getApi,
  runClientGit,
  startTestStandIn,
  type TestStandIn,
} from "./test-helpers.ts";

// The stand-in as a GitHub App: JWTs checked against the App's public key, installations per
// owner, installation tokens that reach only their repositories, expiring user tokens with
// single-use refresh tokens. Real git does the cloning and pushing.

let stand: TestStandIn;
let workDir: string;
let app: { id: string; privateKey: string };
beforeAll(async () => {
  stand = await startTestStandIn({ app: {} });
  app = { id: String(stand.standIn.app!.id), privateKey: stand.appPrivateKey! };
  await createRepository(
    path.join(stand.dataDir, "github", "repos"),
    { owner: "stand-in", name: "other" },
    { description: "Another repository", commitSubject: "Start the other project", private: true },
  );
  await createRepository(
    path.join(stand.dataDir, "github", "repos"),
    { owner: "stand-in", name: "open" },
    { description: "A public repository", commitSubject: "Open start" },
  );
  workDir = await mkdtemp(path.join(os.tmpdir(), "github-stand-in-app-"));
});
afterAll(async () => {
  await stand?.stop();
  await rm(workDir, { recursive: true, force: true });
});

const asApp = async (apiPath: string, init: RequestInit = {}, jwt?: string) =>
  fetch(`${stand.standIn.apiUrl}${apiPath}`, {
    ...init,
    headers: {
      authorization: `Bearer ${jwt ?? (await createAppJwt(app))}`,
      "content-type": "application/json",
    },
  });

async function mintToken(body: unknown): Promise<Response> {
  const installation = await asApp("/repos/stand-in/sample/installation");
  const { id } = (await installation.json()) as { id: number };
  return asApp(`/app/installations/${id}/access_tokens`, {
    method: "POST",
    body: JSON.stringify(body),
  });
}

const gitUrl = (repository: string, token: string) =>
  `${stand.standIn.url.replace("://", `://x-access-token:${token}@`)}/${repository}.git`;

describe("the App's JWT", () => {
  it("is required, must be signed by the App's key, and may last at most ten minutes", async () => {
    expect((await asApp("/app", {}, "not-a-jwt")).status).toBe(401);
    const stranger = { ...app, privateKey: generateAppKeyPair().privateKey };
    expect((await asApp("/app", {}, await createAppJwt(stranger))).status).toBe(401);
    const otherApp = await createAppJwt({ ...app, id: "999" });
    expect(await (await asApp("/app", {}, otherApp)).json()).toMatchObject({
      message: "Integration not found",
    });
    const long = await new SignJWT({})
      .setProtectedHeader({ alg: "RS256" })
      .setIssuer(app.id)
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(createPrivateKey(app.privateKey));
    const refused = await asApp("/app", {}, long);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ message: expect.stringContaining("too far") });
    const ok = await asApp("/app");
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ id: Number(app.id), slug: stand.standIn.app!.slug });
  });

  it("is no user token: the App endpoints refuse one, and the user API refuses the JWT", async () => {
    const code = await authorize(stand.standIn, { login: "jwt-user" });
    const { access_token } = await exchangeCode(stand.standIn, { code });
    expect((await asApp("/app", {}, access_token)).status).toBe(401);
    expect((await getApi(stand.standIn, "/user", await createAppJwt(app))).status).toBe(401);
  });
});

describe("installations", () => {
  it("finds the installation of an owner's repository; 404 where the App is not installed", async () => {
    const found = await asApp("/repos/stand-in/sample/installation");
    expect(found.status).toBe(200);
    expect(await found.json()).toMatchObject({
      app_id: Number(app.id),
      target_type: "Organization",
    });
    expect((await asApp("/repos/stand-in/missing/installation")).status).toBe(404);
    stand.standIn.switches.setAppInstalled("stand-in", false);
    expect((await asApp("/repos/stand-in/sample/installation")).status).toBe(404);
    stand.standIn.switches.setAppInstalled("stand-in", true);
  });
});

describe("installation access tokens", () => {
  it("reach only the listed repositories: clone A works, a private B is not found, a public C is read-only", async () => {
    const minted = await mintToken({
      repositories: ["sample"],
      permissions: { contents: "write" },
    });
    expect(minted.status).toBe(201);
    const { token, expires_at } = (await minted.json()) as { token: string; expires_at: string };
    expect(token).toMatch(/^ghs_/);
    expect(Date.parse(expires_at) - Date.now()).toBeLessThanOrEqual(3600_000);
    const clone = path.join(workDir, "a");
    await runClientGit(["clone", "--quiet", gitUrl("stand-in/sample", token), clone]);
    await writeFile(path.join(clone, "A.md"), "a\n");
    await runClientGit(["add", "A.md"], clone);
    await runClientGit(["-c", "commit.gpgsign=false", "commit", "-qm", "A"], clone);
    await runClientGit(["push", "--quiet", "origin", "main"], clone);
    // Another private repository is not even there for the token, as on GitHub.
    await expect(
      runClientGit(["clone", "--quiet", gitUrl("stand-in/other", token), path.join(workDir, "b")]),
    ).rejects.toThrow(/not found/i);
    await expect(
      runClientGit(["push", "--quiet", gitUrl("stand-in/other", token), "main"], clone),
    ).rejects.toThrow(/not found/i);
    // A public one it may read, like anyone, but never push to.
    await runClientGit([
      "clone",
      "--quiet",
      gitUrl("stand-in/open", token),
      path.join(workDir, "c"),
    ]);
    await expect(
      runClientGit(["push", "--quiet", gitUrl("stand-in/open", token), "main:x"], clone),
    ).rejects.toThrow(/denied to .*\[bot\]/);
  });

  it("with contents:read clone but never push", async () => {
    const minted = await mintToken({ repositories: ["sample"], permissions: { contents: "read" } });
    const { token } = (await minted.json()) as { token: string };
    const clone = path.join(workDir, "read");
    await runClientGit(["clone", "--quiet", gitUrl("stand-in/sample", token), clone]);
    await expect(runClientGit(["push", "--quiet", "origin", "main:other"], clone)).rejects.toThrow(
      /403/,
    );
  });

  it("refuses repositories outside the installation and permissions the App lacks with 422", async () => {
    expect((await mintToken({ repositories: ["missing"] })).status).toBe(422);
    expect((await mintToken({ permissions: { administration: "write" } })).status).toBe(422);
  });

  it("stop working once expired", async () => {
    const { token } = (await (await mintToken({ repositories: ["sample"] })).json()) as {
      token: string;
    };
    expect(stand.standIn.switches.describeInstallationToken(token)).toMatchObject({
      repositories: ["stand-in/sample"],
    });
    await stand.standIn.switches.expireAccessTokens();
    expect(stand.standIn.switches.describeInstallationToken(token)).toBeUndefined();
    await expect(
      runClientGit([
        "ls-remote",
        gitUrl(`${sampleRepository.owner}/${sampleRepository.name}`, token),
      ]),
    ).rejects.toThrow(/Authentication failed/);
  });
});

describe("user tokens of the App", () => {
  it("expire, and a refresh token works once, killing the access token issued with it", async () => {
    const code = await authorize(stand.standIn, { login: "refresher" });
    const first = (await exchangeCode(stand.standIn, { code })) as Record<string, unknown>;
    expect(first).toMatchObject({
      access_token: expect.stringMatching(/^ghu_/),
      expires_in: 28800,
      refresh_token: expect.stringMatching(/^ghr_/),
      refresh_token_expires_in: expect.any(Number),
      token_type: "bearer",
    });
    const refresh = (refreshToken: unknown) =>
      exchangeCode(stand.standIn, {
        grant_type: "refresh_token",
        refresh_token: String(refreshToken),
      });
    const second = (await refresh(first.refresh_token)) as Record<string, unknown>;
    expect(second.access_token).toMatch(/^ghu_/);
    expect((await getApi(stand.standIn, "/user", String(first.access_token))).status).toBe(401);
    expect((await getApi(stand.standIn, "/user", String(second.access_token))).status).toBe(200);
    expect(await refresh(first.refresh_token)).toMatchObject({ error: "bad_refresh_token" });
    await stand.standIn.switches.expireAccessTokens();
    expect((await getApi(stand.standIn, "/user", String(second.access_token))).status).toBe(401);
    const third = (await refresh(second.refresh_token)) as Record<string, unknown>;
    expect((await getApi(stand.standIn, "/user", String(third.access_token))).status).toBe(200);
  });
});
