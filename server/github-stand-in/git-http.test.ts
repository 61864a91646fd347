import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCgiHeaders } from "./git-http.ts";
import { sampleRepository } from "./seed.ts";
import {
  cloneUrl,
  getApi,
  runClientGit,
  signIn,
  startTestStandIn,
  type TestStandIn,
} from "./test-helpers.ts";

let stand: TestStandIn;
let token: string;
let workDir: string;
beforeAll(async () => {
  stand = await startTestStandIn();
  token = await signIn(stand.standIn, "pusher");
  workDir = await mkdtemp(path.join(os.tmpdir(), "github-stand-in-clones-"));
});
afterAll(async () => {
  await stand.stop();
  await rm(workDir, { recursive: true, force: true });
});

describe("git over HTTP", () => {
  it("clones the sample repository with a token", async () => {
    const clone = path.join(workDir, "with-token");
    await runClientGit(["clone", "--quiet", cloneUrl(stand.standIn, token), clone]);
    expect((await runClientGit(["log", "-1", "--format=%s"], clone)).trim()).toBe(
      sampleRepository.commitSubject,
    );
    expect(await readFile(path.join(clone, "README.md"), "utf8")).toContain("# Sample project");
  });

  it("refuses a clone without a token, or with a wrong one", async () => {
    await expect(
      runClientGit(["clone", "--quiet", cloneUrl(stand.standIn), path.join(workDir, "anonymous")]),
    ).rejects.toThrow(/Authentication failed|could not read Username/);
    await expect(
      runClientGit([
        "clone",
        "--quiet",
        cloneUrl(stand.standIn, "gho_wrong"),
        path.join(workDir, "wrong"),
      ]),
    ).rejects.toThrow(/Authentication failed/);
    const response = await fetch(
      `${stand.standIn.url}/stand-in/sample.git/info/refs?service=git-upload-pack`,
    );
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Basic realm="GitHub"');
  });

  it("pushes a new commit and a new branch with a token", async () => {
    const clone = path.join(workDir, "push");
    await runClientGit(["clone", "--quiet", cloneUrl(stand.standIn, token), clone]);
    await writeFile(path.join(clone, "NOTES.md"), "pushed through the stand-in\n");
    await runClientGit(["add", "NOTES.md"], clone);
    await runClientGit(
      ["-c", "commit.gpgsign=false", "commit", "--quiet", "-m", "Add notes"],
      clone,
    );
    await runClientGit(["push", "--quiet", "origin", "main", "main:feature"], clone);
    const head = (await runClientGit(["rev-parse", "HEAD"], clone)).trim();

    const { owner, name } = sampleRepository;
    const response = await getApi(stand.standIn, `/repos/${owner}/${name}/branches`, token);
    const branches = (await response.json()) as { name: string; commit: { sha: string } }[];
    expect(branches.map((branch) => [branch.name, branch.commit.sha])).toEqual([
      ["feature", head],
      ["main", head],
    ]);
  });

  it("answers 404 for unknown repositories and names that try to leave the repository folder", async () => {
    const basic = `Basic ${Buffer.from(`x-access-token:${token}`).toString("base64")}`;
    for (const repoPath of [
      "/stand-in/missing.git",
      "/..%2Fgithub/repos.git",
      "/stand-in/...git",
    ]) {
      const response = await fetch(
        `${stand.standIn.url}${repoPath}/info/refs?service=git-upload-pack`,
        { headers: { authorization: basic } },
      );
      expect(response.status, repoPath).toBe(404);
    }
  });
});

describe("parseCgiHeaders", () => {
  it("reads the optional Status line and passes other headers on", () => {
    expect(parseCgiHeaders("Status: 403 Forbidden\r\nContent-Type: text/plain")).toEqual({
      status: 403,
      headers: [["Content-Type", "text/plain"]],
    });
    expect(parseCgiHeaders("Expires: Fri, 01 Jan 1980 00:00:00 GMT").status).toBe(200);
  });
});
