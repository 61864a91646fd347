import http from "node:http";
import type { AddressInfo } from "node:net";
import { execFile } from "node:child_process";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRepository, sampleRepository } from "../server/github-stand-in/seed.ts";
import {
  signIn,
  startTestStandIn,
  type TestStandIn,
} from "../server/github-stand-in/test-helpers.ts";
import { saveAgentState } from "./agent-state.ts";
import { credentialHelperCommand } from "./git-credential-helper.ts";
import { redactSecrets } from "./redact-secrets.ts";
import { CloneError, prepareRepository } from "./repository.ts";

// The clone through git's credential helper: git asks the agent, the agent asks the (here:
// fake) control plane, which answers with the owner's GitHub stand-in token for WHATEVER it is
// asked, so only the agent's side stands between that token and other hosts. "GitHub" is a
// recording proxy in front of the stand-in, so the test sees every Authorization header.

const run = promisify(execFile);
const agentMain = fileURLToPath(new URL("./main.ts", import.meta.url));

let stand: TestStandIn;
let githubToken: string;
let controlPlane: http.Server;
let github: http.Server;
let folder: string;
let helper: string;
let githubUrl: string;
const asked: string[] = [];
/** Authorization headers seen per listener, by path. */
const seen: string[] = [];

const listen = async (server: http.Server, host = "127.0.0.1") => {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return `http://${host}:${(server.address() as AddressInfo).port}`;
};
const close = (server: http.Server | undefined) =>
  new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));

/** A git host that wants a password: records what it is sent, answers 401. */
function startForeignHost(name: string): http.Server {
  return http.createServer((req, res) => {
    seen.push(`${name} ${req.url} ${req.headers.authorization ?? "-"}`);
    res.writeHead(401, { "www-authenticate": 'Basic realm="GitHub"' }).end();
  });
}

beforeAll(async () => {
  stand = await startTestStandIn();
  githubToken = await signIn(stand.standIn, "alice");
  await createRepository(
    path.join(stand.dataDir, "github", "repos"),
    { owner: "stand-in", name: "other" },
    { description: "Someone else's", commitSubject: "Other" },
  );
  const upstream = new URL(stand.standIn.url);
  github = http.createServer((req, res) => {
    seen.push(`github ${req.url} ${req.headers.authorization ?? "-"}`);
    const forward = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(forward);
  });
  githubUrl = await listen(github);
  controlPlane = http.createServer((req, res) => {
    asked.push(`${req.method} ${req.url} ${req.headers.authorization}`);
    const ok =
      req.url?.startsWith("/api/agent/git-credential?") &&
      req.headers.authorization === "Bearer cawa_test";
    res.statusCode = ok ? 200 : 401;
    const host = new URL(githubUrl).host;
    res.end(
      JSON.stringify(
        ok ? { protocol: "http", host, username: "alice", password: githubToken } : {},
      ),
    );
  });
  const controlPlaneUrl = await listen(controlPlane);
  folder = await mkdtemp(path.join(os.tmpdir(), "caw-agent-repo-"));
  const stateDir = path.join(folder, "state");
  await saveAgentState(stateDir, controlPlaneUrl, {
    agentToken: "cawa_test",
    workspace: {
      id: "00000000-0000-4000-8000-000000000001",
      repository: "stand-in/sample",
      branch: "main",
      idleTimeoutMinutes: 30,
      maxWorkingHours: 8,
      cloneUrl: cloneUrl(),
    },
    jwksUrl: "http://127.0.0.1/.well-known/jwks.json",
    issuer: "http://127.0.0.1",
  });
  helper = credentialHelperCommand(
    [process.execPath, "--import", import.meta.resolve("tsx"), agentMain],
    stateDir,
  );
});
afterAll(async () => {
  await Promise.all([close(controlPlane), close(github)]);
  await stand?.stop();
  await rm(folder, { recursive: true, force: true });
});

const cloneUrl = () => `${githubUrl}/${sampleRepository.owner}/${sampleRepository.name}.git`;
const environment = () => ({ PATH: process.env.PATH, HOME: folder, NODE_ENV: "test" as const });

const input = (workspaceDir: string) => ({
  workspaceDir,
  cloneUrl: cloneUrl(),
  branch: "main",
  credentialHelper: helper,
  environment: environment(),
  log: () => {},
});

/** git as a shell in the workspace runs it: no prompts, the workspace's own config. */
const gitIn = (workspaceDir: string, ...args: string[]) =>
  run("git", args, {
    cwd: workspaceDir,
    env: {
      ...environment(),
      GIT_TERMINAL_PROMPT: "0",
      GIT_AUTHOR_NAME: "T",
      GIT_AUTHOR_EMAIL: "t@example.invalid",
      GIT_COMMITTER_NAME: "T",
      GIT_COMMITTER_EMAIL: "t@example.invalid",
    },
  });

const tokenLeaks = () =>
  seen.filter((line) => {
    const header = line.split(" ").slice(2).join(" ");
    const basic = /^Basic (.+)$/.exec(header)?.[1];
    return (
      header.includes(githubToken) ||
      (basic && Buffer.from(basic, "base64").toString().includes(githubToken))
    );
  });

/** The attack: git in the workspace pointed at hosts and repositories that are not its own. */
async function tryForeignRemotes(workspaceDir: string) {
  const otherPort = startForeignHost("other-port");
  const otherHost = startForeignHost("other-host");
  try {
    const targets = [
      `${await listen(otherPort)}/x.git`,
      // All of 127.0.0.0/8 is loopback on Linux: another host, same machine.
      `${await listen(otherHost, "127.0.0.2")}/stand-in/sample.git`,
      `${githubUrl}/stand-in/other.git`,
    ];
    for (const target of targets)
      await expect(gitIn(workspaceDir, "ls-remote", target)).rejects.toThrow();
  } finally {
    await Promise.all([close(otherPort), close(otherHost)]);
  }
}

describe("prepareRepository", () => {
  it("clones into a folder that is not empty, asking the control plane for the token", async () => {
    const workspaceDir = path.join(folder, "workspace");
    await run("mkdir", ["-p", path.join(workspaceDir, "lost+found")]);
    expect(await prepareRepository(input(workspaceDir))).toBe("cloned");
    const { stdout } = await run("git", ["log", "-1", "--format=%s"], { cwd: workspaceDir });
    expect(stdout.trim()).toBe(sampleRepository.commitSubject);
    const { stdout: upstream } = await run("git", ["rev-parse", "--abbrev-ref", "@{upstream}"], {
      cwd: workspaceDir,
    });
    expect(upstream.trim()).toBe("origin/main");
    const query = new URLSearchParams({
      protocol: "http",
      host: new URL(githubUrl).host,
      path: "stand-in/sample.git",
    });
    expect(asked).toContain(`GET /api/agent/git-credential?${query} Bearer cawa_test`);
  });

  it("still pushes to its own repository", async () => {
    const workspaceDir = path.join(folder, "workspace");
    await writeFile(path.join(workspaceDir, "PUSHED.md"), "from the workspace\n");
    await gitIn(workspaceDir, "add", "PUSHED.md");
    await gitIn(workspaceDir, "-c", "commit.gpgsign=false", "commit", "-qm", "Push");
    await gitIn(workspaceDir, "push", "--quiet", "origin", "main:pushed");
    const { stdout } = await gitIn(workspaceDir, "ls-remote", "origin", "pushed");
    expect(stdout).toContain("refs/heads/pushed");
  });

  it("never sends the token to another host, port or repository", async () => {
    const workspaceDir = path.join(folder, "workspace");
    seen.length = 0;
    asked.length = 0;
    await tryForeignRemotes(workspaceDir);
    expect(seen.some((line) => line.startsWith("other-port "))).toBe(true);
    expect(seen.some((line) => line.startsWith("other-host "))).toBe(true);
    expect(seen.some((line) => line.startsWith("github /stand-in/other.git/"))).toBe(true);
    expect(tokenLeaks()).toEqual([]);
    // The helper did not even ask the control plane for anything but its own repository.
    expect(asked.filter((line) => !line.includes("path=stand-in%2Fsample.git"))).toEqual([]);
  });

  it("configures the helper for GITHUB_URL only, with the path", async () => {
    const workspaceDir = path.join(folder, "workspace");
    const helperFor = (url: string) =>
      gitIn(workspaceDir, "config", "--get-urlmatch", "credential.helper", url).then(
        (result) => result.stdout.trim(),
        () => "",
      );
    expect(await helperFor(cloneUrl())).toBe(helper);
    expect(await helperFor("http://127.0.0.1:9/x.git")).toBe("");
    expect(await helperFor("https://example.com/stand-in/sample.git")).toBe("");
    const { stdout } = await gitIn(
      workspaceDir,
      "config",
      "--get-urlmatch",
      "credential.useHttpPath",
      cloneUrl(),
    );
    expect(stdout.trim()).toBe("true");
  });

  it("keeps an existing clone as it is, moving an older agent's global helper to the scoped one", async () => {
    const workspaceDir = path.join(folder, "workspace");
    await gitIn(workspaceDir, "config", "--local", "--unset-all", `credential.${githubUrl}.helper`);
    await gitIn(workspaceDir, "config", "--local", "credential.helper", helper);
    await gitIn(workspaceDir, "config", "--local", "--add", "credential.helper", "cache");
    await writeFile(path.join(workspaceDir, "work-in-progress.txt"), "mine");
    expect(await prepareRepository(input(workspaceDir))).toBe("kept");
    const { stdout } = await run("git", ["status", "--porcelain"], { cwd: workspaceDir });
    expect(stdout).toContain("work-in-progress.txt");
    const global = await gitIn(workspaceDir, "config", "--local", "--get-all", "credential.helper");
    expect(global.stdout.trim()).toBe("cache"); // the user's own helper stays
    const scoped = await gitIn(workspaceDir, "config", "--local", `credential.${githubUrl}.helper`);
    expect(scoped.stdout.trim()).toBe(helper);
    seen.length = 0;
    await tryForeignRemotes(workspaceDir);
    expect(tokenLeaks()).toEqual([]);
  });

  it("fails clearly when the agent has no credentials to offer", async () => {
    const refused = {
      ...input(path.join(folder, "refused")),
      credentialHelper: helper.replace("state", "missing-state"),
    };
    await expect(prepareRepository(refused)).rejects.toThrow(/has not bootstrapped yet/);
  });

  it("reports git's progress lines as it clones", async () => {
    const lines: string[] = [];
    const workspaceDir = path.join(folder, "with-progress");
    expect(
      await prepareRepository({ ...input(workspaceDir), progress: (line) => lines.push(line) }),
    ).toBe("cloned");
    expect(lines.join("\n")).toMatch(/objects: 100%/);
  });

  it("fails with git's own message for a branch that is gone, leaving no half-made clone", async () => {
    const workspaceDir = path.join(folder, "gone-branch");
    const failed = prepareRepository({ ...input(workspaceDir), branch: "deleted-after-create" });
    await expect(failed).rejects.toBeInstanceOf(CloneError);
    await expect(failed).rejects.toMatchObject({
      message: expect.stringContaining("branch deleted-after-create"),
      gitOutput: expect.stringContaining(
        "couldn't find remote ref refs/heads/deleted-after-create",
      ),
    });
    // A retry (the agent's restart, or Start) clones afresh instead of keeping an empty repository.
    await expect(stat(path.join(workspaceDir, ".git"))).rejects.toMatchObject({ code: "ENOENT" });
    await expect(
      prepareRepository({ ...input(workspaceDir), branch: "deleted-after-create" }),
    ).rejects.toBeInstanceOf(CloneError);
  });

  it("fails with git's message for a repository it cannot reach", async () => {
    const unreachable = {
      ...input(path.join(folder, "unreachable")),
      cloneUrl: "http://127.0.0.1:9/x/y.git",
    };
    await expect(prepareRepository(unreachable)).rejects.toMatchObject({
      gitOutput: expect.stringMatching(/unable to access|Failed to connect|Connection refused/),
    });
  });

  it("takes tokens out of what it shows", () => {
    expect(
      redactSecrets("fatal: https://x-access-token:ghs_abc123@github.com/a/b.git gho_XyZ cawa_q-1"),
    ).toBe("fatal: https://[token]@github.com/a/b.git [token] [token]");
  });
});
