import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chooseShell } from "./devcontainer.ts";

// A stand-in `devcontainer` CLI (a real executable on PATH that records how it was called):
// the real one needs Docker, which test machines do not have.

let folder: string;
let bin: string;
beforeAll(async () => {
  folder = await mkdtemp(path.join(os.tmpdir(), "caw-devcontainer-"));
  bin = path.join(folder, "bin");
  await mkdir(bin);
});
afterAll(() => rm(folder, { recursive: true, force: true }));

async function workspaceWith(devcontainer: boolean) {
  const workspaceDir = await mkdtemp(path.join(folder, "workspace-"));
  if (devcontainer) {
    await mkdir(path.join(workspaceDir, ".devcontainer"));
    await writeFile(path.join(workspaceDir, ".devcontainer", "devcontainer.json"), "{}");
  }
  return workspaceDir;
}

async function installCli(exitCode: number) {
  const cli = path.join(bin, "devcontainer");
  await writeFile(cli, `#!/bin/sh\necho "$@" >> "${folder}/calls"\nexit ${exitCode}\n`);
  await chmod(cli, 0o755);
  return cli;
}

const log = () => {};

describe("chooseShell", () => {
  it("opens a login shell in the workspace without a devcontainer", async () => {
    const workspaceDir = await workspaceWith(false);
    const choice = await chooseShell({ workspaceDir, environment: { PATH: bin }, log });
    expect(choice).toMatchObject({
      devcontainer: false,
      shell: { file: "/bin/bash", args: ["-l"], cwd: workspaceDir },
    });
  });

  it("runs devcontainer up and opens terminals with devcontainer exec", async () => {
    const cli = await installCli(0);
    const workspaceDir = await workspaceWith(true);
    const choice = await chooseShell({ workspaceDir, environment: { PATH: bin }, log });
    expect(choice).toMatchObject({
      devcontainer: true,
      shell: { file: cli, args: ["exec", "--workspace-folder", workspaceDir, "bash", "-l"] },
    });
    expect(await readFile(path.join(folder, "calls"), "utf8")).toContain(
      `up --workspace-folder ${workspaceDir}`,
    );
  });

  it("falls back to the VM's shell when devcontainer up fails or the CLI is missing", async () => {
    await installCli(1);
    const workspaceDir = await workspaceWith(true);
    const lines: string[] = [];
    const failed = await chooseShell({
      workspaceDir,
      environment: { PATH: bin },
      log: (line) => void lines.push(line),
    });
    expect(failed.devcontainer).toBe(false);
    expect(lines.at(-1)).toContain("devcontainer up failed");
    const missing = await chooseShell({ workspaceDir, environment: { PATH: "/nonexistent" }, log });
    expect(missing.devcontainer).toBe(false);
  });
});
