import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, copyFile, mkdtemp, rm, stat } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleRepository } from "../server/github-stand-in/seed.ts";
import {
  signIn,
  startTestStandIn,
  type TestStandIn,
} from "../server/github-stand-in/test-helpers.ts";
import { saveAgentState, stateFileOf } from "./agent-state.ts";
import { loginEnvironment } from "./config.ts";
import { createControlPlaneClient } from "./control-plane-client.ts";
import { credentialHelperCommand } from "./git-credential-helper.ts";
import { serveGitCredentials, type GitCredentialSocket } from "./git-credential-socket.ts";
import { prepareRepository } from "./repository.ts";
import { createTestUser, skipUnlessRoot, type TestUser } from "./testing/test-users.ts";
import { commandAs, type WorkspaceUser } from "./workspace-user.ts";

// The VM's arrangement (WORKSPACE_USER): the agent is root, git runs as the workspace user,
// who cannot read the agent's state, and asks the root agent over its socket. Real OS users,
// a real clone from the GitHub stand-in, a (fake) control plane on loopback.

const run = promisify(execFile);
const skip = skipUnlessRoot();
const agentMain = fileURLToPath(new URL("./main.ts", import.meta.url));
const builtAgent = fileURLToPath(
  new URL(`../dist/agent/agent-linux-${process.arch}`, import.meta.url),
);
// The workspace user runs the helper, so it must be able to read it. The built agent, copied
// into the test's own folder, works wherever the checkout is (a private folder included);
// without a build, the source runs, and the checkout must be readable by other users.
let program = [process.execPath, "--import", import.meta.resolve("tsx"), agentMain];

let stand: TestStandIn;
let controlPlane: http.Server;
let folder: string;
let user: TestUser;
let stranger: TestUser;
let socket: GitCredentialSocket;
let cloneUrl: string;
let stateDir: string;
const asked: string[] = [];

beforeAll(async () => {
  if (skip) return;
  stand = await startTestStandIn();
  const githubToken = await signIn(stand.standIn, "alice");
  cloneUrl = `${stand.standIn.url}/${sampleRepository.owner}/${sampleRepository.name}.git`;
  controlPlane = http.createServer((req, res) => {
    asked.push(`${req.url} ${req.headers.authorization}`);
    const ok = req.headers.authorization === "Bearer cawa_test";
    const host = new URL(cloneUrl).host;
    res.statusCode = ok ? 200 : 401;
    res.end(
      JSON.stringify(
        ok ? { protocol: "http", host, username: "alice", password: githubToken } : {},
      ),
    );
  });
  await new Promise<void>((resolve) => controlPlane.listen(0, "127.0.0.1", resolve));
  const controlPlaneUrl = `http://127.0.0.1:${(controlPlane.address() as AddressInfo).port}`;
  [user, stranger] = await Promise.all([createTestUser(), createTestUser()]);
  folder = await mkdtemp(path.join(os.tmpdir(), "caw-credential-socket-"));
  await chmod(folder, 0o711); // as / is: every user passes through
  if (existsSync(builtAgent)) {
    program = [path.join(folder, "agent")];
    await copyFile(builtAgent, program[0]!);
    await chmod(program[0]!, 0o755);
  }
  stateDir = path.join(folder, "state");
  await saveAgentState(stateDir, controlPlaneUrl, {
    agentToken: "cawa_test",
    workspace: {
      id: "00000000-0000-4000-8000-000000000002",
      repository: "stand-in/sample",
      branch: "main",
      idleTimeoutMinutes: 30,
      maxWorkingHours: 8,
      cloneUrl,
    },
    jwksUrl: "http://127.0.0.1/.well-known/jwks.json",
    issuer: "http://127.0.0.1",
  });
  const client = createControlPlaneClient(controlPlaneUrl, { attempts: 1 });
  client.useAgentToken("cawa_test");
  socket = await serveGitCredentials({
    runtimeDir: path.join(folder, "run"),
    gid: user.gid,
    cloneUrl,
    ask: client.gitCredential,
    log: () => {},
  });
}, 60_000);
afterAll(async () => {
  await socket?.close();
  await new Promise((resolve) => (controlPlane ? controlPlane.close(resolve) : resolve(null)));
  await stand?.stop();
  await Promise.all([user?.remove(), stranger?.remove()]);
  if (folder) await rm(folder, { recursive: true, force: true });
});

/** The helper as git would run it, as `who`, with git's request on stdin. */
function askHelper(who: WorkspaceUser, source: string, repositoryPath: string) {
  const request = `protocol=http\nhost=${new URL(cloneUrl).host}\npath=${repositoryPath}\n\n`;
  const command = commandAs(who, program[0]!, [
    ...program.slice(1),
    "git-credential",
    source,
    "get",
  ]);
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(command.file, command.args, {
      cwd: "/",
      env: loginEnvironment(process.env, who, { loginPath: true }) as NodeJS.ProcessEnv,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(request);
  });
}

const sampleOwnPath = `${sampleRepository.owner}/${sampleRepository.name}.git`;

describe.skipIf(skip)("git credentials for the workspace user", () => {
  it("clones as the workspace user through the root agent's socket; every file is theirs", async () => {
    const workspaceDir = path.join(folder, "workspace");
    const result = await prepareRepository({
      workspaceDir,
      cloneUrl,
      branch: "main",
      credentialHelper: credentialHelperCommand(program, socket.socketPath),
      environment: loginEnvironment(process.env, user, { loginPath: true }) as NodeJS.ProcessEnv,
      user,
      log: () => {},
    });
    expect(result).toBe("cloned");
    const { stdout: notTheirs } = await run("find", [
      workspaceDir,
      "-not",
      "-user",
      String(user.uid),
    ]);
    expect(notTheirs).toBe("");
    const { stdout: readme } = await run("git", ["-C", workspaceDir, "log", "-1", "--format=%s"], {
      env: {
        ...process.env,
        GIT_CONFIG_COUNT: "1",
        GIT_CONFIG_KEY_0: "safe.directory",
        GIT_CONFIG_VALUE_0: "*",
      },
    });
    expect(readme.trim()).toBe(sampleRepository.commitSubject);
    expect(
      asked.some(
        (line) => line.includes("path=stand-in%2Fsample.git") && line.endsWith("Bearer cawa_test"),
      ),
    ).toBe(true);
  });

  it("keeps the socket to root and the user's group, and the agent token to root", async () => {
    const folderInfo = await stat(path.dirname(socket.socketPath));
    expect([folderInfo.uid, folderInfo.gid, folderInfo.mode & 0o777]).toEqual([0, user.gid, 0o750]);
    const socketInfo = await stat(socket.socketPath);
    expect([socketInfo.isSocket(), socketInfo.gid, socketInfo.mode & 0o777]).toEqual([
      true,
      user.gid,
      0o660,
    ]);
    for (const who of [user, stranger]) {
      const read = commandAs(who, "cat", [stateFileOf(stateDir)]);
      await expect(run(read.file, read.args)).rejects.toThrow(/Permission denied/);
    }
  });

  it("answers the workspace user, and no other user", async () => {
    const own = await askHelper(user, socket.socketPath, sampleOwnPath);
    expect(own.stdout).toMatch(/^protocol=http\nhost=.+\nusername=alice\npassword=.+\n/);
    const other = await askHelper(stranger, socket.socketPath, sampleOwnPath);
    expect(other.code).not.toBe(0);
    expect(other.stdout).toBe("");
    expect(other.stderr).toContain(
      "permission denied; only the workspace user gets git credentials",
    );
  });

  it("refuses another repository without asking the control plane", async () => {
    asked.length = 0;
    const answer = await askHelper(user, socket.socketPath, "stand-in/other.git");
    expect(answer.stdout).toBe("");
    expect(answer.stderr).toContain("only given for this workspace's repository");
    expect(asked).toEqual([]);
  });
});
