import { readFile, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runGit } from "./run-git.ts";
import { sampleRepository } from "./seed.ts";
import {
  authorize,
  exchangeCode,
  getApi,
  signIn,
  startTestStandIn,
  type TestStandIn,
} from "./test-helpers.ts";

let stand: TestStandIn;
beforeAll(async () => {
  stand = await startTestStandIn();
});
afterAll(() => stand.stop());

const stateFile = () => path.join(stand.dataDir, "github", "stand-in.json");

describe("startGitHubStandIn", () => {
  it("listens on loopback and lays the API out like GitHub Enterprise Server", () => {
    expect(stand.standIn.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stand.standIn.apiUrl).toBe(`${stand.standIn.url}/api/v3`);
    expect(stand.standIn.clientId).toMatch(/^Iv1\.[0-9a-f]{16}$/);
    expect(stand.standIn.clientSecret).toMatch(/^[0-9a-f]{40}$/);
  });

  it("warns that it is not real GitHub, naming its URL", () => {
    const warning = stand
      .logs()
      .split("\n")
      .find((line) => line.includes('"level":40'));
    expect(warning).toContain("development GitHub stand-in");
    expect(warning).toContain("NOT real GitHub");
    expect(warning).toContain(stand.standIn.url);
  });

  it("seeds one bare sample repository with a single commit on main", async () => {
    const gitDir = path.join(stand.dataDir, "github", "repos", "stand-in", "sample.git");
    const git = (args: string[]) => runGit([`--git-dir=${gitDir}`, ...args]);
    expect((await git(["rev-parse", "--is-bare-repository"])).trim()).toBe("true");
    expect((await git(["symbolic-ref", "HEAD"])).trim()).toBe("refs/heads/main");
    expect((await git(["log", "--format=%s|%an <%ae>", "main"])).trim()).toBe(
      `${sampleRepository.commitSubject}|Stand-in <stand-in@example.invalid>`,
    );
    expect(await git(["show", "main:README.md"])).toMatch(/^# Sample project\n\n\S/);
    expect((await git(["config", "http.receivepack"])).trim()).toBe("true");
    expect(await readdir(path.join(stand.dataDir, "github", "repos", "stand-in"))).toEqual([
      "sample.git",
    ]);
  });

  it("answers unknown paths with GitHub's 404 JSON", async () => {
    const response = await fetch(`${stand.standIn.url}/no/such/page`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      message: "Not Found",
      documentation_url: "https://docs.github.com/rest",
    });
  });

  it("keeps its client and issued tokens across a restart, storing only token hashes", async () => {
    const token = await signIn(stand.standIn, "keeper");
    const { clientId, clientSecret } = stand.standIn;
    const readHead = async () => {
      const response = await getApi(stand.standIn, "/repos/stand-in/sample/branches", token);
      return ((await response.json()) as { commit: { sha: string } }[]).map((b) => b.commit.sha);
    };
    const headBefore = await readHead();
    await stand.restart();

    expect(stand.standIn.clientId).toBe(clientId);
    expect(stand.standIn.clientSecret).toBe(clientSecret);
    const user = await getApi(stand.standIn, "/user", token);
    expect(await user.json()).toMatchObject({ login: "keeper", id: 1001 });
    // Not seeded again: the repository is the one from the first start.
    expect(await readHead()).toEqual(headBefore);

    expect((await stat(stateFile())).mode & 0o777).toBe(0o600);
    const text = await readFile(stateFile(), "utf8");
    expect(text).not.toContain(token);
    expect(text).not.toContain(token.slice(4));
    expect(JSON.parse(text)).toMatchObject({
      client: { id: clientId },
      users: { keeper: { id: 1001 } },
    });
  });

  it("never logs tokens, codes, client secrets or query strings", async () => {
    const code = await authorize(stand.standIn, { login: "quiet" });
    const { access_token: token = "" } = await exchangeCode(stand.standIn, { code });
    expect(token).toMatch(/^gho_/);
    await fetch(`${stand.standIn.url}/login/oauth/authorize?client_id=x&state=visible-state`);
    const logs = stand.logs();
    expect(logs).toContain('"path":"/login/oauth/access_token"');
    expect(logs).not.toContain(code);
    expect(logs).not.toContain(token);
    expect(logs).not.toContain(stand.standIn.clientSecret);
    expect(logs).not.toContain("visible-state");
    expect(logs).not.toMatch(/gho_/);
  });
});
