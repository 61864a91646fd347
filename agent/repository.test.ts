import http from "node:http";
import type { AddressInfo } from "node:net";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleRepository } from "../server/github-stand-in/seed.ts";
import {
  signIn,
  startTestStandIn,
  type TestStandIn,
} from "../server/github-stand-in/test-helpers.ts";
import { saveAgentState } from "./agent-state.ts";
import { credentialHelperCommand } from "./git-credential-helper.ts";
import { prepareRepository } from "./repository.ts";

// The clone through git's credential helper: git asks the agent, the agent asks the
// (here: fake) control plane, which answers with the GitHub stand-in token of the owner.

const run = promisify(execFile);
const agentMain = fileURLToPath(new URL("./main.ts", import.meta.url));

let stand: TestStandIn;
let controlPlane: http.Server;
let folder: string;
let helper: string;
const asked: string[] = [];

beforeAll(async () => {
  stand = await startTestStandIn();
  const githubToken = await signIn(stand.standIn, "alice");
  controlPlane = http.createServer((req, res) => {
    asked.push(`${req.method} ${req.url} ${req.headers.authorization}`);
    const ok =
      req.url === "/api/agent/git-credential" && req.headers.authorization === "Bearer cawa_test";
    res.statusCode = ok ? 200 : 401;
    res.end(
      JSON.stringify(
        ok
          ? {
              protocol: "http",
              host: new URL(stand.standIn.url).host,
              username: "alice",
              password: githubToken,
            }
          : {},
      ),
    );
  });
  await new Promise<void>((resolve) => controlPlane.listen(0, "127.0.0.1", resolve));
  folder = await mkdtemp(path.join(os.tmpdir(), "caw-agent-repo-"));
  const stateDir = path.join(folder, "state");
  await saveAgentState(
    stateDir,
    `http://127.0.0.1:${(controlPlane.address() as AddressInfo).port}`,
    {
      agentToken: "cawa_test",
      workspace: {
        id: "00000000-0000-4000-8000-000000000001",
        repository: "stand-in/sample",
        branch: "main",
        idleTimeoutMinutes: 30,
        cloneUrl: `${stand.standIn.url}/${sampleRepository.owner}/${sampleRepository.name}.git`,
      },
      jwksUrl: "http://127.0.0.1/.well-known/jwks.json",
      issuer: "http://127.0.0.1",
    },
  );
  helper = credentialHelperCommand(
    [process.execPath, "--import", import.meta.resolve("tsx"), agentMain],
    stateDir,
  );
});
afterAll(async () => {
  await new Promise((resolve) => controlPlane?.close(resolve));
  await stand?.stop();
  await rm(folder, { recursive: true, force: true });
});

const input = (workspaceDir: string) => ({
  workspaceDir,
  cloneUrl: `${stand.standIn.url}/${sampleRepository.owner}/${sampleRepository.name}.git`,
  branch: "main",
  credentialHelper: helper,
  environment: { PATH: process.env.PATH, HOME: folder, NODE_ENV: "test" as const },
  log: () => {},
});

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
    expect(asked.some((line) => line === "GET /api/agent/git-credential Bearer cawa_test")).toBe(
      true,
    );
  });

  it("keeps an existing clone exactly as it is", async () => {
    const workspaceDir = path.join(folder, "workspace");
    await writeFile(path.join(workspaceDir, "work-in-progress.txt"), "mine");
    expect(await prepareRepository(input(workspaceDir))).toBe("kept");
    const { stdout } = await run("git", ["status", "--porcelain"], { cwd: workspaceDir });
    expect(stdout).toContain("work-in-progress.txt");
  });

  it("fails clearly when the agent has no credentials to offer", async () => {
    const refused = {
      ...input(path.join(folder, "refused")),
      credentialHelper: helper.replace("state", "missing-state"),
    };
    await expect(prepareRepository(refused)).rejects.toThrow(/has not bootstrapped yet/);
  });
});
