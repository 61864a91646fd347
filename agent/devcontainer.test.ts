import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginEnvironment } from "./config.ts";
import { createWorkspaceShells, shellNotices, type WorkspaceShellsInput } from "./devcontainer.ts";
import { spawnTerminalSession } from "./terminal/terminal-session.ts";
import { recordConsumer, waitUntil } from "./terminal/test-support.ts";
import {
  createTestGroup,
  createTestUser,
  skipUnlessRoot,
  type TestUser,
} from "./testing/test-users.ts";

// A stand-in `devcontainer` CLI (a real executable on PATH that records who called it and how):
// the real one needs a Docker engine, which test machines do not have. The real-OS boot test
// runs the real CLI.

let folder: string;
let bin: string;
let calls: string;
beforeAll(async () => {
  folder = await mkdtemp(path.join(os.tmpdir(), "caw-devcontainer-"));
  await chmod(folder, 0o711); // the workspace user passes through, as through /
  bin = path.join(folder, "bin");
  await mkdir(bin, { mode: 0o755 });
  calls = path.join(folder, "calls");
  await writeFile(calls, "");
  await chmod(calls, 0o666);
});
afterAll(() => rm(folder, { recursive: true, force: true }));

async function workspaceWith(devcontainer: boolean) {
  const workspaceDir = await mkdtemp(path.join(folder, "workspace-"));
  await chmod(workspaceDir, 0o777);
  if (devcontainer) {
    await mkdir(path.join(workspaceDir, ".devcontainer"));
    await writeFile(path.join(workspaceDir, ".devcontainer", "devcontainer.json"), "{}");
  }
  return workspaceDir;
}

/** The stand-in CLI: `up` exits with `upExitCode`; each call is a line in `calls`. */
async function installCli(upExitCode: number) {
  const cli = path.join(bin, "devcontainer");
  const record = `echo "$(id -un) [$(id -Gn)] $*" >> "${calls}"`;
  const outcome = upExitCode
    ? `echo "building with ghs_secret123" >&2\necho '{"outcome":"error","message":"no Docker here"}'`
    : "";
  // Renamed into place, as the toolchain's link appears at once.
  await writeFile(`${cli}.new`, `#!/bin/sh\n${record}\n${outcome}\nexit ${upExitCode}\n`);
  await chmod(`${cli}.new`, 0o755);
  await rename(`${cli}.new`, cli);
  return cli;
}
const readCalls = async () => (await readFile(calls, "utf8")).split("\n").filter(Boolean);

const lines: string[] = [];
const shellsFor = (workspaceDir: string, overrides: Partial<WorkspaceShellsInput> = {}) =>
  createWorkspaceShells({
    workspaceDir,
    environment: { PATH: `${bin}:/usr/bin:/bin` },
    user: null,
    waitForToolchain: false,
    log: (line) => void lines.push(line),
    pollMs: 10,
    retryDelaysMs: [1],
    ...overrides,
  });

describe("createWorkspaceShells", () => {
  it("opens a login shell in the workspace without a devcontainer", async () => {
    await rm(path.join(bin, "devcontainer"), { force: true });
    const workspaceDir = await workspaceWith(false);
    const shells = shellsFor(workspaceDir);
    await shells.start();
    expect(shells.current()).toMatchObject({
      notice: null,
      devcontainer: false,
      shell: { file: "/bin/bash", args: ["-l"], cwd: workspaceDir },
    });
  });

  it("runs devcontainer up with the mounts and then opens terminals with devcontainer exec", async () => {
    const cli = await installCli(0);
    const workspaceDir = await workspaceWith(true);
    const shells = shellsFor(workspaceDir, { mounts: ["/run/caw-agent"] });
    await shells.start();
    expect(shells.current()).toMatchObject({
      notice: null,
      devcontainer: true,
      shell: { file: cli, args: ["exec", "--workspace-folder", workspaceDir, "bash", "-l"] },
    });
    expect((await readCalls()).at(-1)).toContain(
      `up --workspace-folder ${workspaceDir} --mount type=bind,source=/run/caw-agent,target=/run/caw-agent`,
    );
  });

  it("retries a failed devcontainer up, then stays on the server with a notice", async () => {
    await installCli(1);
    const workspaceDir = await workspaceWith(true);
    const before = (await readCalls()).length;
    const reported: string[] = [];
    const shells = shellsFor(workspaceDir, {
      report: (status, message, logTail) =>
        void reported.push(`${status}: ${message}${logTail ? ` | ${logTail}` : ""}`),
    });
    await shells.start();
    expect(shells.current()).toMatchObject({ notice: shellNotices.failed, devcontainer: false });
    expect(reported).toEqual([
      "started: devcontainer up",
      // The CLI's own output goes to the job log, tokens taken out.
      'failed: devcontainer up failed: {"outcome":"error","message":"no Docker here"} | building with [token]\n{"outcome":"error","message":"no Docker here"}',
    ]);
    expect((await readCalls()).length - before).toBe(2);
    expect(lines.at(-1)).toContain(
      'devcontainer up failed: {"outcome":"error","message":"no Docker here"}',
    );
  });

  it("waits for the toolchain's CLI on a VM, on the server with a notice meanwhile", async () => {
    await rm(path.join(bin, "devcontainer"), { force: true });
    const workspaceDir = await workspaceWith(true);
    const shells = shellsFor(workspaceDir, { waitForToolchain: true });
    const started = shells.start();
    await waitUntil("the waiting notice", () => shells.current().notice === shellNotices.waiting);
    expect(shells.current().shell.file).toBe("/bin/bash");
    await installCli(0);
    await started;
    expect(shells.current().devcontainer).toBe(true);
  });

  it("says the CLI is missing where no toolchain is coming (the one-machine mode)", async () => {
    await rm(path.join(bin, "devcontainer"), { force: true });
    const shells = shellsFor(await workspaceWith(true));
    await shells.start();
    expect(shells.current()).toMatchObject({ notice: shellNotices.missing, devcontainer: false });
  });
});

const skip = skipUnlessRoot();

describe.skipIf(skip)("terminals of the workspace user", () => {
  let user: TestUser;
  let group: { name: string; remove(): Promise<void> };
  beforeAll(async () => {
    group = await createTestGroup(); // plays `docker`
    user = await createTestUser({ groups: [group.name] });
  });
  afterAll(async () => {
    await user?.remove();
    await group?.remove();
  });

  // What the agent's own environment holds on a VM (systemd loads the env file).
  const agentEnvironment = {
    PATH: "/usr/sbin:/usr/bin:/root/bin",
    HOME: "/root",
    USER: "root",
    BOOTSTRAP_TOKEN: "cawb_secret",
    AGENT_SHA256: "ab".repeat(32),
    VOLUME_ID: "42",
    CONTROL_PLANE_URL: "https://cp.example",
    WORKSPACE_USER: "workspace",
    INVOCATION_ID: "systemd",
  };

  it("run as that user with a clean login environment and a notice while the container is not up", async () => {
    const workspaceDir = await workspaceWith(true);
    const environment = loginEnvironment(agentEnvironment, user, { loginPath: true });
    const shells = shellsFor(workspaceDir, { user, environment, waitForToolchain: true });
    void shells.start();
    await waitUntil("the waiting notice", () => shells.current().notice === shellNotices.waiting);
    // The plain PTY path (no tmux yet); the tmux path runs the same launcher as the same user.
    const { shell, notice } = shells.current();
    let exited = false;
    const session = spawnTerminalSession({
      shell,
      notice,
      cols: 200,
      rows: 50,
      scrollbackBytes: 256 * 1024,
      exitQuietMs: 25,
      livenessPollMs: 25,
      onInput: () => {},
      onExit: () => void (exited = true),
    });
    const record = recordConsumer();
    session.attach(record.consumer);
    session.write("echo \"who=$(id -un):$(id -u) groups=$(id -Gn)\"; env | sort; echo do''ne\r");
    await waitUntil("the output", () => record.text().includes("done"));
    shells.stop();
    session.kill("SIGKILL");
    await waitUntil("the shell's end", () => exited);
    const output = record.text();
    expect(record.notices).toEqual([shellNotices.waiting]);
    expect(output).toContain(
      `who=${user.username}:${user.uid} groups=${user.username} ${group.name}`,
    );
    for (const line of [
      `HOME=${user.homedir}`,
      `USER=${user.username}`,
      `LOGNAME=${user.username}`,
      "SHELL=/bin/bash",
      "TERM=xterm-256color",
    ])
      expect(output).toContain(line);
    expect(output).toMatch(/PATH=[^\r\n]*\/usr\/local\/bin/);
    for (const name of [
      "BOOTSTRAP_TOKEN",
      "AGENT_SHA256",
      "VOLUME_ID",
      "CONTROL_PLANE_URL",
      "WORKSPACE_USER",
      "INVOCATION_ID",
    ])
      expect(output).not.toContain(`${name}=`);
    expect(output).not.toContain("/root");
  });

  it("start the devcontainer as that user, in its groups", async () => {
    await installCli(0);
    const workspaceDir = await workspaceWith(true);
    const environment = loginEnvironment({ PATH: `${bin}:/usr/bin:/bin` }, user);
    const shells = shellsFor(workspaceDir, { user, environment });
    await shells.start();
    expect((await readCalls()).at(-1)).toBe(
      `${user.username} [${user.username} ${group.name}] up --workspace-folder ${workspaceDir}`,
    );
    expect(shells.current().shell.args).toEqual([
      ...["--reuid", String(user.uid), "--regid", String(user.gid), "--init-groups", "--"],
      ...[path.join(bin, "devcontainer"), "exec", "--workspace-folder", workspaceDir, "bash", "-l"],
    ]);
  });
});
