import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runGit } from "./run-git.ts";
import { createRepository, sampleRepository } from "./seed.ts";
import { getApi, signIn, startTestStandIn, type TestStandIn } from "./test-helpers.ts";

let stand: TestStandIn;
let token: string;
beforeAll(async () => {
  stand = await startTestStandIn();
  token = await signIn(stand.standIn, "octo-cat");
});
afterAll(() => stand.stop());

const badCredentials = {
  message: "Bad credentials",
  documentation_url: "https://docs.github.com/rest",
};

describe("the signed-in user", () => {
  it("GET /user describes the user behind the token", async () => {
    const response = await getApi(stand.standIn, "/user", token);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-oauth-scopes")).toBe("read:user, user:email");
    expect(await response.json()).toEqual({
      login: "octo-cat",
      id: 1001,
      node_id: expect.any(String),
      avatar_url: `${stand.standIn.url}/avatars/octo-cat.png`,
      name: "Octo-cat",
      email: null,
      type: "User",
      html_url: `${stand.standIn.url}/octo-cat`,
    });
    const avatar = await fetch(`${stand.standIn.url}/avatars/octo-cat.png`);
    expect(avatar.headers.get("content-type")).toBe("image/png");
  });

  it("accepts the token as a Bearer token too, and numbers the next user 1002", async () => {
    const second = await signIn(stand.standIn, "Second");
    const response = await fetch(`${stand.standIn.apiUrl}/user`, {
      headers: { authorization: `Bearer ${second}` },
    });
    expect(await response.json()).toMatchObject({ login: "Second", id: 1002 });
  });

  it("GET /user/emails gives one private noreply address", async () => {
    const response = await getApi(stand.standIn, "/user/emails", token);
    expect(await response.json()).toEqual([
      {
        email: "octo-cat@users.noreply.stand-in.invalid",
        primary: true,
        verified: true,
        visibility: "private",
      },
    ]);
  });

  it.each(["/user", "/user/emails", "/user/repos"])(
    "GET %s without a valid token is 401 Bad credentials",
    async (apiPath) => {
      for (const attempt of [undefined, "gho_notatoken"]) {
        const response = await getApi(stand.standIn, apiPath, attempt);
        expect(response.status).toBe(401);
        expect(response.headers.get("content-type")).toContain("application/json");
        expect(await response.json()).toEqual(badCredentials);
      }
    },
  );
});

describe("repositories", () => {
  it("GET /user/repos lists the sample repository", async () => {
    const response = await getApi(stand.standIn, "/user/repos", token);
    const repos = (await response.json()) as Record<string, unknown>[];
    expect(response.headers.get("link")).toBeNull();
    expect(repos).toEqual([
      {
        id: expect.any(Number),
        node_id: expect.any(String),
        name: "sample",
        full_name: "stand-in/sample",
        private: false,
        visibility: "public",
        owner: { login: "stand-in", id: expect.any(Number), type: "Organization" },
        html_url: `${stand.standIn.url}/stand-in/sample`,
        description: expect.any(String),
        default_branch: "main",
        clone_url: `${stand.standIn.url}/stand-in/sample.git`,
        updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        pushed_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        permissions: { admin: false, maintain: false, push: true, triage: true, pull: true },
      },
    ]);
  });

  it("pages with per_page and a Link header", async () => {
    const second = path.join(stand.dataDir, "github", "repos", "octo-cat", "project.git");
    await runGit(["init", "--quiet", "--bare", "--initial-branch=trunk", second]);
    const first = await getApi(stand.standIn, "/user/repos?per_page=1", token);
    expect(((await first.json()) as { full_name: string }[]).map((repo) => repo.full_name)).toEqual(
      ["octo-cat/project"],
    );
    const link = first.headers.get("link") ?? "";
    expect(link).toContain(`<${stand.standIn.apiUrl}/user/repos?per_page=1&page=2>; rel="next"`);
    expect(link).toContain('page=2>; rel="last"');

    const last = await getApi(stand.standIn, "/user/repos?per_page=1&page=2", token);
    const repos = (await last.json()) as { full_name: string; owner: { type: string } }[];
    expect(repos.map((repo) => repo.full_name)).toEqual(["stand-in/sample"]);
    expect(last.headers.get("link")).toContain('rel="prev"');
    expect(last.headers.get("link")).not.toContain('rel="next"');

    const single = await getApi(stand.standIn, "/repos/octo-cat/project", token);
    expect(await single.json()).toMatchObject({
      default_branch: "trunk",
      description: null,
      owner: { login: "octo-cat", id: 1001, type: "User" },
    });
  });

  it("GET /repos/{owner}/{repo}/branches lists branches with their commits", async () => {
    const { owner, name } = sampleRepository;
    const response = await getApi(stand.standIn, `/repos/${owner}/${name}/branches`, token);
    expect(await response.json()).toEqual([
      {
        name: "main",
        commit: { sha: expect.stringMatching(/^[0-9a-f]{40}$/), url: expect.any(String) },
        protected: false,
      },
    ]);
  });

  it.each([
    "/repos/nobody/nothing/branches",
    "/repos/stand-in/..%2Fstand-in%2Fsample/branches",
    "/nothing/here",
  ])("GET %s is 404 Not Found", async (apiPath) => {
    const response = await getApi(stand.standIn, apiPath, token);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      message: "Not Found",
      documentation_url: "https://docs.github.com/rest",
    });
  });
});

describe("a private repository", () => {
  it("is seen, listed and cloned by its owner only; everyone else gets GitHub's 404", async () => {
    await createRepository(
      stand.standIn.reposDir,
      { owner: "keeper", name: "vault" },
      { description: "Private", commitSubject: "Sealed", private: true },
    );
    const keeper = await signIn(stand.standIn, "keeper");
    const stranger = await signIn(stand.standIn, "stranger");
    const own = await getApi(stand.standIn, "/repos/keeper/vault", keeper);
    expect(own.status).toBe(200);
    expect(await own.json()).toMatchObject({ private: true, visibility: "private" });
    for (const path of ["/repos/keeper/vault", "/repos/keeper/vault/git/ref/heads%2Fmain"])
      expect((await getApi(stand.standIn, path, stranger)).status, path).toBe(404);
    const listed = async (as: string) =>
      (
        (await (await getApi(stand.standIn, "/user/repos", as)).json()) as { full_name: string }[]
      ).map((repo) => repo.full_name);
    expect(await listed(keeper)).toContain("keeper/vault");
    expect(await listed(stranger)).not.toContain("keeper/vault");
    const cloneAs = (as: string) =>
      runGit(["ls-remote", `http://x:${as}@${new URL(stand.standIn.url).host}/keeper/vault.git`]);
    await expect(cloneAs(keeper)).resolves.toMatch(/refs\/heads\/main/);
    await expect(cloneAs(stranger)).rejects.toThrow(/not found|404/i);
  });
});
